"""Field activations, feature organisation and the bilinear sampler (pure functions)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from igi_jax.net import fields
from igi_jax.net.config import NetConfig
from igi_jax.render import render
from igi_jax.sampling import bilinear


def test_scale_activation_is_half_at_zero_and_c1():
    f = fields.scale_activation
    assert float(f(jnp.float32(0.0))) == 0.5
    # Both branches have slope 0.25 at 0 (d/dx 50 tanh(0.02 x) = 1 there).
    d_left = jax.grad(lambda x: f(x))(jnp.float32(-1e-4))
    d_right = jax.grad(lambda x: f(x))(jnp.float32(1e-4))
    np.testing.assert_allclose([d_left, d_right], [0.25, 0.25], rtol=1e-3)


def test_scale_activation_range_and_hand_values():
    x = jnp.linspace(-1e4, 1e4, 200_001, dtype=jnp.float32)
    y = np.asarray(fields.scale_activation(x))
    assert y.min() > 0.0 and y.max() <= 3.0
    assert y[0] < 1e-9 and y[-1] > 3.0 - 1e-6
    # Hand-computed from the official formula (torch softplus with beta=-2, threshold=4).
    xp = 50 * math.tanh(0.02 * 1.0)  # linear piece: 0.25 x' + 0.5
    assert float(fields.scale_activation(jnp.float32(1.0))) == pytest.approx(0.25 * xp + 0.5, rel=1e-6)
    xp = 50 * math.tanh(0.02 * 10.0)  # x' = 9.87: softplus piece
    want = -0.5 * math.log1p(math.exp(-2 * (0.25 * xp - 2.5))) + 3.0
    assert float(fields.scale_activation(jnp.float32(10.0))) == pytest.approx(want, rel=1e-6)
    xp = 50 * math.tanh(0.02 * -3.0)
    assert float(fields.scale_activation(jnp.float32(-3.0))) == pytest.approx(
        0.5 * math.exp(0.5 * xp), rel=1e-6
    )


def test_rotation_bias_is_identity_at_zero_output():
    angle = jnp.asarray([0.01, 0.4, 1.0, 2.0, 3.1], jnp.float32)  # radians in [0, π)
    theta = jax.nn.sigmoid(fields.rotation_logit(jnp.zeros_like(angle), angle)) * 2 * jnp.pi
    np.testing.assert_allclose(theta, angle, rtol=1e-5)
    # A non-zero output turns it by tanh(out) in logit space (the official formula, float64 here).
    for out in (5.0, -0.7):
        turned = jax.nn.sigmoid(fields.rotation_logit(jnp.full_like(angle, out), angle)) * 2 * jnp.pi
        frac = np.asarray(angle, np.float64) / (2 * np.pi)
        want = 2 * np.pi / (1 + np.exp(-(np.tanh(out) + np.log(frac / (1 - frac)))))
        np.testing.assert_allclose(turned, want, rtol=1e-5)
        assert np.all(np.sign(np.asarray(turned) - np.asarray(angle)) == np.sign(out))


def test_bilinear_matches_explicit_formula():
    g = np.arange(4 * 5 * 2, dtype=np.float32).reshape(4, 5, 2) ** 1.5  # [H=4, W=5, C=2]
    grid = jnp.asarray(g)
    # At a pixel centre (j + 0.5, i + 0.5): exactly that pixel.
    np.testing.assert_array_equal(bilinear(grid, jnp.asarray([[3.5, 2.5]])), g[2, 3][None])
    # Off-centre: x = 2.3, y = 1.8 → index space (1.8, 1.3): x0 = 1, y0 = 1, wx = 0.8, wy = 0.3.
    wx, wy = 0.8, 0.3
    want = (1 - wy) * ((1 - wx) * g[1, 1] + wx * g[1, 2]) + wy * ((1 - wx) * g[2, 1] + wx * g[2, 2])
    np.testing.assert_allclose(bilinear(grid, jnp.asarray([[2.3, 1.8]]))[0], want, rtol=1e-6)
    # Outside the outermost centres the border is repeated (x = 0, y = 0 → pixel (0, 0)).
    np.testing.assert_allclose(
        bilinear(grid, jnp.asarray([[0.0, 0.0], [5.0, 4.0]])), np.stack([g[0, 0], g[3, 4]]), rtol=1e-6
    )


def test_sampler_and_renderer_share_the_pixel_centre():
    """A Gaussian at a pixel centre renders its peak at that pixel; sampling there gives the peak."""
    h, w = 12, 16
    means = jnp.asarray([[5.5, 3.5]], jnp.float32)  # centre of pixel (row 3, col 5)
    cov = jnp.asarray([[0.8, 0.0, 0.8]], jnp.float32)
    img = render(means, cov, jnp.ones((1, 3), jnp.float32), jnp.ones((1,), bool), h, w, backend="reference")
    assert np.unravel_index(np.argmax(np.asarray(img[..., 0])), (h, w)) == (3, 5)
    np.testing.assert_allclose(bilinear(img, means)[0], [1.0, 1.0, 1.0], rtol=1e-6)
    # Half-way between two pixel centres the render is symmetric and sampling averages it.
    mid = jnp.asarray([[5.0, 3.5]], jnp.float32)
    img2 = render(mid, cov, jnp.ones((1, 3), jnp.float32), jnp.ones((1,), bool), h, w, backend="reference")
    np.testing.assert_allclose(img2[3, 4], img2[3, 5], rtol=1e-6)
    np.testing.assert_allclose(bilinear(img2, mid)[0], img2[3, 5], rtol=1e-6)


def test_organise_dimensions_and_triangle_normalisation():
    cfg = NetConfig.tiny()
    h, w = 20, 30
    image = jnp.full((h, w, 3), 0.25, jnp.float32)
    feats = jnp.zeros((h, w, cfg.feature_dim), jnp.float32)
    verts = jnp.asarray([[[2.0, 2.0], [12.0, 2.0], [2.0, 8.0]]], jnp.float32)
    centre = verts.mean(1)
    geo, sampled = fields.organise(image, feats, verts, centre, jnp.asarray([[4.0, 2.0]]), jnp.asarray([0.5]))
    assert geo.shape == (1, 22) and sampled.shape == (1, 4 * cfg.feature_dim)
    assert geo.shape[1] + cfg.feature_dim == cfg.bc_in == 86
    tri = np.asarray(geo[0, 4:10]).reshape(3, 2)
    # Normalised to unit area: the centred, scaled triangle has area 1 and centroid 0.
    e1, e2 = tri[1] - tri[0], tri[2] - tri[0]
    area = 0.5 * abs(e1[0] * e2[1] - e1[1] * e2[0])
    assert area == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(tri.mean(0), 0.0, atol=1e-6)
    np.testing.assert_allclose(geo[0, 10:], 0.25)  # colours at 3 vertices + centre
    assert float(geo[0, 2]) == pytest.approx(2.0 / 4.0001, rel=1e-6)  # minor / (major + 1e-4)
    assert float(geo[0, 3]) == pytest.approx(0.5 / (2 * math.pi), rel=1e-6)
