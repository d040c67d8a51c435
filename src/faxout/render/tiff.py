"""TIFF-F writer: bilevel pages streamed one by one to a multi-page CCITT TIFF.

We call the system libtiff through ctypes instead of Pillow: Pillow keeps every page of a
multi-page save in memory (848 MB for a 111-page manual) and its MinIsWhite path is a
per-pixel Python loop (0.4 s a page). Here a page is ``np.packbits`` of a boolean "black"
array (1 = black, which is already the MinIsWhite bit order), handed to
``TIFFWriteEncodedStrip`` as one strip, then the directory is flushed and the page freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt

from faxout.errors import RenderError
from faxout.render.options import Compression

_TAG_SUBFILETYPE = 254
_TAG_WIDTH = 256
_TAG_LENGTH = 257
_TAG_BITS = 258
_TAG_COMPRESSION = 259
_TAG_PHOTOMETRIC = 262
_TAG_FILLORDER = 266
_TAG_SOFTWARE = 305
_TAG_SAMPLES = 277
_TAG_ROWSPERSTRIP = 278
_TAG_XRES = 282
_TAG_YRES = 283
_TAG_T4OPTIONS = 292
_TAG_T6OPTIONS = 293
_TAG_RESUNIT = 296
_TAG_PAGENUMBER = 297

_FILETYPE_PAGE = 2
_COMPRESSION_CCITTFAX3 = 3
_COMPRESSION_CCITTFAX4 = 4
_PHOTOMETRIC_MINISWHITE = 0
_T4_2D = 1
_T4_FILLBITS = 4  # EOLs byte-aligned, as fax modems expect (TIFF Class F)


@functools.cache
def _libtiff() -> ctypes.CDLL:
    name = ctypes.util.find_library("tiff") or "libtiff.so.6"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:  # the Debian package libtiff6 is a declared dependency
        raise RenderError(f"libtiff not found ({name}): install libtiff6") from exc
    lib.TIFFOpen.restype = ctypes.c_void_p
    lib.TIFFOpen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.TIFFWriteEncodedStrip.restype = ctypes.c_ssize_t
    lib.TIFFWriteEncodedStrip.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_void_p,
        ctypes.c_ssize_t,
    ]
    lib.TIFFWriteDirectory.restype = ctypes.c_int
    lib.TIFFWriteDirectory.argtypes = [ctypes.c_void_p]
    lib.TIFFClose.restype = None
    lib.TIFFClose.argtypes = [ctypes.c_void_p]
    lib.TIFFSetErrorHandler.restype = ctypes.c_void_p
    lib.TIFFSetErrorHandler.argtypes = [ctypes.c_void_p]
    lib.TIFFSetWarningHandler.restype = ctypes.c_void_p
    lib.TIFFSetWarningHandler.argtypes = [ctypes.c_void_p]
    # libtiff prints errors to stderr by default; we report failures through return codes.
    lib.TIFFSetErrorHandler(None)
    lib.TIFFSetWarningHandler(None)
    lib.TIFFSetField.restype = ctypes.c_int  # variadic: argument types given per call
    return lib


class TiffFWriter:
    """Writes fax pages to ``path`` as they come. Use as a context manager.

    Every page is ``width`` px wide (1728 for fax), MinIsWhite, one strip, tagged with
    204 dpi across and ``lpi`` lines per inch down.
    """

    def __init__(self, path: Path, *, lpi: int, compression: Compression) -> None:
        self.path = path
        self.lpi = lpi
        self.compression = compression
        self.pages = 0
        self._lib = _libtiff()
        handle = self._lib.TIFFOpen(os.fsencode(path), b"w")
        if not handle:
            raise RenderError(f"cannot open {path} for writing")
        self._tif: int | None = handle
        self._size = 0

    def __enter__(self) -> TiffFWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Finish the file; safe to call twice."""
        if self._tif is not None:
            self._lib.TIFFClose(ctypes.c_void_p(self._tif))
            self._tif = None

    def add_page(self, black: npt.NDArray[np.bool_]) -> int:
        """Encode and write one page (``True`` = black). Returns the bytes the page added."""
        if self._tif is None:
            raise RenderError("writer is closed")
        height, width = black.shape
        packed = np.packbits(black, axis=1)  # rows padded to whole bytes, as TIFF wants
        self._set_page_tags(width, height)
        written = self._lib.TIFFWriteEncodedStrip(
            ctypes.c_void_p(self._tif), 0, packed.ctypes.data, packed.nbytes
        )
        if written < 0 or self._lib.TIFFWriteDirectory(ctypes.c_void_p(self._tif)) != 1:
            raise RenderError(f"libtiff failed writing page {self.pages + 1} of {self.path}")
        self.pages += 1
        # TIFFWriteDirectory has flushed the strip and the IFD: the growth is this page's cost.
        size = self.path.stat().st_size
        added, self._size = size - self._size, size
        return added

    def _set_page_tags(self, width: int, height: int) -> None:
        u16, u32, dbl = ctypes.c_uint16, ctypes.c_uint32, ctypes.c_double
        fields: list[tuple[int, tuple[ctypes._SimpleCData[int] | ctypes._SimpleCData[float], ...]]]
        # Compression first: libtiff only knows T4/T6 options once the codec is chosen.
        if self.compression is Compression.MMR:
            fields = [
                (_TAG_COMPRESSION, (u16(_COMPRESSION_CCITTFAX4),)),
                (_TAG_T6OPTIONS, (u32(0),)),
            ]
        else:
            t4 = _T4_FILLBITS | (_T4_2D if self.compression is Compression.MR else 0)
            fields = [
                (_TAG_COMPRESSION, (u16(_COMPRESSION_CCITTFAX3),)),
                (_TAG_T4OPTIONS, (u32(t4),)),
            ]
        fields += [
            (_TAG_SUBFILETYPE, (u32(_FILETYPE_PAGE),)),
            (_TAG_WIDTH, (u32(width),)),
            (_TAG_LENGTH, (u32(height),)),
            (_TAG_BITS, (u16(1),)),
            (_TAG_SAMPLES, (u16(1),)),
            (_TAG_PHOTOMETRIC, (u16(_PHOTOMETRIC_MINISWHITE),)),
            (_TAG_FILLORDER, (u16(1),)),
            (_TAG_ROWSPERSTRIP, (u32(height),)),
            (_TAG_XRES, (dbl(204.0),)),
            (_TAG_YRES, (dbl(float(self.lpi)),)),
            (_TAG_RESUNIT, (u16(2),)),  # inch
            # Total unknown while streaming; TIFF allows 0 for "unknown".
            (_TAG_PAGENUMBER, (u16(self.pages), u16(0))),
        ]
        tif = ctypes.c_void_p(self._tif)
        for tag, values in fields:
            if self._lib.TIFFSetField(tif, u32(tag), *values) != 1:
                raise RenderError(f"libtiff refused tag {tag}")
        software = ctypes.c_char_p(b"faxout")
        self._lib.TIFFSetField(tif, u32(_TAG_SOFTWARE), software)
