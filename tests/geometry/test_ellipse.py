"""Closed-form triangle ellipses against an explicit least-squares conic fit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from igi_jax import covariance
from igi_jax.geometry.ellipse import ellipse_cov, ellipse_filter, triangle_ellipses


def _random_triangles(n: int, seed: int = 0) -> np.ndarray:
    """[n, 3, 2] triangles of varied size, position and aspect (none degenerate)."""
    rng = np.random.default_rng(seed)
    tris = rng.uniform(-1, 1, (n, 3, 2)) * rng.uniform(0.5, 50, (n, 1, 1)) + rng.uniform(0, 500, (n, 1, 2))
    # Stretch some along a random direction so thin triangles are covered too.
    stretch = np.ones((n, 1, 2))
    stretch[: n // 3, :, 0] = rng.uniform(5, 20, n // 3)[:, None]
    tris = tris * stretch
    e1, e2 = tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]
    area = np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
    return tris[area > 1e-3 * np.linalg.norm(e1, axis=1) * np.linalg.norm(e2, axis=1)]


def _fit_points(tri: np.ndarray) -> np.ndarray:
    """The 3 vertices and 3 edge midpoints the original fits, [6, 2]."""
    return np.concatenate([tri, 0.5 * (tri + np.roll(tri, -1, axis=0))], axis=0)


def _lstsq_shape(tri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fit a x² + b xy + c y² = 1 about the centroid (the original's second stage); E = A⁻¹."""
    g = tri.mean(0)
    q = _fit_points(tri) - g
    design = np.stack([q[:, 0] ** 2, q[:, 0] * q[:, 1], q[:, 1] ** 2], axis=1)
    a, b, c = np.linalg.lstsq(design, np.ones(6), rcond=None)[0]
    return g, np.linalg.inv(np.array([[a, b / 2], [b / 2, c]]))


def _lstsq_angle(tri: np.ndarray) -> float:
    """Direction of the major axis of the least-squares ellipse, radians (x right, y down)."""
    w, v = np.linalg.eigh(_lstsq_shape(tri)[1])
    return float(np.arctan2(v[1, -1], v[0, -1]))


def _assert_same_axis(a: float, b: float) -> None:
    """Two axis directions are equal modulo π (a line has no sign)."""
    d = (a - b) % np.pi
    assert min(d, np.pi - d) < 1e-8, (a, b)


def test_matches_lstsq_conic_fit():
    tris = _random_triangles(300)
    centre, semi, angle = triangle_ellipses(tris)
    cov = ellipse_cov(semi, angle)
    for m, tri in enumerate(tris):
        g, e = _lstsq_shape(tri)
        np.testing.assert_allclose(centre[m], g, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(cov[m], [e[0, 0], e[0, 1], e[1, 1]], rtol=1e-8, atol=1e-8 * e.max())
        eig = np.linalg.eigvalsh(e)[::-1]
        np.testing.assert_allclose(semi[m], np.sqrt(eig), rtol=1e-8)


def test_centre_of_general_conic_fit_is_centroid():
    # cv2.fitEllipse first fits a conic with linear terms; its centre is the centroid, so its
    # second stage (fit about that centre) is exactly the fit above.
    for tri in _random_triangles(100, seed=1):
        q = _fit_points(tri) - tri.mean(0)
        q = q / np.abs(q).max()
        design = np.stack([q[:, 0] ** 2, q[:, 0] * q[:, 1], q[:, 1] ** 2, q[:, 0], q[:, 1]], axis=1)
        coef = np.linalg.lstsq(design, np.ones(6), rcond=None)[0]
        np.testing.assert_allclose(coef[3:], 0.0, atol=1e-9)


def test_vertices_at_mahalanobis_radius():
    tris = _random_triangles(200, seed=2)
    centre, semi, angle = triangle_ellipses(tris)
    cov = ellipse_cov(semi, angle)
    det = cov[:, 0] * cov[:, 2] - cov[:, 1] ** 2
    conic = np.stack([cov[:, 2], -cov[:, 1], cov[:, 0]], -1) / det[:, None]  # float64 inverse
    for pts, expected in (
        (tris, np.sqrt(20 / 17)),
        (0.5 * (tris + np.roll(tris, -1, axis=1)), 0.5 * np.sqrt(20 / 17)),
    ):
        d = pts - centre[:, None]
        r2 = (
            conic[:, None, 0] * d[..., 0] ** 2
            + 2 * conic[:, None, 1] * d[..., 0] * d[..., 1]
            + conic[:, None, 2] * d[..., 1] ** 2
        )
        np.testing.assert_allclose(np.sqrt(r2), expected, rtol=1e-9)


def test_equilateral_is_scaled_circumcircle():
    r = 7.0
    phi = np.deg2rad([90, 210, 330])
    tri = np.stack([r * np.cos(phi), r * np.sin(phi)], -1)[None] + 3.0
    centre, semi, _ = triangle_ellipses(tri)
    np.testing.assert_allclose(centre[0], [3.0, 3.0], atol=1e-12)
    np.testing.assert_allclose(semi[0], r * np.sqrt(17 / 20) * np.ones(2), rtol=1e-12)


def test_axis_order_and_angle_range():
    tris = _random_triangles(500, seed=3)
    _, semi, angle = triangle_ellipses(tris)
    assert np.all(semi[:, 0] >= semi[:, 1]) and np.all(semi[:, 1] > 0)
    assert np.all(angle >= 0) and np.all(angle < np.pi)
    # A triangle long along x has angle ≈ 0 (or π); along y ≈ π/2 (y down, measured from +x to +y).
    flat = np.array([[[0, 0], [20, 1], [10, -1]], [[0, 0], [1, 20], [-1, 10]]], np.float64)
    _, _, a = triangle_ellipses(flat)
    for got, tri in zip(a, flat, strict=True):
        _assert_same_axis(got, _lstsq_angle(tri))
    assert min(a[0], np.pi - a[0]) < 0.1 and abs(a[1] - np.pi / 2) < 0.1  # the convention, in words
    for got, tri in zip(angle, tris, strict=True):
        _assert_same_axis(got, _lstsq_angle(tri))


def test_rotation_sense_matches_covariance():
    # The major axis of a triangle elongated along (1, 1) — down-right in an image — is at +45°.
    tri = np.array([[[0.0, 0.0], [10.0, 10.0], [6.0, 4.0]]])
    _, semi, angle = triangle_ellipses(tri)
    _assert_same_axis(angle[0], _lstsq_angle(tri[0]))
    np.testing.assert_allclose(angle[0], np.pi / 4, atol=0.2)  # ≈ 45°: down-right
    assert ellipse_cov(semi, angle)[0, 1] > 0


def test_ellipse_cov_matches_cov_from_rs():
    rng = np.random.default_rng(4)
    semi = rng.uniform(0.5, 10, (50, 2))
    angle = rng.uniform(0, np.pi, 50)
    for scale in (1.0, 0.54):
        ours = ellipse_cov(semi, angle, scale)
        ref = np.asarray(covariance.cov_from_rs(jnp.asarray(scale * semi), jnp.asarray(angle)))
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


def test_jit_matches_numpy():
    tris = _random_triangles(64, seed=5)
    ref = triangle_ellipses(tris)
    out = jax.jit(triangle_ellipses)(jnp.asarray(tris, jnp.float32))
    assert all(isinstance(o, jax.Array) for o in out)
    np.testing.assert_allclose(out[0], ref[0], rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(out[1], ref[1], rtol=1e-3, atol=1e-3)
    cov = jax.jit(ellipse_cov, static_argnums=2)(out[1], out[2], 0.54)
    np.testing.assert_allclose(cov, ellipse_cov(ref[1], ref[2], 0.54), rtol=1e-3, atol=1e-2)
    keep = jax.jit(ellipse_filter, static_argnums=(2, 3))(out[0], out[1], 600, 600)
    np.testing.assert_array_equal(keep, ellipse_filter(ref[0], ref[1], 600, 600))


def test_numpy_in_numpy_out():
    out = triangle_ellipses(_random_triangles(4))
    assert all(isinstance(o, np.ndarray) and o.dtype == np.float64 for o in out)


@pytest.mark.parametrize(
    "centre, semi, keep",
    [
        ((5, 5), (2, 1), True),
        ((0, 10), (2, 1), True),  # on the border counts as inside (official: < 0 or > W drops)
        ((-0.1, 5), (2, 1), False),
        ((5, 10.1), (2, 1), False),
        ((5, 5), (10, 1), True),  # ratio exactly 10 is kept (official drops > 10)
        ((5, 5), (10.01, 1), False),
        ((5, 5), (3, 0), False),  # collinear triangle
        ((5, 5), (np.nan, np.nan), False),
    ],
)
def test_filter(centre, semi, keep):
    out = ellipse_filter(np.array([centre], float), np.array([semi], float), height=10, width=20)
    assert out.tolist() == [keep]


def test_collinear_triangle_is_filtered():
    tri = np.array([[[0.0, 0.0], [1.0, 1.0], [3.0, 3.0]]])
    centre, semi, _ = triangle_ellipses(tri)
    assert semi[0, 1] < 1e-6
    assert not ellipse_filter(centre, semi, 10, 10)[0]
