"""The host stage: PPM → dithered points → Delaunay → padded Geometry."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from igi_jax import binning
from igi_jax.buckets import bucket
from igi_jax.covariance import cov_from_rs
from igi_jax.net.geometry import MAX_SCALE_FACTOR, host_geometry, host_geometry_with_info

H, W = 45, 61  # deliberately not multiples of k or 16


def _smooth_ppm(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:H, 0:W] / np.asarray([H, W])[:, None, None]
    a, b = rng.uniform(1, 3, 2)
    return (0.5 + 0.4 * np.sin(a * 6 * x) * np.cos(b * 5 * y)).astype(np.float32)


def test_point_count_grows_with_ppm_mass():
    levels = [0.05, 0.15, 0.3, 0.5, 0.8]
    ppm = np.stack([np.full((H, W), p, np.float32) for p in levels])
    _, info = host_geometry_with_info(ppm, 3)
    points, tris = info["points"], info["triangles"]
    assert all(a < b for a, b in zip(points, points[1:], strict=False)), points
    assert all(a < b for a, b in zip(tris, tris[1:], strict=False)), tris


def test_point_count_falls_with_kernel_size():
    ppm = _smooth_ppm()[None]
    counts = [host_geometry_with_info(ppm, k)[1]["points"][0] for k in (3, 4, 5)]
    assert counts[0] > counts[1] > counts[2], counts


def test_triangles_cover_the_image_without_overlap():
    geom = host_geometry(np.stack([_smooth_ppm(0), _smooth_ppm(1) * 0.5]), 3)
    rng = np.random.default_rng(0)
    samples = rng.uniform([0, 0], [W, H], (3000, 2))
    for b in range(2):
        m = np.asarray(geom.mask[b])
        v = np.asarray(geom.vertices[b], np.float64)[m]
        e1, e2 = v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]
        area = 0.5 * np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
        assert area.min() > 0
        assert area.sum() == pytest.approx(H * W, rel=1e-9)  # together with coverage: no overlap
        d = samples[None, :, None] - v[:, None]  # [M, S, 3, 2]
        e = (np.roll(v, -1, axis=1) - v)[:, None]
        cross = e[..., 0] * d[..., 1] - e[..., 1] * d[..., 0]
        inside = np.all(cross >= -1e-9, -1) | np.all(cross <= 1e-9, -1)
        assert inside.any(0).all(), "a point of the image is in no triangle"


def test_geometry_layout_padding_and_neighbours():
    ppm = np.stack([_smooth_ppm(0), np.full((H, W), 0.1, np.float32)])
    geom, info = host_geometry_with_info(ppm, 3)
    b, t = geom.mask.shape
    assert b == 2 and t == bucket(max(info["triangles"]))
    assert geom.vertices.shape == (2, t, 3, 2) and geom.neighbors.shape == (2, t, 3)
    assert geom.semi_axes.shape == (2, t, 2) and geom.angle.shape == (2, t)
    np.testing.assert_array_equal(geom.num_triangles(), info["triangles"])
    nb = np.asarray(geom.neighbors)
    assert nb.min() >= 0 and nb.max() < t
    # Neighbours of real triangles are real triangles (hull edges point to themselves).
    for i in range(2):
        m = np.asarray(geom.mask[i])
        assert m[nb[i][m]].all()
    assert np.isfinite(np.asarray(geom.vertices)).all() and np.asarray(geom.semi_axes).min() > 0
    with pytest.raises(ValueError, match="exceed"):
        host_geometry(ppm, 3, capacity=10)
    with pytest.raises(ValueError, match="kernel size"):
        host_geometry(ppm, 2)
    with pytest.raises(ValueError, match=r"\[B, H, W\]"):
        host_geometry(ppm[0], 3)


def test_empty_ppm_still_triangulates_the_image():
    geom, info = host_geometry_with_info(np.zeros((1, H, W), np.float32), 3)
    assert info["triangles"][0] >= 2
    m = np.asarray(geom.mask[0])
    v = np.asarray(geom.vertices[0], np.float64)[m]
    e1, e2 = v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]
    assert (0.5 * np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])).sum() == pytest.approx(H * W)


@pytest.mark.parametrize("backend,cell", [("reference", 8), ("pallas-interpret", 16)])
def test_render_capacity_bounds_the_largest_gaussians(backend, cell):
    """Every Gaussian the fields can make (mean anywhere in its triangle, scales ≤ 3 × semi-axes)."""
    geom = host_geometry(_smooth_ppm(2)[None], 3, backend=backend)
    m = np.asarray(geom.mask[0])
    v = np.asarray(geom.vertices[0])[m]
    semi = np.asarray(geom.semi_axes[0])[m]
    rng = np.random.default_rng(0)
    worst = 0
    for _ in range(4):
        bc = rng.dirichlet([0.3, 0.3, 0.3], len(v))
        means = np.einsum("tk,tkd->td", bc, v)
        scales = MAX_SCALE_FACTOR * semi[:, :1] * np.ones((1, 2))  # round: the widest reach
        cov = cov_from_rs(jnp.asarray(scales, jnp.float32), jnp.zeros(len(v)))
        n = int(
            binning.count_entries(jnp.asarray(means, jnp.float32), cov, jnp.ones(len(v), bool), H, W, cell)
        )
        worst = max(worst, n)
    assert worst <= geom.render_capacity


def test_fixed_capacities_for_a_training_loop():
    ppm = _smooth_ppm(3)[None]
    free = host_geometry(ppm, 3)
    fixed = host_geometry(ppm, 3, capacity=4096, min_render_capacity=4 * free.render_capacity)
    assert fixed.capacity == 4096 and fixed.render_capacity == 4 * free.render_capacity
    # A floor below the bound changes nothing.
    assert host_geometry(ppm, 3, min_render_capacity=1).render_capacity == free.render_capacity
    np.testing.assert_array_equal(
        np.asarray(fixed.vertices[0, : free.capacity]), np.asarray(free.vertices[0])
    )


def test_per_image_sizes_keep_the_image_cells_and_put_the_border_on_each_image_edge():
    from igi_jax.net.geometry import dither_batch, geometry_from_points

    ppm = np.full((2, 30, 30), 0.6, np.float32)
    sizes = np.asarray([[30, 30], [25, 28]], np.int32)
    points, counts = dither_batch(jnp.asarray(ppm), 3, sizes=jnp.asarray(sizes))
    geom, info = geometry_from_points(points, counts, 30, 30, sizes=sizes)
    verts = np.asarray(geom.vertices)
    for i, (h, w) in enumerate(sizes):
        live = verts[i][np.asarray(geom.mask)[i]].reshape(-1, 2)
        assert live[:, 0].max() == w and live[:, 1].max() == h  # the border points lie on its edges
        inner = live[(live[:, 0] > 0) & (live[:, 0] < w) & (live[:, 1] > 0) & (live[:, 1] < h)]
        # Dithered points: the 3×3 cells that overlap the h × w image, a cut last cell's on the
        # last pixel centre (as dithering the image alone gives, pallas_kernels/dither_reference.py).
        assert inner[:, 0].max() == min(-(-w // 3) * 3 - 1.5, w - 0.5)
        assert inner[:, 1].max() == min(-(-h // 3) * 3 - 1.5, h - 0.5)
    assert info["points"][1] < info["points"][0]
    # The full-size image gets what dithering without sizes gives.
    whole, n_whole = dither_batch(jnp.asarray(ppm[:1]), 3)
    np.testing.assert_array_equal(np.asarray(points[0]), np.asarray(whole[0]))
    assert int(counts[0]) == int(n_whole[0])


def test_points_of_a_smaller_image_are_those_of_dithering_its_mask_alone():
    """The one cut-cell rule: the cells of the h × w image at the top left of a bigger grid give
    the points that the h × w image's own grid gives (same mask)."""
    from pallas_kernels.dither_reference import points_from_mask

    rng = np.random.default_rng(0)
    big = jnp.asarray(rng.random((10, 10)) < 0.5)
    for h, w in [(30, 30), (25, 28), (1, 29), (28, 4)]:
        small = big[: -(-h // 3), : -(-w // 3)]
        want, n = points_from_mask(small, 3, h, w)
        got, m = jax.jit(points_from_mask, static_argnums=1)(big, 3, jnp.int32(h), jnp.int32(w))
        assert int(m) == int(n)
        np.testing.assert_array_equal(np.asarray(got[: int(m)]), np.asarray(want[: int(n)]))
