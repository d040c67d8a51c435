"""The pages one call sends: cover and document from the first unconfirmed page, each with the
header printed into its blank band, re-encoded as one TIFF-F.

This runs at every attempt, in a jailed worker (:mod:`faxout.transmit.stamper`), because it
decodes files a render worker wrote from a sender's document: a worker subverted by a hostile
document could have left a TIFF crafted against libtiff. The jailed step decodes the pages
into plain bitmaps and writes a fresh file with faxout's own writer, so the transport's
libtiff (spandsp's, in the calling process) only ever reads a file faxout encoded.

Pages keep their exact length: the header goes into the band the renderer left blank
(render/tagline.py), never above the page.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faxout import timezones
from faxout.errors import TransportError
from faxout.render import tagline

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

_MAX_PIXELS = 40_000_000  # a fax page is 1728 px wide and at most a few thousand rows long


@dataclass(frozen=True)
class Header:
    """One call's header: the format with its time applied, and the fields it names."""

    template: str
    fields: tagline.TagFields


@dataclass(frozen=True)
class HeaderStyle:
    """The server's header settings (``[header]``); an account may set its own format/zone."""

    enabled: bool = True
    format: str = tagline.DEFAULT_FORMAT
    time_zone: str = ""  # "": the server's zone


@dataclass(frozen=True)
class Sender:
    """What the header and the TSI say of the account sending (its columns as stored)."""

    username: str  # the account's number, digits with the country code (and maybe *ext)
    name: str
    station: str  # its own TSI, or ""
    time_zone: str  # "", or an IANA zone
    tagline: str  # its own format, or ""


def _own_number(sender: Sender) -> str:
    from faxout.jobs.numbers import home_number, readable  # not in the jailed step: 50 ms

    return readable(home_number(sender.username) or sender.username)


def station_ident(sender: Sender, server_ident: str) -> str:
    """Our TSI on a call: the account's own station, else the server's, else the account's
    number in international notation (what a receiving machine shows as the caller)."""
    chosen = sender.station or server_ident or _own_number(sender)
    return chosen[:20]


def header_for(
    style: HeaderStyle,
    sender: Sender,
    ident: str,
    recipient_name: str,
    recipient_number: str,
    job_id: int,
    now: datetime,
) -> Header | None:
    """This call's header, its time in the account's zone (else the server's); None when the
    server prints none."""
    if not style.enabled:
        return None
    from faxout.jobs.numbers import readable

    when = timezones.local(now, sender.time_zone or style.time_zone)
    return Header(
        template=tagline.stamp_time(sender.tagline or style.format, when),
        fields=tagline.TagFields(
            sender_name=sender.name,
            sender_number=_own_number(sender),
            station=ident,
            recipient_name=recipient_name,
            recipient_number=readable(recipient_number),
            job_id=job_id,
        ),
    )


@dataclass(frozen=True)
class Pages:
    """The file a call sends, its page count, and the pages of the whole fax."""

    path: Path
    count: int
    total: int


def prepare(parts: list[Path], first_page: int, header: Header | None, workdir: Path) -> Pages:
    """Write ``workdir/out/fax.tif``: the pages of ``parts`` (cover first) from ``first_page``
    (1-based over all parts), each stamped with ``header`` (or with a blank band if None).

    Runs in a warm jailed worker (:mod:`faxout.transmit.stamper`). Raises ``TransportError``
    when the pages cannot be prepared (the attempt is abandoned before dialling, never sent
    half-made).
    """
    from faxout.transmit import stamper

    out = workdir / "out"
    out.mkdir()

    def job(seen: list[Path], view_out: Path) -> tuple[str, dict[str, Any]]:
        spec = {
            "parts": [str(p) for p in seen],
            "first_page": first_page,
            "header": asdict(header) if header is not None else None,
            "out": str(view_out / "fax.tif"),
        }
        return "stamp", {"spec": spec}

    counts = stamper.shared().call(parts, job, out / "fax.tif")
    try:
        return Pages(out / "fax.tif", int(counts["count"]), int(counts["total"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise TransportError(f"could not prepare the pages: bad result {exc}") from exc


def _stamp(spec: dict[str, Any]) -> dict[str, int]:
    """Inside the worker: decode, stamp and re-encode the selected pages."""
    from PIL import Image

    from faxout.render import taglineink
    from faxout.render.geometry import HEADER_BAND_IN
    from faxout.render.options import Compression
    from faxout.render.tiff import TiffFWriter

    Image.MAX_IMAGE_PIXELS = _MAX_PIXELS
    parts = [Path(p) for p in spec["parts"]]
    counts = []
    for part in parts:
        with Image.open(part) as img:
            counts.append(int(getattr(img, "n_frames", 1)))
    total = sum(counts)
    # Past the end (every page was confirmed, yet the far end hung up badly): send the last.
    first = min(max(1, int(spec["first_page"])), total)
    raw = spec["header"]
    template = raw["template"] if raw else None
    tag = tagline.TagFields(**{**raw["fields"], "resumed_at": first}) if raw else None
    writer: TiffFWriter | None = None
    try:
        for page_no, black, lpi in _pages(parts, counts, first):
            if template is not None and tag is not None:
                fields = tagline.fields_of(template, tag, page_no, total)
                taglineink.draw(black, round(HEADER_BAND_IN * lpi), lpi, fields)
            if writer is None:
                writer = TiffFWriter(Path(spec["out"]), lpi=lpi, compression=Compression.MMR)
            writer.lpi = lpi
            writer.add_page(black)
    finally:
        if writer is not None:
            writer.close()
    return {"count": total - first + 1, "total": total}


def _pages(
    parts: list[Path], counts: list[int], first: int
) -> Iterator[tuple[int, npt.NDArray[np.bool_], int]]:
    """(page number over all parts, the page as black pixels, its lines per inch) from
    page ``first`` on."""
    import numpy as np
    from PIL import Image

    page_no = 0
    for part, count in zip(parts, counts, strict=True):
        with Image.open(part) as img:
            for frame in range(count):
                page_no += 1
                if page_no < first:
                    continue
                img.seek(frame)
                dpi = float(img.info.get("dpi", (204, 196))[1])
                lpi = 98 if dpi < 147 else 196  # the two resolutions faxout renders
                yield page_no, ~np.asarray(img.convert("1"), dtype=bool), lpi


def main() -> None:
    """Entry point of a stamping worker: the socket's file descriptor is the only argument."""
    from multiprocessing.connection import Connection

    from PIL import Image  # noqa: F401  # loaded now, while idle, not at the first call

    from faxout.render import taglineink, tiff  # noqa: F401
    from faxout.sandbox.worker import serve

    serve(Connection(int(sys.argv[1])), {"stamp": _stamp})


if __name__ == "__main__":
    main()
