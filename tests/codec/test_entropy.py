"""The streams' entropy coding: every mode decodes what it coded, the encoder keeps the shortest,
adaptive and context coding near their ideal lengths, and density contexts the decoder rebuilds."""

from __future__ import annotations

import numpy as np
import pytest

from igi_jax.codec import bitstream, entropy


def _peaked(n: int, seed: int = 0) -> np.ndarray:
    return np.minimum(np.random.default_rng(seed).geometric(0.3, n) - 1, 63).astype(np.int32)


def _round_trip(symbols, alphabet, contexts=None, num=1, modes=entropy.MODES):
    data = entropy.encode_stream(symbols, alphabet, contexts, num, modes)
    r = bitstream._Reader(data)
    out = entropy.decode_stream(r, symbols.size, alphabet, contexts, num)
    assert r.pos == len(data), "the decoder must read exactly the stream"
    np.testing.assert_array_equal(out, symbols)
    return data


@pytest.mark.parametrize("mode", entropy.MODES)
@pytest.mark.parametrize("n", [1, 63, 64, 65, 5000])
def test_each_mode_round_trips(mode, n):
    rng = np.random.default_rng(n)
    symbols = _peaked(n, n)
    contexts = rng.integers(0, 5, n)
    data = _round_trip(symbols, 64, contexts, 5, modes=(mode,))
    assert data[0] in (entropy.RAW, mode)


def test_the_encoder_keeps_the_shortest_mode():
    n, raw_bytes = 5000, 1 + 5000 * 6 // 8
    uniform = np.random.default_rng(1).integers(0, 64, n).astype(np.int32)
    flat = _round_trip(uniform, 64)
    assert flat[0] == entropy.RAW and len(flat) == raw_bytes  # nothing could pay for itself
    peaked = _peaked(n)
    best = _round_trip(peaked, 64)
    for mode in entropy.MODES:
        assert len(best) <= len(entropy.encode_stream(peaked, 64, modes=(mode,)))
    # Adaptive ANS near the empirical entropy: the Krichevsky–Trofimov regret, ~(K − 1)/2 log2 N
    # bits, plus the first blocks' coarser counts, and no histogram.
    counts = np.bincount(peaked, minlength=64)
    entropy_bits = -np.sum(np.log2(counts[peaked] / n))
    adaptive = entropy.encode_stream(peaked, 64, modes=(entropy.ADAPTIVE,))
    assert entropy_bits < 8 * len(adaptive) < entropy_bits + 32 * np.log2(n) + 400


def test_context_coding_pays_where_the_symbols_follow_their_context():
    rng = np.random.default_rng(2)
    contexts = rng.integers(0, 8, 8000)
    symbols = np.clip(8 * contexts + rng.integers(0, 3, 8000), 0, 63).astype(np.int32)
    data = _round_trip(symbols, 64, contexts, 8)
    assert data[0] == entropy.CONTEXT
    # log2(3) bits per symbol given the context, plus the counts' regret (~(K − 1)/2 log2 n bits
    # per context); log2(24) without the contexts.
    regret = 8 * 63 / 2 * np.log2(1000) + 8 * 64 * 6
    assert 8 * len(data) < 8000 * np.log2(3) + regret < 8000 * np.log2(24) < 8 * len(_round_trip(symbols, 64))


def test_a_context_stream_needs_its_contexts():
    symbols = np.repeat(np.arange(8), 200).astype(np.int32)
    data = entropy.encode_stream(symbols, 8, symbols, 8, modes=(entropy.CONTEXT,))
    assert data[0] == entropy.CONTEXT
    with pytest.raises(entropy.StreamError, match="contexts"):
        entropy.decode_stream(bitstream._Reader(data), symbols.size, 8)


def test_blocks_cover_the_stream_in_order():
    for n in [0, 1, 64, 65, 10_000]:
        spans = entropy.blocks(n)
        assert [a for a, _ in spans[1:]] == [b for _, b in spans[:-1]]
        assert (spans[0][0], spans[-1][1]) == (0, n) if n else spans == []
        assert all(b - a <= entropy.LAST_BLOCK for a, b in spans)


def test_density_contexts_follow_spacing_not_order():
    rng = np.random.default_rng(3)
    dense = rng.integers(0, 64, (300, 2))  # 300 points on 64 × 64 cells of a 1024 × 1024 grid
    sparse = rng.integers(64, 1024, (100, 2))
    cells = np.concatenate([dense, sparse, dense[:20]])  # with repeated cells
    ctx = entropy.density_contexts(cells, 1024 * 1024)
    assert ctx.min() >= 0 and ctx.max() < entropy.DENSITY_CONTEXTS
    assert ctx[:300].mean() + 2 < ctx[300:400].mean()
    assert (ctx[-20:] == 0).all()  # a repeated cell: its nearest neighbour is at distance 0
    perm = rng.permutation(len(cells))
    np.testing.assert_array_equal(entropy.density_contexts(cells[perm], 1024 * 1024), ctx[perm])
    assert entropy.density_contexts(cells[:3], 1024 * 1024).tolist() == [0, 0, 0]


def _payload_with_structure(n: int = 3000):
    """Covariance indices that grow with the local spacing and a second colour stage that follows
    the first, as a fit's do: the file codes them in context."""
    rng = np.random.default_rng(4)
    dense = rng.normal(200, 40, (n // 2, 2))
    sparse = rng.uniform(0, 1024, (n - n // 2, 2))
    xy = np.clip(np.concatenate([dense, sparse]), 0, [1023, 683]).astype(np.int64)
    ctx = entropy.density_contexts(xy, 1024 * 684)
    shape = np.clip(6 * ctx[:, None] + rng.integers(0, 4, (n, 3)), 0, 63)
    first = rng.integers(0, 16, n)
    colors = np.stack([first, (first + rng.integers(0, 2, n)) % 16], 1)
    return bitstream.Payload(
        height=171,
        width=256,
        kind="cholesky",
        xy_index=xy,
        xy_subpixel=2,
        shape_index=shape.astype(np.int32),
        shape_bits=6,
        shape_scale=np.full(3, 0.05, np.float32),
        shape_offset=np.zeros(3, np.float32),
        color_index=colors.astype(np.int32),
        codebooks=np.zeros((2, 16, 3), np.float16),
    ).sorted()


def test_files_code_covariances_and_colours_in_their_contexts():
    p = _payload_with_structure()
    data = bitstream.encode(p)
    q = bitstream.decode(data)
    for name in ("xy_index", "shape_index", "color_index"):
        np.testing.assert_array_equal(getattr(q, name), getattr(p, name), err_msg=name)
    # Given their contexts: 3 × 2 bits of covariance and 1 bit of second stage, against ~3 × 4.6
    # and 4 without them.
    streams = list(zip(p.streams(), bitstream._contexts(p), strict=True))
    within = sum(len(entropy.encode_stream(s, a, c, k)) for (s, a), (c, k) in streams)
    without = sum(len(entropy.encode_stream(s, a, modes=entropy.MODES[:3])) for s, a in p.streams())
    assert within < 0.75 * without


def test_an_unknown_stream_mode_is_one_clear_error():
    with pytest.raises(entropy.StreamError, match="unknown stream mode 9"):
        entropy.decode_stream(bitstream._Reader(bytes([9, 0, 0])), 3, 8)
