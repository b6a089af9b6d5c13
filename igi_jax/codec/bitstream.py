"""The ``.igi`` file: quantised Gaussians, entropy-coded, with a checksum.

Layout (little-endian)::

    magic  b"IGI\\x1a"            4 bytes
    version                       u8    (VERSION)
    file size                     u32   (bytes, checksum included)
    height, width, count          u32 × 3
    kind                          u8    (0 rs, 1 cholesky)
    shape_bits, stages, codebook  u8, u8, u16
    xy_subpixel                   u8    (positions on a grid of 2^-xy_subpixel pixels)
    shape scale, offset           f32 × 3, f32 × 3
    codebooks                     f16 × stages × codebook × 3
    streams                       position gap lengths, position gap mantissas,
                                  3 shape channels, one per colour stage
    crc32 of all the above        u32

The Gaussians are a set: their order is free, so they are stored sorted by grid cell in raster
order and a position costs only its gap to the previous one. Each gap ``d ≥ 0`` is its bit length
``e`` (entropy-coded) and, for ``d ≥ 2``, its ``e - 1`` bits below the leading one (bit-packed):
about ``log2(cells / N) + 1.4`` bits per Gaussian where fp16 coordinates took ~28.

Every other stream is ``u8 mode`` then either the symbols bit-packed at their fixed width (mode 0)
or their histogram as unsigned LEB128 varints, a u32 word count and the ANS words of
``constriction`` (mode 1); the encoder keeps whichever is shorter, so side information never
costs more than it saves. Decoding checks magic, version, length and checksum before it
trusts a byte, and every failure is one :class:`BitstreamError` naming the problem.
"""

from __future__ import annotations

import dataclasses
import math
import struct
import zlib

import numpy as np

from igi_jax.errors import InputError

MAGIC = b"IGI\x1a"
VERSION = 2
KINDS = ("rs", "cholesky")
_HEAD = struct.Struct("<4sBIIIIBBBHB")
MAX_SUBPIXEL = 8
_MAX_CELLS = 1 << 52  # grid cells a file may address (gaps' bit lengths exact in float64)
_RAW, _ANS = 0, 1


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
      shape_scale, shape_offset: ``[3]`` float32, value = index · scale + offset.
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


def _varints(values: np.ndarray) -> bytes:
    out = bytearray()
    for v in values.tolist():
        while True:
            byte, v = v & 0x7F, v >> 7
            out.append(byte | (0x80 if v else 0))
            if not v:
                break
    return bytes(out)


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


def _width(alphabet: int) -> int:
    return max(1, (alphabet - 1).bit_length())


def _model(counts: np.ndarray):
    import constriction

    return constriction.stream.model.Categorical(counts / counts.sum(), perfect=False)


def _encode_stream(symbols: np.ndarray, alphabet: int) -> bytes:
    width = _width(alphabet)
    raw = bytes([_RAW]) + _pack_bits(symbols, np.full(symbols.shape, width))
    if symbols.size == 0:
        return raw
    import constriction

    counts = np.bincount(symbols, minlength=alphabet)
    coder = constriction.stream.stack.AnsCoder()
    coder.encode_reverse(symbols.astype(np.int32), _model(counts))
    words = coder.get_compressed().astype("<u4")
    ans = bytes([_ANS]) + _varints(counts) + struct.pack("<I", words.size) + words.tobytes()
    return ans if len(ans) < len(raw) else raw


def _decode_stream(r: _Reader, n: int, alphabet: int) -> np.ndarray:
    (mode,) = r.unpack("B")
    width = _width(alphabet)
    if mode == _RAW:
        out = _unpack_bits(r.take(-(-n * width // 8)), np.full(n, width)).astype(np.int32)
    elif mode == _ANS:
        import constriction

        counts = np.asarray([r.varint() for _ in range(alphabet)], np.float64)
        (num_words,) = r.unpack("I")
        words = np.frombuffer(r.take(4 * num_words), "<u4").astype(np.uint32)
        if counts.sum() != n:
            raise BitstreamError("corrupted .igi file: a histogram does not match the Gaussian count")
        out = constriction.stream.stack.AnsCoder(words).decode(_model(counts), n).astype(np.int32)
    else:
        raise BitstreamError(f"corrupted .igi file: unknown stream mode {mode}")
    if out.size and (out.min() < 0 or out.max() >= alphabet):
        raise BitstreamError("corrupted .igi file: a symbol is outside its alphabet")
    return out


def _gap_alphabet(cells: int) -> int:
    """Bit lengths a gap between raster indices below ``cells`` can have: ``0 … bit_length``."""
    return max(1, cells - 1).bit_length() + 1


def _bit_shifts(widths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each value's first bit and each bit's shift, for values of ``widths`` bits laid end to end."""
    starts = np.cumsum(widths) - widths
    total = int(widths.sum())
    return starts, np.repeat(widths, widths) - 1 - (np.arange(total) - np.repeat(starts, widths))


def _pack_bits(values: np.ndarray, widths: np.ndarray) -> bytes:
    """``values`` at their own ``widths`` in bits, most significant first, then byte-padded."""
    widths = widths.astype(np.int64)
    _, shift = _bit_shifts(widths)
    bits = (np.repeat(values.astype(np.int64), widths) >> shift) & 1
    return np.packbits(bits.astype(np.uint8)).tobytes()


def _unpack_bits(data: bytes, widths: np.ndarray) -> np.ndarray:
    """The ``[N]`` int64 values :func:`_pack_bits` wrote at ``widths``."""
    widths = widths.astype(np.int64)
    starts, shift = _bit_shifts(widths)
    bits = np.unpackbits(np.frombuffer(data, np.uint8))[: shift.size].astype(np.int64) << shift
    out = np.zeros(widths.shape, np.int64)
    live = widths > 0
    out[live] = np.add.reduceat(bits, starts[live]) if shift.size else 0
    return out


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
    gap_bits = count * _width(_gap_alphabet(cells)) + math.ceil(mantissa) + 8
    other = count * (3 * shape_bits + stages * _width(codebook))
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
    streams = _encode_stream(e.astype(np.int32), _gap_alphabet(cells_x * cells_y))
    streams += _pack_bits(mantissa, widths)
    streams += b"".join(_encode_stream(s, a) for s, a in p.streams())
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
    _, _, _, height, width, n, kind, shape_bits, stages, k, sub = r.unpack(_HEAD.format[1:])
    impossible = kind >= len(KINDS) or not 1 <= shape_bits <= 16 or k < 1 or min(height, width) < 1
    if impossible or sub > MAX_SUBPIXEL or (width << sub) * (height << sub) >= _MAX_CELLS:
        raise BitstreamError("corrupted .igi file: its header holds impossible values")
    params = np.frombuffer(r.take(4 * 6), "<f4").astype(np.float32)
    codebooks = np.frombuffer(r.take(2 * stages * k * 3), "<f2").astype(np.float16)
    cells_x, cells_y = width << sub, height << sub
    e = _decode_stream(r, n, _gap_alphabet(cells_x * cells_y)).astype(np.int64)
    widths = np.maximum(e - 1, 0)
    mantissa = _unpack_bits(r.take(-(-int(widths.sum()) // 8)), widths)
    gaps = np.where(e >= 1, (np.int64(1) << widths) + mantissa, 0)
    raster = np.cumsum(gaps)
    if n and raster[-1] >= cells_x * cells_y:
        raise BitstreamError("corrupted .igi file: a position lies outside the image")
    shape = [_decode_stream(r, n, 1 << shape_bits) for _ in range(3)]
    colors = [_decode_stream(r, n, k) for _ in range(stages)]
    if r.pos != len(body):
        raise BitstreamError("corrupted .igi file: bytes left over after its last stream")
    return Payload(
        height=height,
        width=width,
        kind=KINDS[kind],
        xy_index=np.stack([raster % cells_x, raster // cells_x], -1),
        xy_subpixel=sub,
        shape_index=np.stack(shape, -1) if n else np.zeros((0, 3), np.int32),
        shape_bits=shape_bits,
        shape_scale=params[:3],
        shape_offset=params[3:6],
        color_index=np.stack(colors, -1) if stages else np.zeros((n, 0), np.int32),
        codebooks=codebooks.reshape(stages, k, 3),
    )
