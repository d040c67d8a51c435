"""Route libtiff's error and warning messages into Python ``logging``.

spandsp reads and writes fax TIFFs with libtiff, whose default handlers print to stderr
("TIFFOpen: ...: No such file or directory", "Can not read scanlines from a tiled image").
libtiff's handlers are process-wide, so the call a message belongs to is found through a
thread-local set by whoever runs the call (each call runs on one thread).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

LIBTIFF_SONAME = "libtiff.so.6"  # the libtiff that Debian's libspandsp2 links against
log = logging.getLogger("faxout.transmit.libtiff")

# void (*)(const char *module, const char *fmt, va_list ap); a va_list arrives as a pointer.
_Handler = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)
_current = threading.local()


def _format(fmt: bytes, args: int | None) -> str:
    buf = ctypes.create_string_buffer(1024)
    _vsnprintf()(buf, len(buf), fmt, args)
    return buf.value.decode("utf-8", "replace")


@functools.cache
def _vsnprintf() -> ctypes._NamedFuncPointer:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    fn = libc.vsnprintf
    fn.argtypes = (ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p)
    fn.restype = ctypes.c_int
    return fn


def _emit(level: int, module: bytes | None, fmt: bytes | None, args: int | None) -> None:
    # Called from C: never let anything escape.
    try:
        text = _format(fmt or b"", args)
        where = (module or b"").decode("utf-8", "replace")
        call_id = getattr(_current, "call_id", None)
        log.log(level, "%s: %s", where, text, extra={"fields": {"call_id": call_id}})
    except Exception:  # noqa: S110 - a lost log line must not crash a call
        pass


def _on_error(module: bytes | None, fmt: bytes | None, args: int | None) -> None:
    _emit(logging.WARNING, module, fmt, args)


def _on_warning(module: bytes | None, fmt: bytes | None, args: int | None) -> None:
    _emit(logging.INFO, module, fmt, args)


_HANDLERS = (_Handler(_on_error), _Handler(_on_warning))  # alive for the whole process


@functools.cache
def install() -> bool:
    """Install the handlers once per process; False when libtiff cannot be loaded."""
    try:
        lib = ctypes.CDLL(LIBTIFF_SONAME)
    except OSError:
        return False
    for name, handler in zip(
        ("TIFFSetErrorHandler", "TIFFSetWarningHandler"), _HANDLERS, strict=True
    ):
        setter = getattr(lib, name)
        setter.argtypes = (_Handler,)
        setter.restype = ctypes.c_void_p
        setter(handler)
    return True


@contextmanager
def call_context(call_id: str) -> Iterator[None]:
    """Tag libtiff messages raised on this thread with ``call_id`` while the block runs."""
    install()
    previous = getattr(_current, "call_id", None)
    _current.call_id = call_id
    try:
        yield
    finally:
        _current.call_id = previous
