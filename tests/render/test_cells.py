"""Sub-tile cells: finer lists never drop a weight, and every cell size renders the same image."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from igi_jax import binning, covariance
from igi_jax.render.dense import render_dense
from pallas_kernels import splat_reference as rasterize_lib


def _gaussians(n=160, h=45, w=61, seed=0):
    """A mix the cell boxes must get right: tiny, large, needle-thin rotated, and off-edge ones."""
    k = jax.random.split(jax.random.key(seed), 5)
    means = jax.random.uniform(k[0], (n, 2), minval=-6.0, maxval=1.0) + jnp.array(
        [w + 5.0, h + 5.0]
    ) * jax.random.uniform(k[1], (n, 2))
    scales = jnp.exp(jax.random.uniform(k[2], (n, 2), minval=np.log(0.3), maxval=np.log(9.0)))
    scales = scales.at[: n // 4, 1].set(0.15)  # needles
    theta = jax.random.uniform(k[3], (n,), maxval=np.pi)
    cov = covariance.cov_from_rs(scales, theta)
    colors = jax.random.uniform(k[4], (n, 3))
    mask = jnp.ones(n, bool).at[::7].set(False)
    return means, cov, colors, mask, h, w


def _lists(b: binning.Binning, num_cells: int) -> list[set[int]]:
    ids, s, e = map(np.asarray, (b.gauss_ids, b.tile_start, b.tile_end))
    return [set(ids[s[c] : e[c]].tolist()) for c in range(num_cells)]


@pytest.mark.parametrize("cell", [8, 4])
def test_cell_lists_hold_every_nonzero_weight_and_stay_inside_the_tiles(cell):
    means, cov, _, mask, h, w = _gaussians()
    cap = 8192
    tiles = binning.bin_gaussians(means, cov, mask, h, w, cap)
    cells = binning.bin_gaussians(means, cov, mask, h, w, cap, cell=cell)
    assert int(cells.num_intersections) == int(tiles.num_intersections)
    ty_n, tx_n = binning.tile_grid(h, w)
    cy_n, cx_n = binning.tile_grid(h, w, cell)
    tile_lists, cell_lists = _lists(tiles, ty_n * tx_n), _lists(cells, cy_n * cx_n)
    # Dense per-pixel weights, restricted to the tile support as every renderer does.
    conics = covariance.conic_from_cov(cov)
    ys, xs = np.mgrid[0:h, 0:w]
    sigma = covariance.mahalanobis(
        conics, xs.reshape(-1, 1) + 0.5 - means[:, 0], ys.reshape(-1, 1) + 0.5 - means[:, 1]
    )
    weight = np.asarray(covariance.splat_weight(sigma))  # [P, N]
    tile_of = (ys // 16 * tx_n + xs // 16).reshape(-1)
    cell_of = (ys // cell * cx_n + xs // cell).reshape(-1)
    checked = 0
    for p, gid in zip(*np.nonzero(weight), strict=True):
        if gid in tile_lists[tile_of[p]]:
            assert gid in cell_lists[cell_of[p]], (p, gid)
            checked += 1
    assert checked > 1000
    for c, listed in enumerate(cell_lists):  # a cell only lists Gaussians of its tile
        ty, tx = divmod(c, cx_n)
        assert listed <= tile_lists[(ty * cell // 16) * tx_n + tx * cell // 16]
    assert sum(map(len, cell_lists)) < sum(map(len, tile_lists)) * (16 // cell) ** 2


@pytest.mark.parametrize("cell", [16, 8, 4])
def test_every_cell_size_renders_and_differentiates_like_the_dense_reference(cell):
    """Forward in float32; gradients in float64, where needles are well conditioned and any
    dropped or duplicated (pixel, Gaussian) pair would show far above rounding."""
    means, cov, colors, mask, h, w = _gaussians(seed=1)

    def ours(m, c, col):
        b = binning.bin_gaussians(m, c, mask, h, w, 8192, cell=cell)
        return rasterize_lib.splat_reference(m, covariance.conic_from_cov(c), col, b, h, w)

    dense = lambda m, c, col: render_dense(m, c, col, mask, h, w)  # noqa: E731
    np.testing.assert_allclose(ours(means, cov, colors), dense(means, cov, colors), atol=1e-5)
    with jax.enable_x64(True):
        args = [jnp.asarray(x, jnp.float64) for x in (means, cov, colors)]
        v = jax.random.normal(jax.random.key(9), (h, w, 3), jnp.float64)
        g_ours = jax.grad(lambda *a: jnp.sum(ours(*a) * v), argnums=(0, 1, 2))(*args)
        g_dense = jax.grad(lambda *a: jnp.sum(dense(*a) * v), argnums=(0, 1, 2))(*args)
        for a, b in zip(g_ours, g_dense, strict=True):
            assert a.dtype == jnp.float64 and float(jnp.max(jnp.abs(b))) > 0
            assert float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b))) <= 1e-9


def test_unused_capacity_changes_nothing_and_chunks_count_only_used_ones():
    means, cov, colors, mask, h, w = _gaussians(seed=2)
    conics = covariance.conic_from_cov(cov)
    need = int(binning.count_entries(means, cov, mask, h, w, 8))
    images = []
    for cap in (need, 4 * need + 999):
        b = binning.bin_gaussians(means, cov, mask, h, w, cap, cell=8)
        chunks = rasterize_lib.make_chunks(b, means.shape[0], 16)
        per_cell = np.asarray(b.tile_end - b.tile_start)
        assert int(chunks.count) == int(np.sum(-(-per_cell // 16)))
        images.append(rasterize_lib.splat_reference(means, conics, colors, b, h, w))
    np.testing.assert_array_equal(images[0], images[1])


def test_color_basis_matches_the_render_for_every_cell_size():
    """Exact in float64 (the same (pixel, Gaussian) pairs, summed in another order); in float32
    within the rasterizer's rounding of the float64 truth (σ of a needle cancels large terms, so
    two fusions of the same formula differ by ~1e-5; see test_rasterize.py)."""
    means, cov, colors, mask, h, w = _gaussians(seed=3)
    v = jax.random.normal(jax.random.key(4), (h, w, 3))

    def both(means, cov, colors, v, cell):
        conics = covariance.conic_from_cov(cov)
        b = binning.bin_gaussians(means, cov, mask, h, w, 8192, cell=cell)
        basis = rasterize_lib.color_basis(means, conics, b, h, w)
        _, vjp = jax.vjp(lambda c: rasterize_lib.splat_reference(means, conics, c, b, h, w), colors)
        image = rasterize_lib.splat_reference(means, conics, colors, b, h, w)
        return (
            (rasterize_lib.basis_render(basis, colors, h, w), image),
            (rasterize_lib.basis_adjoint(basis, v, means.shape[0]), vjp(v)[0]),
        )

    for cell in (16, 8):
        with jax.enable_x64(True):
            args64 = [jnp.asarray(x, jnp.float64) for x in (means, cov, colors, v)]
            exact = both(*args64, cell)
            for ours, ref in exact:
                assert ours.dtype == jnp.float64 and float(jnp.max(jnp.abs(ref))) > 0
                assert float(jnp.max(jnp.abs(ours - ref)) / jnp.max(jnp.abs(ref))) <= 1e-12
        for (ours, _), (truth, _) in zip(both(means, cov, colors, v, cell), exact, strict=True):
            assert ours.dtype == jnp.float32
            np.testing.assert_allclose(ours, np.asarray(truth), atol=1e-4 * float(np.abs(truth).max()))


def test_unknown_cell_size_is_an_error():
    means, cov, _, mask, h, w = _gaussians(n=4)
    with pytest.raises(ValueError, match="cell"):
        binning.bin_gaussians(means, cov, mask, h, w, 64, cell=5)


def test_chunks_needed_counts_exactly_what_make_chunks_uses_and_a_short_store_poisons():
    from igi_jax.render import color_operator

    means, cov, colors, mask, h, w = _gaussians(seed=5)
    b = binning.bin_gaussians(means, cov, mask, h, w, 8192, cell=8)
    need = int(rasterize_lib.chunks_needed(means, cov, mask, h, w, chunk=16, cell=8))
    assert need == int(rasterize_lib.make_chunks(b, means.shape[0], 16).count) > 0
    full = color_operator(means, cov, mask, h, w, backend="reference")
    exact = color_operator(means, cov, mask, h, w, backend="reference", max_chunks=need)
    short = color_operator(means, cov, mask, h, w, backend="reference", max_chunks=need - 1)
    np.testing.assert_array_equal(exact[0](colors), full[0](colors))
    v = jnp.ones((h, w, 3))
    np.testing.assert_array_equal(exact[1](v), full[1](v))
    assert bool(jnp.all(jnp.isnan(short[0](colors)))) and bool(jnp.all(jnp.isnan(short[1](v))))


def test_capacity_counts_cell_entries_exactly_and_one_short_poisons():
    from igi_jax.render import color_operator

    means, cov, colors, mask, h, w = _gaussians(seed=6)
    conics = covariance.conic_from_cov(cov)
    entries = int(binning.count_entries(means, cov, mask, h, w, 8))
    ample = binning.bin_gaussians(means, cov, mask, h, w, 4 * entries, cell=8)
    assert int(ample.num_entries) == entries > 0 and ample.capacity == 4 * entries
    exact = binning.bin_gaussians(means, cov, mask, h, w, entries, cell=8)
    assert exact.capacity == entries and not bool(exact.overflowed())
    np.testing.assert_array_equal(exact.gauss_ids, ample.gauss_ids[:entries])
    assert np.all(np.asarray(ample.gauss_ids[entries:]) == means.shape[0])
    np.testing.assert_array_equal(
        rasterize_lib.splat_reference(means, conics, colors, exact, h, w),
        rasterize_lib.splat_reference(means, conics, colors, ample, h, w),
    )
    short = binning.bin_gaussians(means, cov, mask, h, w, entries - 1, cell=8)
    assert bool(short.overflowed())
    assert bool(jnp.all(jnp.isnan(rasterize_lib.splat_reference(means, conics, colors, short, h, w))))
    A, At = color_operator(means, cov, mask, h, w, backend="reference", capacity=entries - 1)
    assert bool(jnp.all(jnp.isnan(A(colors)))) and bool(jnp.all(jnp.isnan(At(jnp.ones((h, w, 3))))))
    with pytest.raises(ValueError, match="capacity"):
        binning.bin_gaussians(means, cov, mask, h, w, 0, cell=8)
