"""``faxout render`` and ``faxout coverpage``: the renderer from the command line."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import click

from faxout.errors import RenderError
from faxout.render.cover import CoverSheet, cover_names, preview_cover_png, render_cover
from faxout.render.document import render_submission
from faxout.render.options import Halftone, Paper, RenderOptions, Resolution


def _png_pages(tif: Path, folder: Path) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    with Image.open(tif) as img:
        for i in range(getattr(img, "n_frames", 1)):
            img.seek(i)
            page = img.convert("L")
            # Fax pixels are not square at 204x98: stretch so the preview looks like paper.
            xdpi, ydpi = (float(v) for v in img.info.get("dpi", (204, 196)))
            if ydpi and xdpi and abs(xdpi - ydpi) > 1:
                page = page.resize((page.width, round(page.height * xdpi / ydpi)))
            path = folder / f"{tif.stem}-{i + 1:03d}.png"
            page.save(path)
            out.append(path)
    return out


@click.command("render")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The TIFF-F file to write.",
)
@click.option("--resolution", type=click.Choice(["low", "high"]), default="high", show_default=True)
@click.option(
    "--paper", type=click.Choice([p.value for p in Paper]), default="a4", show_default=True
)
@click.option("--cover", "cover", help="Put this cover page first (see `faxout coverpage list`).")
@click.option("--cover-text", default="", help="Text for the cover page.")
@click.option("--to", "to", default="", help="Recipient for the cover page: NUMBER or NAME.")
@click.option("--photo", is_flag=True, help="Error diffusion for photos (larger, slower to send).")
@click.option(
    "--png",
    "png_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write each page as a PNG here, to look at.",
)
@click.option(
    "--coverpages-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Operator cover pages (default: DATA_DIR/coverpages).",
)
@click.pass_context
def render_command(
    ctx: click.Context,
    files: tuple[Path, ...],
    output: Path,
    resolution: str,
    paper: str,
    cover: str | None,
    cover_text: str,
    to: str,
    photo: bool,
    png_dir: Path | None,
    coverpages_dir: Path | None,
) -> None:
    """Render FILES (PDF, Office, HTML, text, images, PostScript) into fax pages."""
    options = RenderOptions(
        resolution=Resolution(resolution),
        paper=Paper(paper),
        halftone=Halftone.DIFFUSION if photo else Halftone.SCREEN,
    )
    if coverpages_dir is None and ctx.obj is not None and hasattr(ctx.obj, "settings"):
        coverpages_dir = ctx.obj.settings().coverpages_path
    with tempfile.TemporaryDirectory(prefix="faxout-render-") as tmp:
        body = Path(tmp) / "body.tif"
        with click.progressbar(
            length=len(files),
            label="rendering",
            file=sys.stderr,
            show_pos=True,
            item_show_func=lambda s: s,
        ) as bar:
            last: dict[str, int] = {}

            def on_page(name: str, pages: int) -> None:
                if name not in last and last:
                    bar.update(1)
                last[name] = pages
                bar.update(0, f"{name}: page {pages}")

            result = render_submission(list(files), body, options, on_page=on_page)
            bar.update(len(files) - bar.pos)
        if result.refusal is not None:
            raise click.ClickException(f"{result.refusal} — nothing was written")
        parts = [body]
        if cover:
            names = {n.lower(): n for n in cover_names(coverpages_dir)}
            if cover.lower() not in names:
                raise click.ClickException(
                    f"no cover page {cover!r}; installed: {', '.join(names.values())}"
                )
            digits = to.replace("+", "").replace(" ", "").replace("-", "")
            sheet = CoverSheet(
                recipient_number=to if digits.isdigit() else "",
                recipient_name="" if digits.isdigit() else to,
                pages=result.pages + 1,
                text=cover_text,
                date=datetime.now(UTC),
            )
            cover_tif = Path(tmp) / "cover.tif"
            try:
                covered = render_cover(
                    sheet,
                    cover_tif,
                    options,
                    template=names[cover.lower()],
                    template_dir=coverpages_dir,
                )
            except RenderError as exc:
                raise click.ClickException(f"cover page {cover!r}: {exc}") from exc
            if covered.refusal is not None:
                raise click.ClickException(f"cover page {cover!r}: {covered.refusal}")
            parts.insert(0, cover_tif)
        subprocess.run(["tiffcp", *map(str, parts), str(output)], check=True, capture_output=True)
    total = result.pages + (len(parts) - 1 and 1)
    click.echo(f"{output}: {total} page(s), {resolution} resolution, {paper}")
    for warning in result.warnings:
        click.echo(f"  warning: {warning}")
    if png_dir is not None:
        shots = _png_pages(output, png_dir)
        click.echo(f"  {len(shots)} PNG page(s) in {png_dir}")


@click.group("coverpage")
def coverpage() -> None:
    """Cover pages: HTML/CSS templates with Jinja2 placeholders (shipped and your own)."""


@coverpage.command("list")
@click.option("--coverpages-dir", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def coverpage_list(ctx: click.Context, coverpages_dir: Path | None) -> None:
    """List the cover pages a FaxOut `Coverpage` field may name."""
    if coverpages_dir is None and ctx.obj is not None and hasattr(ctx.obj, "settings"):
        coverpages_dir = ctx.obj.settings().coverpages_path
    for name in cover_names(coverpages_dir):
        click.echo(name)


@coverpage.command("preview")
@click.argument("name")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--text", default="Please find the documents attached.", show_default=True)
@click.option("--coverpages-dir", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def coverpage_preview(
    ctx: click.Context, name: str, output: Path, text: str, coverpages_dir: Path | None
) -> None:
    """Render cover page NAME with sample values to a PNG."""
    if coverpages_dir is None and ctx.obj is not None and hasattr(ctx.obj, "settings"):
        coverpages_dir = ctx.obj.settings().coverpages_path
    sheet = CoverSheet(
        sender_name="Alice Example",
        sender_number="+1 650 555 0100",
        sender_email="alice@example.com",
        recipient_name="Bob Example",
        recipient_number="+1 650 555 0199",
        pages=3,
        text=text,
        subject="Sample",
        date=datetime.now(UTC),
    )
    try:
        preview_cover_png(sheet, output, template=name, template_dir=coverpages_dir)
    except RenderError as exc:
        raise click.ClickException(f"cover page {name!r}: {exc}") from exc
    click.echo(f"wrote {output}")
