"""ctypes loader for spandsp 0.0.6 (Debian ``libspandsp2``, soname ``libspandsp.so.2``).

Only this module touches ``ctypes.CDLL``. It pins the soname: spandsp 3.x (``.so.3``) changed
struct layouts, ``bool`` parameters and constants, so binding it with these declarations would
corrupt memory rather than fail. Every function gets explicit ``argtypes``/``restype`` because the
ctypes default (``int``) truncates returned pointers on 64-bit machines.
"""

from __future__ import annotations

import ctypes
import functools
from ctypes import POINTER, c_char_p, c_int, c_int16, c_uint8, c_uint16, c_void_p
from typing import Any

from faxout.errors import TransportError

SONAME = "libspandsp.so.2"
DEBIAN_PACKAGE = "libspandsp2"


class SpandspMissingError(TransportError):
    """The spandsp shared library could not be loaded."""


# Callback types, exactly as in the 0.0.6 headers (every "bool" is an int there).
PhaseBHandler = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_int)
PhaseDHandler = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_int)
PhaseEHandler = ctypes.CFUNCTYPE(None, c_void_p, c_void_p, c_int)
DocumentHandler = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_int)
RealTimeFrameHandler = ctypes.CFUNCTYPE(None, c_void_p, c_void_p, c_int, POINTER(c_uint8), c_int)
MessageHandler = ctypes.CFUNCTYPE(None, c_int, c_char_p)
T38TxPacketHandler = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, POINTER(c_uint8), c_int, c_int)


class T30Stats(ctypes.Structure):
    """``t30_stats_t`` as laid out in 0.0.6: 15 ints, 60 bytes.

    A trailing pad absorbs a larger struct should a differently built library write more, so a
    layout mismatch shows as odd numbers rather than as a corrupted stack.
    """

    _fields_ = (
        ("bit_rate", c_int),
        ("error_correcting_mode", c_int),
        ("pages_tx", c_int),
        ("pages_rx", c_int),
        ("pages_in_file", c_int),
        ("x_resolution", c_int),
        ("y_resolution", c_int),
        ("width", c_int),
        ("length", c_int),
        ("image_size", c_int),
        ("encoding", c_int),
        ("bad_rows", c_int),
        ("longest_bad_row_run", c_int),
        ("error_correcting_mode_retries", c_int),
        ("current_status", c_int),
        ("_pad", c_int * 17),
    )


_P = c_void_p
_I16P = POINTER(c_int16)
_U8P = POINTER(c_uint8)

# name: (restype, argtypes)
_SIGNATURES: dict[str, tuple[Any, tuple[Any, ...]]] = {
    # fax.h (audio terminal)
    "fax_init": (_P, (_P, c_int)),
    "fax_free": (c_int, (_P,)),
    "fax_tx": (c_int, (_P, _I16P, c_int)),
    "fax_rx": (c_int, (_P, _I16P, c_int)),
    "fax_set_transmit_on_idle": (None, (_P, c_int)),
    "fax_get_t30_state": (_P, (_P,)),
    "fax_get_logging_state": (_P, (_P,)),
    # t38_terminal.h / t38_core.h
    "t38_terminal_init": (_P, (_P, c_int, T38TxPacketHandler, _P)),
    "t38_terminal_free": (c_int, (_P,)),
    "t38_terminal_send_timeout": (c_int, (_P, c_int)),
    "t38_terminal_set_config": (None, (_P, c_int)),
    "t38_terminal_get_t30_state": (_P, (_P,)),
    "t38_terminal_get_t38_core_state": (_P, (_P,)),
    "t38_terminal_get_logging_state": (_P, (_P,)),
    "t38_core_get_logging_state": (_P, (_P,)),
    "t38_set_redundancy_control": (None, (_P, c_int, c_int)),
    # const uint8_t *buf: declared as char* so Python bytes pass without a copy.
    "t38_core_rx_ifp_packet": (c_int, (_P, c_char_p, c_int, c_uint16)),
    "t38_set_t38_version": (None, (_P, c_int)),
    # t30.h / t30_api.h / t30_logging.h
    "t30_set_tx_file": (None, (_P, c_char_p, c_int, c_int)),
    "t30_set_rx_file": (None, (_P, c_char_p, c_int)),
    "t30_set_rx_encoding": (c_int, (_P, c_int)),
    "t30_set_ecm_capability": (c_int, (_P, c_int)),
    "t30_set_supported_modems": (c_int, (_P, c_int)),
    "t30_set_supported_compressions": (c_int, (_P, c_int)),
    "t30_set_supported_resolutions": (c_int, (_P, c_int)),
    "t30_set_supported_image_sizes": (c_int, (_P, c_int)),
    "t30_set_tx_ident": (c_int, (_P, c_char_p)),
    "t30_get_rx_ident": (c_char_p, (_P,)),
    "t30_call_active": (c_int, (_P,)),
    "t30_terminate": (None, (_P,)),
    "t30_get_transfer_statistics": (None, (_P, POINTER(T30Stats))),
    "t30_set_phase_b_handler": (None, (_P, PhaseBHandler, _P)),
    "t30_set_phase_d_handler": (None, (_P, PhaseDHandler, _P)),
    "t30_set_phase_e_handler": (None, (_P, PhaseEHandler, _P)),
    "t30_set_document_handler": (None, (_P, DocumentHandler, _P)),
    "t30_set_real_time_frame_handler": (None, (_P, RealTimeFrameHandler, _P)),
    "t30_get_logging_state": (_P, (_P,)),
    "t30_completion_code_to_str": (c_char_p, (c_int,)),
    "t30_frametype": (c_char_p, (c_uint8,)),
    # logging.h
    "span_log_set_level": (c_int, (_P, c_int)),
    "span_log_set_tag": (c_int, (_P, c_char_p)),
    "span_log_set_message_handler": (None, (_P, MessageHandler)),
}


@functools.cache
def library() -> ctypes.CDLL:
    """Load ``libspandsp.so.2`` once, with every signature declared.

    Raises ``SpandspMissingError`` naming the Debian package when it is not installed. A plain
    ``CDLL`` (not ``PyDLL``) releases the GIL during each foreign call, which is what lets calls
    on other threads make progress.
    """
    try:
        lib = ctypes.CDLL(SONAME)
    except OSError as exc:
        raise SpandspMissingError(
            f"cannot load {SONAME} (spandsp 0.0.6), the fax engine: install the Debian "
            f"package {DEBIAN_PACKAGE} (apt-get install {DEBIAN_PACKAGE}); detail: {exc}"
        ) from exc
    for name, (restype, argtypes) in _SIGNATURES.items():
        try:
            fn = getattr(lib, name)
        except AttributeError as exc:
            raise SpandspMissingError(
                f"{SONAME} lacks {name}: not the spandsp 0.0.6 that faxout binds to"
            ) from exc
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


def completion_text(code: int) -> str:
    """Plain words for a ``T30_ERR_*`` completion code, from spandsp itself."""
    raw = library().t30_completion_code_to_str(code)
    text = raw.decode("ascii", "replace") if raw else "???"
    return f"unknown T.30 completion code {code}" if text == "???" else text


def frame_name(fcf: int) -> str:
    """The name of a T.30 frame type (``MCF``, ``RTN``, ...) for its FCF byte."""
    raw = library().t30_frametype(fcf & 0xFF)
    return raw.decode("ascii", "replace") if raw else f"0x{fcf:02X}"
