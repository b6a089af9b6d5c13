"""Delaunay triangulation, border points and triangle padding."""

from __future__ import annotations

import math

import numpy as np
import pytest

from igi_jax.geometry.triangulate import (
    border_points,
    max_triangles,
    mean_nn_distance,
    pad_triangles,
    triangulate,
    with_border,
)

H, W = 48, 64


def _areas(v: np.ndarray) -> np.ndarray:
    e1, e2 = v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]
    return 0.5 * np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])


def _interior_points(n: int = 60, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform([1.0, 1.0], [W - 1.0, H - 1.0], (n, 2))


def _coverage(vertices: np.ndarray, triangles: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """For each sample, how many triangles strictly contain it (edge functions of one sign)."""
    v = vertices[triangles][:, None]  # [M, 1, 3, 2]
    p = samples[None, :, None]  # [1, S, 1, 2]
    e = np.roll(v, -1, axis=2) - v  # edge k from vertex k to k+1
    d = p - v
    cross = e[..., 0] * d[..., 1] - e[..., 1] * d[..., 0]  # [M, S, 3]
    inside = np.all(cross > 0, axis=-1) | np.all(cross < 0, axis=-1)
    return inside.sum(0)


@pytest.mark.parametrize("seed", [0, 1])
def test_partition_of_the_image(seed):
    pts = with_border(_interior_points(seed=seed), H, W)
    tri = triangulate(pts)
    np.testing.assert_allclose(_areas(pts[tri.triangles]).sum(), W * H, rtol=1e-12)
    rng = np.random.default_rng(10 + seed)
    samples = rng.uniform([0, 0], [W, H], (8000, 2))
    assert np.all(_coverage(pts, tri.triangles, samples) == 1)


def test_grid_points_cocircular():
    # Leaf centres of a quad-tree are on grids: many cocircular quadruples.
    g = np.stack(np.meshgrid(np.arange(8) * 4 + 2.0, np.arange(6) * 4 + 2.0), -1).reshape(-1, 2)
    pts = np.concatenate([g, [[0, 0], [32, 0], [0, 24], [32, 24]]])
    tri = triangulate(pts)
    assert np.all(_areas(pts[tri.triangles]) > 1e-9)
    np.testing.assert_allclose(_areas(pts[tri.triangles]).sum(), 32 * 24)
    samples = np.random.default_rng(0).uniform([0, 0], [32, 24], (5000, 2))
    assert np.all(_coverage(pts, tri.triangles, samples) == 1)


def test_rectangle_corners_only():
    # 4 cocircular points: incremental Qhull cannot start; we fall back to the one-shot mode.
    pts = np.array([[0, 0], [50, 0], [0, 1], [50, 1]], float)
    tri = triangulate(pts)
    assert tri.triangles.shape == (2, 3)
    np.testing.assert_allclose(_areas(pts[tri.triangles]), [25.0, 25.0])  # two halves of the rectangle


def test_neighbors_valid():
    pts = with_border(_interior_points(80, seed=3), H, W)
    tri = triangulate(pts)
    m = len(tri.triangles)
    assert tri.neighbors.shape == (m, 3) and tri.neighbors.dtype == np.int32
    assert tri.neighbors.min() >= 0 and tri.neighbors.max() < m
    edge_count: dict[tuple[int, int], int] = {}
    for t in tri.triangles:
        for k in range(3):
            e = tuple(sorted((t[(k + 1) % 3], t[(k + 2) % 3])))
            edge_count[e] = edge_count.get(e, 0) + 1
    for i, (t, nb) in enumerate(zip(tri.triangles, tri.neighbors, strict=True)):
        for k in range(3):
            edge = {t[(k + 1) % 3], t[(k + 2) % 3]}
            if nb[k] == i:  # hull edge: no other triangle has it, and it lies on the image border
                assert edge_count[tuple(sorted(edge))] == 1
                ends = pts[list(edge)]
                on_x = np.all(np.isin(ends[:, 0], [0, W])) and ends[0, 0] == ends[1, 0]
                on_y = np.all(np.isin(ends[:, 1], [0, H])) and ends[0, 1] == ends[1, 1]
                assert on_x or on_y
            else:  # shared edge, and the relation is symmetric
                assert edge <= set(tri.triangles[nb[k]].tolist())
                assert i in tri.neighbors[nb[k]]


def test_border_points_placement():
    pts = _interior_points(60)
    d = mean_nn_distance(pts)
    diff = np.linalg.norm(pts[:, None] - pts[None], axis=-1) + np.eye(len(pts)) * 1e9
    np.testing.assert_allclose(d, diff.min(1).mean())
    b = border_points(pts, H, W)
    nx, ny = math.ceil(W / (3 * d)), math.ceil(H / (3 * d))
    assert len(np.unique(b, axis=0)) == len(b) == 2 * nx + 2 * ny - 4
    for corner in ([0, 0], [W, 0], [0, H], [W, H]):
        assert np.any(np.all(b == corner, axis=1))
    top = np.sort(b[b[:, 1] == 0, 0])
    left = np.sort(b[b[:, 0] == 0, 1])
    np.testing.assert_allclose(top, np.linspace(0, W, nx))
    np.testing.assert_allclose(left, np.linspace(0, H, ny))
    assert np.all((b[:, 0] == 0) | (b[:, 0] == W) | (b[:, 1] == 0) | (b[:, 1] == H))


def test_border_points_inset_matches_original_pixel_centres():
    # The original puts border points on x ∈ {0, W−1} in integer-centre coordinates = {0.5, W−0.5}.
    b = border_points(_interior_points(), H, W, inset=0.5)
    assert b[:, 0].min() == 0.5 and b[:, 0].max() == W - 0.5
    assert b[:, 1].min() == 0.5 and b[:, 1].max() == H - 0.5


def test_border_points_sparse_input_keeps_corners():
    b = border_points(np.array([[10.0, 10.0], [50.0, 40.0]]), H, W)
    assert len(b) == 4  # 3d exceeds the image: still the 4 corners


def test_pad_triangles():
    pts = with_border(_interior_points(30), H, W)
    tri = triangulate(pts)
    m = len(tri.triangles)
    t, nb, mask = pad_triangles(tri)
    assert len(t) == max_triangles(len(pts)) == 2 * len(pts) - 5 >= m
    assert mask.sum() == m and mask[:m].all()
    np.testing.assert_array_equal(t[:m], tri.triangles)
    np.testing.assert_array_equal(nb[:m], tri.neighbors)
    np.testing.assert_array_equal(nb[m:], np.repeat(np.arange(m, len(t))[:, None], 3, 1))
    assert t.max() < len(pts) and nb.max() < len(t)
    t2, _, mask2 = pad_triangles(tri, capacity=256)
    assert t2.shape == (256, 3) and mask2.sum() == m
    with pytest.raises(ValueError, match="exceed"):
        pad_triangles(tri, capacity=m - 1)


def test_triangle_count_bound():
    for seed in range(5):
        pts = np.random.default_rng(seed).uniform(0, 10, (3 + seed * 7, 2))
        assert len(triangulate(pts).triangles) <= max_triangles(len(pts))


@pytest.mark.parametrize(
    "points, match",
    [
        (np.zeros((2, 2)), "at least 3"),
        (np.array([[0, 0], [1, 1], [2, 2], [5, 5.0]]), "collinear"),
        (np.ones((5, 2)), "collinear or coincident"),
        (np.array([[0, 0], [1, 0], [np.nan, 1.0]]), "NaN"),
        (np.zeros((4, 3)), r"\[P, 2\]"),
    ],
)
def test_bad_points(points, match):
    with pytest.raises(ValueError, match=match):
        triangulate(points)


def test_duplicates_allowed():
    pts = np.concatenate([_interior_points(20), _interior_points(5)])
    tri = triangulate(with_border(pts, H, W))
    np.testing.assert_allclose(_areas(tri.vertices[tri.triangles]).sum(), W * H)


def test_border_bad_input():
    with pytest.raises(ValueError, match="distinct"):
        border_points(np.ones((3, 2)), H, W)
    with pytest.raises(ValueError, match="inset"):
        border_points(_interior_points(), H, W, inset=30)
