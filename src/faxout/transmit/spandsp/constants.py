"""spandsp 0.0.6 constants, generated once from its headers (``<spandsp/t30.h>``, ``t30_fcf.h``,
``t4_rx.h``, ``logging.h``, ``t38_terminal.h``) with a small C program.

Enum members are not counted by hand: ``tests/transmit/test_spandsp_constants.py`` recompiles the
values against the installed headers when ``libspandsp-dev`` is present.
"""

from __future__ import annotations

from typing import Final

# T.30 completion codes (T30_ERR_*), the ones faxout names explicitly.
T30_ERR_OK: Final = 0
T30_ERR_CEDTONE: Final = 1
T30_ERR_T0_EXPIRED: Final = 2
T30_ERR_T1_EXPIRED: Final = 3
T30_ERR_CANNOT_TRAIN: Final = 6
T30_ERR_INCOMPATIBLE: Final = 8
T30_ERR_RX_INCAPABLE: Final = 9
T30_ERR_TX_INCAPABLE: Final = 10
T30_ERR_NORESSUPPORT: Final = 11
T30_ERR_NOSIZESUPPORT: Final = 12
T30_ERR_UNEXPECTED: Final = 13
T30_ERR_TX_BADPG: Final = 15
T30_ERR_TX_GOTDCN: Final = 17
T30_ERR_TX_PHBDEAD: Final = 20
T30_ERR_TX_PHDDEAD: Final = 21
T30_ERR_RX_DCNWHY: Final = 35
T30_ERR_FILEERROR: Final = 41
T30_ERR_RETRYDCN: Final = 48
T30_ERR_CALLDROPPED: Final = 49
T30_ERR_IDENT_UNACCEPTABLE: Final = 51
T30_ERR_CSA_UNACCEPTABLE: Final = 61

# Frame control fields (t30_fcf.h), without the "X" bit.
T30_DIS: Final = 0x80
T30_DCS: Final = 0x82
T30_CFR: Final = 0x84
T30_MCF: Final = 0x8C
T30_RTP: Final = 0xCC
T30_RTN: Final = 0x4C
T30_PIP: Final = 0xAC
T30_PIN: Final = 0x2C
T30_MPS: Final = 0x4E
T30_EOP: Final = 0x2E
T30_EOM: Final = 0x8E

# t30_set_supported_modems()
T30_SUPPORT_V27TER: Final = 0x01
T30_SUPPORT_V29: Final = 0x02
T30_SUPPORT_V17: Final = 0x04

# t30_set_supported_compressions()
T30_SUPPORT_T4_1D_COMPRESSION: Final = 0x02
T30_SUPPORT_T4_2D_COMPRESSION: Final = 0x04
T30_SUPPORT_T6_COMPRESSION: Final = 0x08

# t30_set_supported_resolutions()
T30_SUPPORT_STANDARD_RESOLUTION: Final = 0x01
T30_SUPPORT_FINE_RESOLUTION: Final = 0x02
T30_SUPPORT_SUPERFINE_RESOLUTION: Final = 0x04
T30_SUPPORT_R8_RESOLUTION: Final = 0x20000

# t30_set_supported_image_sizes()
T30_SUPPORT_215MM_WIDTH: Final = 0x01
T30_SUPPORT_255MM_WIDTH: Final = 0x02
T30_SUPPORT_303MM_WIDTH: Final = 0x04
T30_SUPPORT_UNLIMITED_LENGTH: Final = 0x10000
T30_SUPPORT_A4_LENGTH: Final = 0x20000
T30_SUPPORT_B4_LENGTH: Final = 0x40000
T30_SUPPORT_US_LETTER_LENGTH: Final = 0x80000
T30_SUPPORT_US_LEGAL_LENGTH: Final = 0x100000

# T4_COMPRESSION_* (t4_rx.h): the line coding reported in t30_stats_t.encoding.
T4_COMPRESSION_ITU_T4_1D: Final = 1
T4_COMPRESSION_ITU_T4_2D: Final = 2
T4_COMPRESSION_ITU_T6: Final = 3

# logging.h
SPAN_LOG_NONE: Final = 0
SPAN_LOG_ERROR: Final = 1
SPAN_LOG_WARNING: Final = 2
SPAN_LOG_PROTOCOL_ERROR: Final = 3
SPAN_LOG_PROTOCOL_WARNING: Final = 4
SPAN_LOG_FLOW: Final = 5
SPAN_LOG_DEBUG: Final = 8
SPAN_LOG_SHOW_TAG: Final = 0x2000

# t38_terminal.h
T38_TERMINAL_OPTION_NO_PACING: Final = 0x01
T38_PACKET_CATEGORY_CONTROL_DATA: Final = 1  # V.21 HDLC frames: DIS, DCS, MCF, PPR...
CONTROL_DATA_COPIES: Final = 3

SAMPLE_RATE: Final = 8000
