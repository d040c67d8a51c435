"""`faxout render` and `faxout coverpage` as a user runs them."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from tests.server import run_cli

DATA = Path(__file__).parent / "data"


def test_render_with_cover_and_png(tmp_path: Path) -> None:
    pdf = sorted(DATA.glob("*.pdf"))[0]
    out = tmp_path / "fax.tif"
    res = run_cli(
        tmp_path,
        "render",
        str(pdf),
        "-o",
        str(out),
        "--resolution",
        "low",
        "--cover",
        "default",
        "--to",
        "+1 650 555 0100",
        "--png",
        str(tmp_path / "png"),
    )
    assert res.returncode == 0, res.stderr
    with Image.open(out) as img:
        frames = img.n_frames
        assert img.size[0] == 1728 and round(float(img.info["dpi"][1])) == 98
    assert f"{frames} page(s)" in res.stdout
    assert len(list((tmp_path / "png").glob("*.png"))) == frames


def test_render_refusal_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "tool.bin"
    bad.write_bytes(b"\x7fELF" + bytes(200))
    res = run_cli(tmp_path, "render", str(bad), "-o", str(tmp_path / "x.tif"))
    assert res.returncode == 1
    assert "tool.bin" in res.stderr and "unsupported" in res.stderr
    assert not (tmp_path / "x.tif").exists()


def test_unknown_cover_is_named(tmp_path: Path) -> None:
    txt = tmp_path / "a.txt"
    txt.write_text("hello")
    res = run_cli(tmp_path, "render", str(txt), "-o", str(tmp_path / "x.tif"), "--cover", "Nope")
    assert res.returncode == 1 and "Nope" in res.stderr and "Default" in res.stderr


def test_coverpage_list_and_preview(tmp_path: Path) -> None:
    covers = tmp_path / "coverpages"
    covers.mkdir()
    (covers / "Letterhead.html").write_text("<h1>{{ recipient_name }}</h1><p>{{ text }}</p>")
    listed = run_cli(tmp_path, "coverpage", "list", FAXOUT_COVERPAGES_DIR=str(covers))
    assert listed.stdout.split() == ["Default", "Letterhead", "Modern"]
    png = tmp_path / "p.png"
    res = run_cli(
        tmp_path,
        "coverpage",
        "preview",
        "Letterhead",
        "-o",
        str(png),
        FAXOUT_COVERPAGES_DIR=str(covers),
    )
    assert res.returncode == 0, res.stderr
    with Image.open(png) as img:
        assert img.size[0] >= 800
