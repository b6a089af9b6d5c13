"""The standard codecs our rate–distortion curves are measured against, each at a target rate.

JPEG, WebP, AVIF and JPEG 2000 through Pillow, JPEG XL through ``imagecodecs`` (both from the
package index). :func:`encode_at_bpp` finds, for one image, the setting whose file is the largest
that is still at most the target bits per pixel (as ``igi compress --bpp`` does), by bisection on
the codec's quality knob: an integer quality for JPEG / WebP / AVIF, the compression ratio for
JPEG 2000, the Butteraugli distance for JPEG XL. Below a codec's smallest file the smallest is kept
(and its rate says so). The rate is the encoded stream's real size, headers included.

    run = encode_at_bpp("jpeg", image_u8, 0.5)   # run.data, run.decoded [H, W, 3] uint8, run.bpp
"""

from __future__ import annotations

import dataclasses
import io as _io
import math
from collections.abc import Callable

import numpy as np
from PIL import Image

from igi_jax.errors import InputError

CODECS = ("jpeg", "webp", "avif", "jpeg2000", "jpegxl")
SEARCH_ITERS = 14  # bisection steps of the continuous knobs (ratio, distance)


@dataclasses.dataclass
class Encoded:
    """One image encoded by a standard codec at one setting."""

    codec: str
    setting: float  # quality (jpeg, webp, avif), compression ratio (jpeg2000), distance (jpegxl)
    data: bytes
    decoded: np.ndarray  # [H, W, 3] uint8

    @property
    def bpp(self) -> float:
        h, w = self.decoded.shape[:2]
        return 8 * len(self.data) / (h * w)


def _pillow(fmt: str, **options) -> Callable[[np.ndarray], bytes]:
    def encode(image: np.ndarray) -> bytes:
        buf = _io.BytesIO()
        Image.fromarray(image).save(buf, format=fmt, **options)
        return buf.getvalue()

    return encode


def _decode_pillow(data: bytes) -> np.ndarray:
    with Image.open(_io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def _imagecodecs():
    try:
        import imagecodecs
    except ImportError:
        raise InputError("JPEG XL needs imagecodecs: pip install -e '.[codecs]'") from None
    return imagecodecs


def _encoder(codec: str, setting: float) -> Callable[[np.ndarray], bytes]:
    if codec == "jpeg":  # libjpeg's 4:2:0 default, Huffman tables optimised
        return _pillow("JPEG", quality=int(setting), optimize=True)
    if codec == "webp":
        return _pillow("WEBP", quality=int(setting), method=6)
    if codec == "avif":
        return _pillow("AVIF", quality=int(setting), speed=4)
    if codec == "jpeg2000":  # 9/7 wavelet, colour transform, one layer at this ratio
        return _pillow("JPEG2000", quality_mode="rates", quality_layers=[setting], irreversible=True, mct=1)
    if codec == "jpegxl":
        imagecodecs = _imagecodecs()
        return lambda image: bytes(imagecodecs.jpegxl_encode(image, distance=setting, effort=7))
    raise ValueError(f"unknown codec {codec!r}; expected one of {CODECS}")


def _decode(codec: str, data: bytes) -> np.ndarray:
    if codec == "jpegxl":
        return np.asarray(_imagecodecs().jpegxl_decode(data))[..., :3]
    return _decode_pillow(data)


def encode(codec: str, image: np.ndarray, setting: float) -> Encoded:
    """``image [H, W, 3]`` uint8 encoded by ``codec`` at ``setting``, and decoded again."""
    image = np.ascontiguousarray(image, np.uint8)
    data = _encoder(codec, setting)(image)
    return Encoded(codec, float(setting), data, _decode(codec, data))


# (low, high) of each knob, the rate rising from low to high; integer knobs are searched exactly.
_KNOBS: dict[str, tuple[float, float, bool]] = {
    "jpeg": (1, 95, True),
    "webp": (0, 100, True),
    "avif": (0, 100, True),
    "jpeg2000": (-math.log2(400.0), -math.log2(4.0), False),  # −log2(compression ratio)
    "jpegxl": (-math.log2(25.0), -math.log2(0.1), False),  # −log2(distance)
}


def _setting(codec: str, x: float) -> float:
    return x if _KNOBS[codec][2] else 2.0**-x


def encode_at_bpp(codec: str, image: np.ndarray, bpp: float) -> Encoded:
    """The largest ``codec`` file of ``image [H, W, 3]`` uint8 at most ``bpp`` bits per pixel (the
    smallest file it can make when even that is larger)."""
    if codec not in _KNOBS:
        raise ValueError(f"unknown codec {codec!r}; expected one of {CODECS}")
    lo, hi, integer = _KNOBS[codec]
    best = encode(codec, image, _setting(codec, lo))
    if best.bpp > bpp:
        return best  # the codec's floor
    top = encode(codec, image, _setting(codec, hi))
    if top.bpp <= bpp:
        return top
    for _ in range(SEARCH_ITERS if not integer else 64):
        if integer and hi - lo <= 1:
            break
        mid = (lo + hi) // 2 if integer else 0.5 * (lo + hi)
        out = encode(codec, image, _setting(codec, mid))
        if out.bpp <= bpp:
            lo, best = mid, max(best, out, key=lambda e: e.bpp)
        else:
            hi = mid
    return best
