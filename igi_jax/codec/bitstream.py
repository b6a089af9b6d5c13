"""The ``.igi`` file: quantised Gaussians, entropy-coded, with a checksum.

Layout (little-endian)::

    magic  b"IGI\\x1a"            4 bytes
    version                       u8    (VERSION)
    file size                     u32   (bytes, checksum included)
    height, width, count          u32 × 3
    kind                          u8    (0 rs, 1 cholesky)
    shape_bits, stages, codebook  u8, u8, u16
    shape scale, offset           f32 × 3, f32 × 3
    codebooks                     f32 × stages × codebook × 3
    streams                       4 position byte planes (x hi, x lo, y hi, y lo of the fp16
                                  bit patterns), 3 shape channels, one per colour stage
    crc32 of all the above        u32

Each stream is ``u8 mode`` then either the symbols bit-packed at their fixed width (mode 0) or
their histogram as unsigned LEB128 varints, a u32 word count and the ANS words of
``constriction`` (mode 1); the encoder keeps whichever is shorter, so side information never
costs more than it saves. Decoding checks magic, version, length and checksum before it
trusts a byte, and every failure is one :class:`BitstreamError` naming the problem.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib

import numpy as np

from igi_jax.errors import InputError

MAGIC = b"IGI\x1a"
VERSION = 1
KINDS = ("rs", "cholesky")
_HEAD = struct.Struct("<4sBIIIIBBBH")
_RAW, _ANS = 0, 1


class BitstreamError(InputError):
    """A file that is not a readable ``.igi`` bitstream (bad magic, version, length, checksum)."""


@dataclasses.dataclass(frozen=True)
class Payload:
    """Everything a ``.igi`` file holds: integer symbols plus the quantisers' parameters.

    Attributes:
      height, width: image size, pixels.
      kind: covariance parameterisation (``"rs"`` or ``"cholesky"``).
      xy_bits: ``[N, 2]`` uint16, float16 bit patterns of the pre-tanh positions.
      shape_index: ``[N, 3]`` int, ``0 … 2^shape_bits − 1``.
      shape_bits: bits per covariance value.
      shape_scale, shape_offset: ``[3]`` float32, value = index · scale + offset.
      color_index: ``[N, S]`` int, ``0 … K − 1``, one per residual stage.
      codebooks: ``[S, K, 3]`` float32.
    """

    height: int
    width: int
    kind: str
    xy_bits: np.ndarray
    shape_index: np.ndarray
    shape_bits: int
    shape_scale: np.ndarray
    shape_offset: np.ndarray
    color_index: np.ndarray
    codebooks: np.ndarray

    @property
    def count(self) -> int:
        return int(self.xy_bits.shape[0])

    def streams(self) -> list[tuple[np.ndarray, int]]:
        """``(symbols, alphabet size)`` of each entropy-coded stream, in file order."""
        xy = self.xy_bits.astype(np.uint16)
        planes = [(xy[:, d] >> shift) & 0xFF for d in range(2) for shift in (8, 0)]
        out = [(p.astype(np.int32), 256) for p in planes]
        out += [(self.shape_index[:, c].astype(np.int32), 1 << self.shape_bits) for c in range(3)]
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


def _pack(symbols: np.ndarray, width: int) -> bytes:
    bits = (symbols[:, None].astype(np.uint32) >> np.arange(width - 1, -1, -1, dtype=np.uint32)) & 1
    return np.packbits(bits.astype(np.uint8).ravel()).tobytes()


def _unpack(data: bytes, width: int, n: int) -> np.ndarray:
    bits = np.unpackbits(np.frombuffer(data, np.uint8))[: n * width].reshape(n, width).astype(np.int64)
    return (bits << np.arange(width - 1, -1, -1)).sum(axis=1).astype(np.int32)


def _model(counts: np.ndarray):
    import constriction

    return constriction.stream.model.Categorical(counts / counts.sum(), perfect=False)


def _encode_stream(symbols: np.ndarray, alphabet: int) -> bytes:
    width = _width(alphabet)
    raw = bytes([_RAW]) + _pack(symbols, width)
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
        out = _unpack(r.take(-(-n * width // 8)), width, n)
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


def max_bytes(count: int, raw_bits: int, stages: int, codebook: int) -> int:
    """An upper bound on the file size: each stream is at most its bit-packed size (+ the mode
    byte and a partial last byte), plus the header, quantiser parameters and checksum."""
    streams = 4 + 3 + stages
    fixed = _HEAD.size + 4 * (6 + stages * codebook * 3) + 2 * streams + 4
    return fixed + -(-count * raw_bits // 8)


def encode(p: Payload) -> bytes:
    """The bytes of the ``.igi`` file for ``p``."""
    stages, k = p.codebooks.shape[:2]
    if p.kind not in KINDS:
        raise ValueError(f"unknown kind {p.kind!r}; expected one of {KINDS}")
    if not 1 <= p.shape_bits <= 16:
        raise ValueError(f"shape_bits must be in 1 … 16, got {p.shape_bits}")
    params = np.concatenate([p.shape_scale, p.shape_offset, p.codebooks.ravel()]).astype("<f4").tobytes()
    streams = b"".join(_encode_stream(s, a) for s, a in p.streams())
    size = _HEAD.size + len(params) + len(streams) + 4
    head = _HEAD.pack(
        MAGIC, VERSION, size, p.height, p.width, p.count, KINDS.index(p.kind), p.shape_bits, stages, k
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
    _, _, _, height, width, n, kind, shape_bits, stages, k = r.unpack(_HEAD.format[1:])
    if kind >= len(KINDS) or not 1 <= shape_bits <= 16 or k < 1 or min(height, width) < 1:
        raise BitstreamError("corrupted .igi file: its header holds impossible values")
    params = np.frombuffer(r.take(4 * (6 + stages * k * 3)), "<f4").astype(np.float32)
    planes = [_decode_stream(r, n, 256) for _ in range(4)]
    shape = [_decode_stream(r, n, 1 << shape_bits) for _ in range(3)]
    colors = [_decode_stream(r, n, k) for _ in range(stages)]
    if r.pos != len(body):
        raise BitstreamError("corrupted .igi file: bytes left over after its last stream")
    xy = np.stack([(planes[2 * d] << 8) | planes[2 * d + 1] for d in range(2)], -1).astype(np.uint16)
    return Payload(
        height=height,
        width=width,
        kind=KINDS[kind],
        xy_bits=xy,
        shape_index=np.stack(shape, -1),
        shape_bits=shape_bits,
        shape_scale=params[:3],
        shape_offset=params[3:6],
        color_index=np.stack(colors, -1) if stages else np.zeros((n, 0), np.int32),
        codebooks=params[6:].reshape(stages, k, 3),
    )
