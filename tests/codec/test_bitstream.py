"""The ``.igi`` bitstream: lossless round trip of the symbols, the shorter coding per stream, and
one clear error (never a wrong decode) for truncated, corrupted, foreign or future files."""

from __future__ import annotations

import dataclasses
import struct
import zlib

import numpy as np
import pytest

from igi_jax.codec import bitstream
from igi_jax.codec.bitstream import BitstreamError, Payload


def _payload(
    seed: int = 0, n: int = 700, shape_bits: int = 6, stages: int = 2, k: int = 8, skew=True, sub: int = 2
) -> Payload:
    rng = np.random.default_rng(seed)
    cells = np.array([256 << sub, 171 << sub])
    if skew:  # clustered like a fit's (dense where the image is busy), with repeated cells
        xy = np.clip(rng.normal(0.4, 0.15, (n, 2)) * cells, 0, cells - 1).astype(np.int64)
        xy[: n // 10] = xy[n // 10 : 2 * (n // 10)]
    else:
        xy = rng.integers(0, cells, (n, 2))
    if skew:  # peaked histograms, as quantised covariances and colours are
        shape = np.minimum(rng.geometric(0.15, (n, 3)) - 1, (1 << shape_bits) - 1)
        colors = np.minimum(rng.geometric(0.4, (n, stages)) - 1, k - 1)
    else:
        shape = rng.integers(0, 1 << shape_bits, (n, 3))
        colors = rng.integers(0, k, (n, stages))
    return Payload(
        height=171,
        width=256,
        kind="cholesky",
        xy_index=xy,
        xy_subpixel=sub,
        shape_index=shape.astype(np.int32),
        shape_bits=shape_bits,
        shape_scale=rng.uniform(0.01, 0.1, 3).astype(np.float32),
        shape_offset=rng.normal(0, 1, 3).astype(np.float32),
        color_index=colors.astype(np.int32),
        codebooks=rng.normal(0, 0.5, (stages, k, 3)).astype(np.float16),
    ).sorted()


def _assert_equal(a: Payload, b: Payload) -> None:
    for f in dataclasses.fields(Payload):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=f.name)
        else:
            assert x == y, f.name


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"skew": False},
        {"shape_bits": 1, "k": 2, "stages": 1, "sub": 0},
        {"shape_bits": 12, "k": 256, "stages": 3, "sub": 8},
        {"knee": 1.5},
    ],
)
def test_round_trip_is_lossless(kw):
    p = _payload(**{k: v for k, v in kw.items() if k != "knee"})
    p = dataclasses.replace(p, shape_knee=kw.get("knee", 0.0))
    _assert_equal(bitstream.decode(bitstream.encode(p)), p)


def test_round_trip_of_one_gaussian():
    p = _payload(n=1)
    _assert_equal(bitstream.decode(bitstream.encode(p)), p)


def test_peaked_symbols_code_below_their_fixed_widths():
    raw_bits = 700 * (2 * 10 + 3 * 6 + 2 * 3)  # x, y as cell indices of a 1024 × 684 grid
    assert 8 * len(bitstream.encode(_payload())) < raw_bits


def test_truncated_files_are_refused_at_every_length():
    data = bitstream.encode(_payload())
    for cut in [0, 1, 3, 4, 5, 9, 20, 100, len(data) // 2, len(data) - 5, len(data) - 1]:
        with pytest.raises(BitstreamError, match=r"truncated|not an \.igi"):
            bitstream.decode(data[:cut])


def test_every_flipped_byte_is_caught():
    data = bytearray(bitstream.encode(_payload(n=60)))
    for i in range(len(data)):
        bad = data.copy()
        bad[i] ^= 0x10
        with pytest.raises(BitstreamError):
            bitstream.decode(bytes(bad))


def test_foreign_and_future_files():
    data = bitstream.encode(_payload())
    with pytest.raises(BitstreamError, match="not an .igi file"):
        bitstream.decode(b"\x89PNG\r\n\x1a\n" + data[8:])
    future = bytearray(data)
    future[4] = bitstream.VERSION + 1
    with pytest.raises(BitstreamError, match=f"version {bitstream.VERSION + 1}"):
        bitstream.decode(bytes(future))
    with pytest.raises(BitstreamError, match="corrupted"):
        bitstream.decode(data + b"\x00")


def test_an_impossible_knee_with_a_valid_checksum_is_refused():
    data = bytearray(bitstream.encode(dataclasses.replace(_payload(), shape_knee=1.0)))
    at = bitstream._HEAD.size - 4  # the knee: the header's last field
    data[at : at + 4] = struct.pack("<f", float("nan"))
    data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[:-4])))
    with pytest.raises(BitstreamError, match="impossible values"):
        bitstream.decode(bytes(data))


def test_bad_payloads_are_refused_by_the_encoder():
    with pytest.raises(ValueError, match="kind"):
        bitstream.encode(dataclasses.replace(_payload(), kind="affine"))
    with pytest.raises(ValueError, match="shape_bits"):
        bitstream.encode(dataclasses.replace(_payload(), shape_bits=17))
    with pytest.raises(ValueError, match="shape_knee"):
        bitstream.encode(dataclasses.replace(_payload(), shape_knee=-1.0))


@pytest.mark.parametrize("sub", [0, 2])
@pytest.mark.parametrize("skew", [True, False])
@pytest.mark.parametrize("n", [1, 7, 700, 20000])
def test_max_bytes_bounds_every_file(n, skew, sub):
    p = _payload(n=n, skew=skew, sub=sub)
    assert len(bitstream.encode(p)) <= bitstream.max_bytes(n, 171, 256, sub, 6, 2, 8)


def test_every_position_of_a_full_grid_round_trips():
    # Gaps of 0 (shared cells), 1, and the largest (first and last cell) all code.
    xy = np.stack(np.meshgrid(np.arange(12), np.arange(5)), -1).reshape(-1, 2)
    xy = np.concatenate([xy, xy[[0, -1, -1]], [[11, 4]]])
    n = len(xy)
    p = dataclasses.replace(
        _payload(n=n, sub=0),
        width=12,
        height=5,
        xy_index=xy,
        shape_index=np.zeros((n, 3), np.int32),
        color_index=np.zeros((n, 2), np.int32),
    ).sorted()
    _assert_equal(bitstream.decode(bitstream.encode(p)), p)


def test_positions_cost_about_their_gaps_not_their_coordinates():
    # 5,000 uniform cells of a 3,072 × 2,048 grid (a Kodak image at 1/4 pixel): ideal ≈
    # log2(cells / N) + 1.44 = 11.7 bits; fp16 coordinates took ~28.
    rng = np.random.default_rng(3)
    n = 5000
    p = dataclasses.replace(
        _payload(n=n),
        width=768,
        height=512,
        xy_index=rng.integers(0, (3072, 2048), (n, 2)),
        shape_index=np.zeros((n, 3), np.int32),
        color_index=np.zeros((n, 2), np.int32),
    ).sorted()
    fixed = len(bitstream.encode(dataclasses.replace(p, xy_index=np.zeros((n, 2), np.int64))))
    bits = 8 * (len(bitstream.encode(p)) - fixed) / n
    assert 11.0 < bits < 12.2, bits


def test_unordered_or_outside_positions_are_refused():
    p = _payload()
    with pytest.raises(ValueError, match="raster order"):
        bitstream.encode(dataclasses.replace(p, xy_index=p.xy_index[::-1]))
    outside = p.xy_index.copy()
    outside[-1] = (256 << 2, 0)
    with pytest.raises(ValueError, match="outside"):
        bitstream.encode(dataclasses.replace(p, xy_index=outside))
