"""Tests for PPM dithering: pure-JAX reference and Pallas kernel against a sequential NumPy oracle.

The oracle is the textbook Floyd–Steinberg double loop with the original Instant-GI edge rules, in
float32 with each share computed as ``(q * num) / den`` (the original CUDA kernel's expressions).
Implementations must reproduce its mask, points and — the sharper test — the value each cell had when
it was quantised, bit for bit. Pallas runs in interpret mode on CPU; on a GPU the same checks run
without it (see dither.py for why GPU bits may differ). Lowering for CUDA is checked without a GPU.
"""

from __future__ import annotations

import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental.pallas import triton as pltriton

from pallas_kernels.dither import dither, floyd_steinberg
from pallas_kernels.dither_reference import (
    POINT_PAD,
    dither_reference,
    floyd_steinberg_reference,
    maxpool_ppm,
)

F32 = np.float32


# ----------------------------------------------------------------------------- oracle (test-only)


def oracle_maxpool(ppm: np.ndarray, k: int) -> np.ndarray:
    """``[H, W]`` → ``[ceil(H/k), ceil(W/k)]``: replicate padding bottom/right, max per k×k patch."""
    h, w = ppm.shape
    hc, wc = -(-h // k), -(-w // k)
    grid = np.empty((hc, wc), F32)
    for r in range(hc):
        for c in range(wc):
            rows = [min(i, h - 1) for i in range(r * k, r * k + k)]
            cols = [min(j, w - 1) for j in range(c * k, c * k + k)]
            grid[r, c] = ppm[np.ix_(rows, cols)].max()
    return grid


def oracle_floyd_steinberg(grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sequential row-major Floyd–Steinberg with the original's edge rules.

    Returns ``mask [Hc, Wc]`` bool and the float32 value each cell had when it was quantised.
    """
    g = grid.astype(F32).copy()
    hc, wc = g.shape
    out = np.zeros((hc, wc), bool)
    for i in range(hc):
        for j in range(wc):
            old = g[i, j]
            new = F32(0.0) if old < 0.5 else F32(1.0)
            out[i, j] = new == 1
            q = F32(old - new)

            def add(ii, jj, num, den, q=q):
                g[ii, jj] = F32(g[ii, jj] + F32(F32(q * F32(num)) / F32(den)))

            if i == hc - 1:  # last row: everything to the right (dropped at the corner)
                if j + 1 < wc:
                    add(i, j + 1, 1, 1)
            elif wc == 1:  # one-column grid: everything down (our choice; original undefined)
                add(i + 1, j, 1, 1)
            elif j == 0:
                add(i, j + 1, 7, 13)
                add(i + 1, j, 5, 13)
                add(i + 1, j + 1, 1, 13)
            elif j == wc - 1:
                add(i + 1, j - 1, 3, 8)
                add(i + 1, j, 5, 8)
            else:
                add(i, j + 1, 7, 16)
                add(i + 1, j - 1, 3, 16)
                add(i + 1, j, 5, 16)
                add(i + 1, j + 1, 1, 16)
    return out, g


def oracle_points(mask: np.ndarray, k: int, h: int, w: int) -> np.ndarray:
    """Centres ``(c*k + k/2, r*k + k/2)`` of set cells, at most the last pixel centre, row-major."""
    pts = []
    for r in range(mask.shape[0]):
        for c in range(mask.shape[1]):
            x, y = min(c * k + k / 2, w - 0.5), min(r * k + k / 2, h - 0.5)
            if mask[r, c]:
                pts.append((x, y))
    return np.asarray(pts, F32).reshape(-1, 2)


# ----------------------------------------------------------------------------- inputs


def random_ppm(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.001, 0.999, (h, w)).astype(F32)


def smooth_ppm(h: int, w: int, seed: int) -> np.ndarray:
    """Real-like PPM: a few soft blobs and ridges, squashed into (0, 1)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    field = np.zeros((h, w))
    for _ in range(4):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        s = rng.uniform(2, 10)
        field += rng.uniform(1, 3) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    field += 0.5 * np.sin(xx / 5.0 + rng.uniform(0, 6)) * np.cos(yy / 7.0)
    return (1 / (1 + np.exp(-(field - 0.5) * 2))).astype(F32)


MAKERS = {"random": random_ppm, "smooth": smooth_ppm}
SIZES = [(17, 23), (31, 40), (1, 9), (9, 1), (50, 37)]  # padding in at least one dim; 1-row, 1-column
# Each case is one XLA compile (1-3 s on this shared 2-core machine). Reference: every size at k=3,
# k=4 and k=5 on three sizes each. Interpret mode compiles slower still: each size and each k once.
REFERENCE_CASES = [(size, 3) for size in SIZES] + [
    ((17, 23), 4),
    ((1, 9), 4),
    ((50, 37), 4),
    ((31, 40), 5),
    ((9, 1), 5),
    ((50, 37), 5),
]
INTERPRET_CASES = [((17, 23), 3), ((1, 9), 3), ((9, 1), 3), ((31, 40), 4), ((50, 37), 5)]


def case_id(case):
    (h, w), k = case
    return f"{h}x{w}-k{k}"


def on_gpu() -> bool:
    return jax.default_backend() == "gpu"


def pallas_interpret(ppm, k):
    return dither(ppm, k, interpret=True)


def check_against_oracle(fn, ppm: np.ndarray, k: int) -> None:
    mask, points, count = jax.device_get(fn(jnp.asarray(ppm), k))  # NumPy from here: no eager JAX ops
    want_mask, _ = oracle_floyd_steinberg(oracle_maxpool(ppm, k))
    np.testing.assert_array_equal(mask, want_mask)
    want_points = oracle_points(want_mask, k, *ppm.shape)
    n = int(count)
    assert n == len(want_points)
    assert points.shape == (mask.size, 2) and points.dtype == np.float32
    np.testing.assert_array_equal(points[:n], want_points)
    assert np.all(points[n:] == POINT_PAD)


# ----------------------------------------------------------------------------- tests


@pytest.mark.parametrize("kind", sorted(MAKERS))
@pytest.mark.parametrize("case", REFERENCE_CASES, ids=case_id)
def test_reference_matches_oracle(kind, case):
    size, k = case
    check_against_oracle(dither_reference, MAKERS[kind](*size, seed=100 * k + size[0]), k)


@pytest.mark.parametrize("kind", sorted(MAKERS))
@pytest.mark.parametrize("case", INTERPRET_CASES, ids=case_id)
def test_pallas_interpret_matches_oracle(kind, case):
    size, k = case
    check_against_oracle(pallas_interpret, MAKERS[kind](*size, seed=100 * k + size[0]), k)


@pytest.mark.skipif(not on_gpu(), reason="needs a GPU")
@pytest.mark.parametrize("kind", sorted(MAKERS))
@pytest.mark.parametrize("case", REFERENCE_CASES, ids=case_id)
def test_pallas_gpu_matches_oracle(kind, case):
    size, k = case
    check_against_oracle(dither, MAKERS[kind](*size, seed=100 * k + size[0]), k)


def blocks(cells: np.ndarray, k: int, h: int, w: int) -> np.ndarray:
    """A ``[h, w]`` PPM whose k×k max-pool is ``cells`` (reuses the shapes compiled above)."""
    return np.kron(cells, np.ones((k, k), F32))[:h, :w]


@pytest.mark.parametrize("fn", [dither_reference, pallas_interpret], ids=["reference", "pallas_interpret"])
def test_threshold_and_exact_values(fn):
    # Cells on the threshold and exactly representable errors exercise ">= 0.5" and the edge shares.
    cells = np.full((6, 8), 0.5, F32)
    cells[0, :4] = [0.25, 0.75, 0.4999, 0.5]
    check_against_oracle(fn, blocks(cells, 3, 17, 23), 3)
    for first, want in [(0.5, True), (0.4999, False)]:
        mask, _, _ = fn(jnp.asarray(blocks(np.array([[first, 0.01, 0.01]], F32), 3, 1, 9)), 3)
        assert bool(mask[0, 0]) == want


@pytest.mark.parametrize(
    "fn, shape",
    [
        (floyd_steinberg_reference, (64, 96)),
        (floyd_steinberg_reference, (7, 1)),
        (functools.partial(floyd_steinberg, interpret=True), (24, 40)),
        (functools.partial(floyd_steinberg, interpret=True), (7, 1)),
    ],
    ids=["reference-64x96", "reference-7x1", "pallas_interpret-24x40", "pallas_interpret-7x1"],
)
def test_values_bit_exact(fn, shape):
    # Masks rarely reveal a 1-ulp difference; the value each cell had when quantised does (addition
    # order, (q*7)/13 vs q*(7/13), ...). Grids: uniform, near the threshold, and all exactly 0.5.
    rng = np.random.default_rng(shape[0])
    grids = [
        rng.uniform(0.001, 0.999, shape),
        np.clip(0.5 + 0.02 * rng.standard_normal(shape), 0.001, 0.999),
        np.full(shape, 0.5),
    ]
    for grid in grids:
        grid = grid.astype(F32)
        mask, values = jax.device_get(fn(jnp.asarray(grid)))
        want_mask, want_values = oracle_floyd_steinberg(grid)
        np.testing.assert_array_equal(values.view(np.int32), want_values.view(np.int32))
        np.testing.assert_array_equal(mask, want_mask)


def test_maxpool_matches_oracle():
    ppm = random_ppm(31, 40, seed=1)
    for k in (1, 3, 4, 5):
        np.testing.assert_array_equal(np.asarray(maxpool_ppm(ppm, k)), oracle_maxpool(ppm, k))


def test_a_cut_last_cell_keeps_its_point_on_the_last_pixel_centre():
    # 22 px wide, k=3: the last cell column spans [21, 24), its centre 22.5 is outside the image;
    # its point moves to the last pixel centre, 21.5. (At 23 px its centre 22.5 is inside: kept.)
    for width, last_x in ((22, 21.5), (23, 22.5), (24, 22.5)):
        mask, points, count = jax.device_get(dither_reference(np.full((6, width), 0.9, F32), 3))
        assert mask.shape == (2, 8) and mask[:, 7].any()
        pts = points[: int(count)]
        assert int(count) == int(mask.sum())
        assert pts[:, 0].max() == last_x and pts[:, 1].max() == 4.5


def test_reference_jit_and_vmap():
    ppms = jnp.asarray(np.stack([smooth_ppm(17, 23, seed=s) for s in range(3)]))
    batched = jax.device_get(jax.jit(jax.vmap(lambda p: dither_reference(p, 3)))(ppms))
    for b in range(3):
        single = jax.device_get(dither_reference(ppms[b], 3))
        for got, want in zip(batched, single, strict=True):
            np.testing.assert_array_equal(got[b], want)


@pytest.mark.parametrize("fn", [dither_reference, dither])
def test_bad_inputs(fn):
    ppm = jnp.zeros((8, 8), jnp.float32)
    with pytest.raises(ValueError, match="k must be"):
        fn(ppm, 0)
    with pytest.raises(ValueError, match="k must be"):
        fn(ppm, 3.0)
    with pytest.raises(ValueError, match="2-D"):
        fn(jnp.zeros((2, 8, 8), jnp.float32), 3)
    with pytest.raises(ValueError, match="2-D"):
        fn(jnp.zeros((8,), jnp.float32), 3)
    with pytest.raises(ValueError, match="non-empty"):
        fn(jnp.zeros((0, 8), jnp.float32), 3)


# The Pallas-Triton custom-call target: "__gpu$xla.gpu.triton" in jax 0.10.2; newer jax exports the name.
TRITON_CALL = getattr(pltriton, "CUSTOM_CALL_TARGET_NAME", "__gpu$xla.gpu.triton")


@pytest.mark.parametrize("shape", [(512, 768), (1, 9)])
def test_kernel_lowers_to_triton_for_cuda(shape):
    # No GPU needed: the Triton lowering falls back to a default compute capability.
    ppm = jax.ShapeDtypeStruct(shape, jnp.float32)
    exported = jax.export.export(
        jax.jit(lambda p: dither(p, 3)),
        platforms=["cuda"],
        disabled_checks=[jax.export.DisabledSafetyCheck.custom_call(TRITON_CALL)],
    )(ppm)
    text = exported.mlir_module()
    assert re.findall(r"stablehlo\.custom_call @(\S+?)\(", text) == [TRITON_CALL]
    assert 'name = "floyd_steinberg"' in text
