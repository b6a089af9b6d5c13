"""The ``.igi`` file: quantised Gaussians, entropy-coded, with a checksum.

Layout (little-endian)::

    magic  b"IGI\\x1a"            4 bytes
    version                       u8    (VERSION)
    file size                     u32   (bytes, checksum included)
    height, width, count          u32 × 3
    kind                          u8    (0 rs, 1 cholesky)
    shape_bits, stages, codebook  u8, u8, u16
    xy_subpixel                   u8    (positions on a grid of 2^-xy_subpixel pixels)
    shape knee                    f32   (0: linear; else value = knee · sinh(index · scale + offset))
    shape scale, offset           f32 × 3, f32 × 3
    codebooks                     f16 × stages × codebook × 3
    streams                       position gap lengths, position gap mantissas,
                                  3 shape channels, one per colour stage (igi_jax.codec.entropy)
    crc32 of all the above        u32

The Gaussians are a set: their order is free, so they are stored sorted by grid cell in raster
order and a position costs only its gap to the previous one. Each gap ``d ≥ 0`` is its bit length
``e`` (entropy-coded) and, for ``d ≥ 2``, its ``e - 1`` bits below the leading one (bit-packed):
about ``log2(cells / N) + 1.4`` bits per Gaussian where fp16 coordinates took ~28.

Every other stream is coded by :mod:`igi_jax.codec.entropy`: bit-packed, or ANS under its
histogram, under adaptive counts, or under adaptive counts per context, whichever is shortest.
The covariance channels' contexts are the positions' local density (a Gaussian's size follows
its spacing), a colour stage's the index of the stage before it. Decoding checks magic, version,
length and checksum before it trusts a byte, and every failure is one :class:`BitstreamError`
naming the problem.
"""

from __future__ import annotations

import dataclasses
import math
import struct
import zlib

import numpy as np

from igi_jax.codec import entropy
from igi_jax.errors import InputError

MAGIC = b"IGI\x1a"
VERSION = 4
KINDS = ("rs", "cholesky")
_HEAD = struct.Struct("<4sBIIIIBBBHBf")
MAX_SUBPIXEL = 8
_MAX_CELLS = 1 << 52  # grid cells a file may address (gaps' bit lengths exact in float64)


class BitstreamError(InputError):
    """A file that is not a readable ``.igi`` bitstream (bad magic, version, length, checksum)."""


@dataclasses.dataclass(frozen=True)
class Payload:
    """Everything a ``.igi`` file holds: integer symbols plus the quantisers' parameters.

    Attributes:
      height, width: image size, pixels.
      kind: covariance parameterisation (``"rs"`` or ``"cholesky"``).
      xy_index: ``[N, 2]`` int64 grid cells ``(x, y)``, in raster order (``y``, then ``x``).
      xy_subpixel: the grid step is ``2^-xy_subpixel`` pixels; a cell's centre is the position.
      shape_index: ``[N, 3]`` int, ``0 … 2^shape_bits − 1``.
      shape_bits: bits per covariance value.
      shape_scale, shape_offset: ``[3]`` float32, value = index · scale + offset (linear), or
        ``shape_knee · sinh(index · scale + offset)`` when ``shape_knee > 0``.
      color_index: ``[N, S]`` int, ``0 … K − 1``, one per residual stage.
      codebooks: ``[S, K, 3]`` float16.
    """

    height: int
    width: int
    kind: str
    xy_index: np.ndarray
    xy_subpixel: int
    shape_index: np.ndarray
    shape_bits: int
    shape_scale: np.ndarray
    shape_offset: np.ndarray
    color_index: np.ndarray
    codebooks: np.ndarray
    shape_knee: float = 0.0

    @property
    def count(self) -> int:
        return int(self.xy_index.shape[0])

    @property
    def grid(self) -> tuple[int, int]:
        """Grid cells across and down: ``(W · 2^p, H · 2^p)``."""
        return self.width << self.xy_subpixel, self.height << self.xy_subpixel

    def raster(self) -> np.ndarray:
        """``[N]`` int64 raster index of each position's cell, ``y · cells across + x``."""
        xy = self.xy_index.astype(np.int64)
        return xy[:, 1] * self.grid[0] + xy[:, 0]

    def sorted(self) -> Payload:
        """The same Gaussians in raster order, as a file stores them (stable for ties)."""
        order = np.argsort(self.raster(), kind="stable")
        return dataclasses.replace(
            self,
            xy_index=self.xy_index[order],
            shape_index=self.shape_index[order],
            color_index=self.color_index[order],
        )

    def streams(self) -> list[tuple[np.ndarray, int]]:
        """``(symbols, alphabet size)`` of each fixed-width stream, in file order."""
        out = [(self.shape_index[:, c].astype(np.int32), 1 << self.shape_bits) for c in range(3)]
        k = self.codebooks.shape[1]
        out += [(self.color_index[:, s].astype(np.int32), k) for s in range(self.codebooks.shape[0])]
        return out


class _Reader:
    """Bounds-checked reads from the file's bytes."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise BitstreamError("truncated .igi file: it ends inside its data")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> tuple:
        s = struct.Struct("<" + fmt)
        return s.unpack(self.take(s.size))

    def varint(self) -> int:
        value, shift = 0, 0
        while True:
            (byte,) = self.take(1)
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise BitstreamError("corrupted .igi file: a histogram count does not end")


def _gap_alphabet(cells: int) -> int:
    """Bit lengths a gap between raster indices below ``cells`` can have: ``0 … bit_length``."""
    return max(1, cells - 1).bit_length() + 1


def _contexts(p: Payload) -> list[tuple[np.ndarray | None, int]]:
    """``(contexts, how many)`` the decoder can rebuild for each of :meth:`Payload.streams`."""
    grid = p.grid
    density = entropy.density_contexts(p.xy_index, grid[0] * grid[1])
    out: list[tuple[np.ndarray | None, int]] = [(density, entropy.DENSITY_CONTEXTS)] * 3
    k = p.codebooks.shape[1]
    out += [(None if s == 0 else p.color_index[:, s - 1], k) for s in range(p.codebooks.shape[0])]
    return out


def _stream(r: _Reader, n: int, alphabet: int, contexts=None, num: int = 1) -> np.ndarray:
    try:
        return entropy.decode_stream(r, n, alphabet, contexts, num)
    except entropy.StreamError as e:
        raise BitstreamError(f"corrupted .igi file: {e}") from None


def _gaps(raster: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted raster indices → ``(bit lengths, mantissas, mantissa widths)`` of their gaps."""
    d = np.diff(raster.astype(np.int64), prepend=0)
    e = np.frexp(d.astype(np.float64))[1].astype(np.int64)  # bit length; exact below 2^53
    mantissa = np.where(e >= 1, d - (np.int64(1) << np.maximum(e - 1, 0)), 0)
    return e, mantissa, np.maximum(e - 1, 0)


def max_bytes(
    count: int, height: int, width: int, xy_subpixel: int, shape_bits: int, stages: int, codebook: int
) -> int:
    """An upper bound on the file size: every stream at most its bit-packed size (+ the mode
    byte and a partial last byte); the gap mantissas at most ``N · log2(cells / N)`` bits (their
    sum is ``Σ log2 dᵢ`` with ``Σ dᵢ < cells``, so Jensen), plus header, parameters and checksum."""
    cells = (width << xy_subpixel) * (height << xy_subpixel)
    fixed = _HEAD.size + 4 * 6 + 2 * stages * codebook * 3 + (1 + 3 + stages) + 4
    if count <= 0:
        return fixed
    mantissa = count * max(math.log2(cells / count), math.log2(math.e))
    gap_bits = count * entropy.width(_gap_alphabet(cells)) + math.ceil(mantissa) + 8
    other = count * (3 * shape_bits + stages * entropy.width(codebook))
    return fixed + -(-(gap_bits + other) // 8) + 4


def encode(p: Payload) -> bytes:
    """The bytes of the ``.igi`` file for ``p`` (its Gaussians in raster order: :meth:`Payload.sorted`)."""
    stages, k = p.codebooks.shape[:2]
    if p.kind not in KINDS:
        raise ValueError(f"unknown kind {p.kind!r}; expected one of {KINDS}")
    if not 1 <= p.shape_bits <= 16:
        raise ValueError(f"shape_bits must be in 1 … 16, got {p.shape_bits}")
    if not 0 <= p.xy_subpixel <= MAX_SUBPIXEL:
        raise ValueError(f"xy_subpixel must be in 0 … {MAX_SUBPIXEL}, got {p.xy_subpixel}")
    if not (math.isfinite(p.shape_knee) and p.shape_knee >= 0):
        raise ValueError(f"shape_knee must be ≥ 0 (0: linear), got {p.shape_knee}")
    cells_x, cells_y = p.grid
    if cells_x * cells_y >= _MAX_CELLS:
        raise ValueError(
            f"a {p.width}×{p.height} image has too many grid cells at xy_subpixel {p.xy_subpixel}"
        )
    xy = p.xy_index.astype(np.int64)
    if xy.size and (xy.min() < 0 or np.any(xy.max(0) >= (cells_x, cells_y))):
        raise ValueError(f"a position lies outside the {cells_x}×{cells_y} grid")
    raster = p.raster()
    if np.any(np.diff(raster) < 0):
        raise ValueError("the payload's Gaussians are not in raster order (Payload.sorted gives it)")
    params = np.concatenate([p.shape_scale, p.shape_offset]).astype("<f4").tobytes()
    params += p.codebooks.astype("<f2").tobytes()
    e, mantissa, widths = _gaps(raster)
    streams = entropy.encode_stream(e.astype(np.int32), _gap_alphabet(cells_x * cells_y))
    streams += entropy.pack_bits(mantissa, widths)
    for (symbols, alphabet), (contexts, num) in zip(p.streams(), _contexts(p), strict=True):
        streams += entropy.encode_stream(symbols, alphabet, contexts, num)
    size = _HEAD.size + len(params) + len(streams) + 4
    head = _HEAD.pack(
        MAGIC,
        VERSION,
        size,
        p.height,
        p.width,
        p.count,
        KINDS.index(p.kind),
        p.shape_bits,
        stages,
        k,
        p.xy_subpixel,
        p.shape_knee,
    )
    body = head + params + streams
    return body + struct.pack("<I", zlib.crc32(body))


def decode(data: bytes) -> Payload:
    """The :class:`Payload` of a ``.igi`` file's bytes; raises :class:`BitstreamError`."""
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise BitstreamError("not an .igi file (its first bytes are not the .igi magic)")
    if len(data) < len(MAGIC) + 1:
        raise BitstreamError("truncated .igi file: it ends inside its header")
    if data[len(MAGIC)] != VERSION:
        raise BitstreamError(
            f"unsupported .igi format version {data[len(MAGIC)]} (this igi-jax reads {VERSION})"
        )
    if len(data) < _HEAD.size + 4:
        raise BitstreamError("truncated .igi file: it ends inside its header")
    (size,) = struct.unpack_from("<I", data, len(MAGIC) + 1)
    if len(data) != size:
        what = "truncated" if len(data) < size else "corrupted"
        raise BitstreamError(f"{what} .igi file: {len(data):,} bytes where its header says {size:,}")
    body, (crc,) = data[:-4], struct.unpack("<I", data[-4:])
    if zlib.crc32(body) != crc:
        raise BitstreamError("corrupted .igi file: its checksum does not match")
    r = _Reader(body)
    _, _, _, height, width, n, kind, shape_bits, stages, k, sub, knee = r.unpack(_HEAD.format[1:])
    impossible = kind >= len(KINDS) or not 1 <= shape_bits <= 16 or k < 1 or min(height, width) < 1
    impossible = impossible or not (math.isfinite(knee) and knee >= 0)
    if impossible or sub > MAX_SUBPIXEL or (width << sub) * (height << sub) >= _MAX_CELLS:
        raise BitstreamError("corrupted .igi file: its header holds impossible values")
    params = np.frombuffer(r.take(4 * 6), "<f4").astype(np.float32)
    codebooks = np.frombuffer(r.take(2 * stages * k * 3), "<f2").astype(np.float16)
    cells_x, cells_y = width << sub, height << sub
    e = _stream(r, n, _gap_alphabet(cells_x * cells_y)).astype(np.int64)
    widths = np.maximum(e - 1, 0)
    mantissa = entropy.unpack_bits(r.take(-(-int(widths.sum()) // 8)), widths)
    gaps = np.where(e >= 1, (np.int64(1) << widths) + mantissa, 0)
    raster = np.cumsum(gaps)
    if n and raster[-1] >= cells_x * cells_y:
        raise BitstreamError("corrupted .igi file: a position lies outside the image")
    xy_index = np.stack([raster % cells_x, raster // cells_x], -1)
    density = entropy.density_contexts(xy_index, cells_x * cells_y)
    shape = [_stream(r, n, 1 << shape_bits, density, entropy.DENSITY_CONTEXTS) for _ in range(3)]
    colors: list[np.ndarray] = []
    for _ in range(stages):
        colors.append(_stream(r, n, k, colors[-1] if colors else None, k))
    if r.pos != len(body):
        raise BitstreamError("corrupted .igi file: bytes left over after its last stream")
    return Payload(
        height=height,
        width=width,
        kind=KINDS[kind],
        xy_index=xy_index,
        xy_subpixel=sub,
        shape_index=np.stack(shape, -1) if n else np.zeros((0, 3), np.int32),
        shape_bits=shape_bits,
        shape_scale=params[:3],
        shape_offset=params[3:6],
        color_index=np.stack(colors, -1) if stages else np.zeros((n, 0), np.int32),
        codebooks=codebooks.reshape(stages, k, 3),
        shape_knee=float(knee),
    )
