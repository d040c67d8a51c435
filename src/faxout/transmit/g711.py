"""G.711 A-law and µ-law companding as numpy lookup tables (ITU-T G.711, Sun reference coding).

A telephone line carries 8-bit companded samples; passing the fax modems' audio through
encode/decode reproduces the quantisation noise they meet on a real PSTN or RTP path.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from faxout.transmit.law import Law

Samples = npt.NDArray[np.int16]
Codes = npt.NDArray[np.uint8]

_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)
_ULAW_BIAS = 0x84
_ULAW_CLIP = 32635

__all__ = ["Codes", "Law", "Samples", "compand", "decode", "encode"]


def _alaw_encode(x: npt.NDArray[np.int32]) -> Codes:
    pcm = x >> 3
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    pcm = np.where(pcm >= 0, pcm, -pcm - 1)
    seg = np.searchsorted(_ALAW_SEG_END, pcm)  # first segment whose end is >= pcm
    shift = np.where(seg < 2, 1, seg)
    aval = (np.minimum(seg, 7) << 4) | ((pcm >> shift) & 0x0F)
    aval = np.where(seg >= 8, 0x7F, aval)
    return (aval ^ mask).astype(np.uint8)


def _alaw_decode(code: npt.NDArray[np.int32]) -> Samples:
    a = code ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, t + 0x108)
    t = np.where(seg > 1, t << np.maximum(seg - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype(np.int16)


def _ulaw_encode(x: npt.NDArray[np.int32]) -> Codes:
    sign = np.where(x < 0, 0x80, 0x00)
    mag = np.minimum(np.abs(x), _ULAW_CLIP) + _ULAW_BIAS
    exponent = np.floor(np.log2(mag)).astype(np.int32) - 7
    mantissa = (mag >> (exponent + 3)) & 0x0F
    codes: Codes = (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)
    return codes


def _ulaw_decode(code: npt.NDArray[np.int32]) -> Samples:
    u = ~code & 0xFF
    t = (((u & 0x0F) << 3) + _ULAW_BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _ULAW_BIAS - t, t - _ULAW_BIAS).astype(np.int16)


@functools.cache
def _tables(law: Law) -> tuple[Codes, Samples]:
    linear = np.arange(-32768, 32768, dtype=np.int32)
    codes = np.arange(256, dtype=np.int32)
    if law is Law.ALAW:
        return _alaw_encode(linear), _alaw_decode(codes)
    return _ulaw_encode(linear), _ulaw_decode(codes)


def encode(samples: Samples, law: Law) -> Codes:
    """16-bit linear samples to G.711 codes."""
    enc, _ = _tables(law)
    codes: Codes = enc[samples.astype(np.int32) + 32768]
    return codes


def decode(codes: Codes, law: Law) -> Samples:
    """G.711 codes to 16-bit linear samples."""
    _, dec = _tables(law)
    return dec[codes]


def compand(samples: Samples, law: Law) -> Samples:
    """Encode then decode: what the far end hears after one G.711 hop."""
    return decode(encode(samples, law), law)
