"""``faxout sim send`` and ``faxout sim --help``."""

from __future__ import annotations

import json
from pathlib import Path

import click
from click.testing import CliRunner

from faxout.transmit.cli import sim
from tests.transmit.pages import ITU_CHARTS, assert_same_pages


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(sim, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_sim_is_a_click_group_with_the_behaviour_table_in_its_help() -> None:
    assert isinstance(sim, click.Group)
    code, out, _ = _run("--help")
    assert code == 0
    for line in ("+15557770001   busy", "+15557770005   slow-modem", "reject-after:N"):
        assert line in out
    assert "every other number answers normally" in out


def test_send_prints_progress_and_where_the_fax_went(two_pages: Path, tmp_path: Path) -> None:
    code, out, err = _run(
        "send", str(two_pages), "--to", "+49 30 1234", "--data-dir", str(tmp_path)
    )
    assert code == 0, out + err
    assert "page 1/2: MCF (14400 bit/s)" in err
    assert "page 2/2: MCF" in err
    assert "outcome:    ok (success)" in out
    assert "link:       V.17 14400 bit/s, ECM on, MMR" in out
    stored = Path(out.split("received:   ")[1].strip())
    assert stored.parent == tmp_path / "received"
    assert_same_pages(two_pages, stored)


def test_send_json_over_t38_with_options(two_pages: Path, tmp_path: Path) -> None:
    code, out, _ = _run(
        "send",
        str(two_pages),
        "--to",
        "+4930",
        "--modem",
        "v29",
        "--no-ecm",
        "--t38",
        "--compression",
        "mh",
        "--json",
        "--data-dir",
        str(tmp_path),
    )
    assert code == 0
    data = json.loads(out)
    assert data["outcome"] == "ok" and data["success"] is True
    assert (data["modem"], data["bit_rate"], data["ecm"], data["compression"]) == (
        "V.29",
        9600,
        False,
        "mh",
    )
    assert_same_pages(two_pages, Path(data["received_path"]))


def test_unsuccessful_outcome_exits_1(two_pages: Path, tmp_path: Path) -> None:
    code, out, _ = _run(
        "send", str(two_pages), "--to", "+1 555 777 0001", "--json", "--data-dir", str(tmp_path)
    )
    assert code == 1
    data = json.loads(out)
    assert (data["outcome"], data["t30_code"], data["received_path"]) == ("busy", None, None)


def test_behaviour_override(two_pages: Path, tmp_path: Path) -> None:
    code, out, _ = _run(
        "send",
        str(two_pages),
        "--to",
        "+4930 99",
        "--behaviour",
        "+4930*=voice",
        "--json",
        "--data-dir",
        str(tmp_path),
    )
    assert code == 1
    assert json.loads(out)["outcome"] == "not_fax"
    code, _, err = _run(
        "send",
        str(two_pages),
        "--to",
        "+4930",
        "--behaviour",
        "+4930=explode",
        "--data-dir",
        str(tmp_path),
    )
    assert code == 2 and "unknown far-end behaviour" in err


def test_data_dir_from_environment(two_pages: Path, tmp_path: Path) -> None:
    result = CliRunner(env={"FAXOUT_DATA_DIR": str(tmp_path / "env")}).invoke(
        sim, ["send", str(two_pages), "--to", "+4930", "--json"]
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["received_path"].startswith(str(tmp_path / "env"))


def test_refused_document_is_reported_not_raised(tmp_path: Path) -> None:
    doc = tmp_path / "page.tif"
    from PIL import Image

    Image.new("L", (1728, 50)).save(doc, dpi=(204, 196))
    code, out, _ = _run("send", str(doc), "--to", "+4930", "--data-dir", str(tmp_path))
    assert code == 1
    assert "document refused: page 1 has 8 bits per sample" in out


def test_data_dir_comes_from_the_main_cli_settings(two_pages: Path, tmp_path: Path) -> None:
    class Settings:
        data_dir = tmp_path / "from-settings"

    class Obj:
        def settings(self) -> Settings:
            return Settings()

    @click.group()
    @click.pass_context
    def main(ctx: click.Context) -> None:
        ctx.obj = Obj()

    main.add_command(sim)
    runner = CliRunner(env={"FAXOUT_DATA_DIR": str(tmp_path / "env")})
    result = runner.invoke(main, ["sim", "send", str(two_pages), "--to", "+4930", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["received_path"].startswith(str(tmp_path / "from-settings"))
    explicit = tmp_path / "explicit"
    result = runner.invoke(
        main,
        ["sim", "send", str(two_pages), "--to", "+4930", "--json", "--data-dir", str(explicit)],
    )
    assert json.loads(result.stdout)["received_path"].startswith(str(explicit))


def test_send_an_itu_chart_over_t38(tmp_path: Path) -> None:
    chart = ITU_CHARTS[3]  # dense French text
    code, out, err = _run("send", str(chart), "--to", "+4930", "--t38", "--data-dir", str(tmp_path))
    assert code == 0, out + err
    stored = Path(out.split("received:   ")[1].strip())
    assert_same_pages(chart, stored)
