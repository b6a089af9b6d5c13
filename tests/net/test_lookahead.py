"""The fine-tune-aware terms: the lookahead runs the real fit (first order), the width prior."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from igi_jax import covariance
from igi_jax.net import InstantGINet, NetConfig, batch_loss, host_geometry
from igi_jax.net.lookahead import fitted
from igi_jax.net.model import predict_ppm, triangle_gaussians
from igi_jax.render import render
from igi_jax.train.config import TrainConfig
from igi_jax.train.step import make_lookahead

H, W = 24, 40


@pytest.fixture(scope="module")
def setup():
    model = InstantGINet(NetConfig.tiny(), rngs=nnx.Rngs(0))
    y, x = np.mgrid[0:H, 0:W] / np.asarray([H, W])[:, None, None]
    image = np.stack([x, y, 0.5 + 0.4 * np.sin(7 * x * y)], -1).astype(np.float32)[None]
    geom = host_geometry(np.full((1, H, W), 0.6, np.float32), 3)
    feats, _ = predict_ppm(model, jnp.asarray(image))
    args = [geom.vertices[0], geom.neighbors[0], geom.centre[0], geom.semi_axes[0], geom.angle[0]]
    g = triangle_gaussians(model, jnp.asarray(image[0]), feats[0], *args)
    la = make_lookahead(TrainConfig(lookahead_steps=5))
    return model, jnp.asarray(image), geom, g, la


def _l2(g, image, geom):
    cov = covariance.cov_from_rs(g.scales, g.theta)
    out = render(g.means, cov, g.colors, geom.mask[0], H, W, capacity=geom.render_capacity)
    return jnp.mean((out - image) ** 2)


def _fitted(g, image, geom, la):
    return fitted(
        g, image, geom.mask[0], geom.vertices[0], geom.semi_axes[0][:, 0], la,
        render_capacity=geom.render_capacity, backend=geom.backend,
    )  # fmt: skip


def test_lookahead_uses_the_default_fit_and_lowers_the_loss(setup):
    _, image, geom, g, la = setup
    assert la.steps == 5 and la.weight == 0.5
    assert make_lookahead(TrainConfig()) is None  # off by default
    g_k = _fitted(g, image[0], geom, la)
    before, after = float(_l2(g, image[0], geom)), float(_l2(g_k, image[0], geom))
    assert after < 0.99 * before, (before, after)
    live = np.asarray(geom.mask[0])
    moved = np.abs(np.asarray(g_k.means - g.means))[live]
    assert moved.max() > 1e-4  # the fit steps moved the Gaussians
    # and kept them where the render capacity bound holds: means in the triangle's box
    v = np.asarray(geom.vertices[0])[live]
    m = np.asarray(g_k.means)[live]
    assert (m >= v.min(1) - 1e-4).all() and (m <= v.max(1) + 1e-4).all()


def test_lookahead_gradient_is_first_order(setup):
    """d/dg L(fitted(g)) = ∇L at the fitted set (the inner steps are not differentiated)."""
    _, image, geom, g, la = setup
    grad_through = jax.grad(lambda p: _l2(_fitted(p, image[0], geom, la), image[0], geom))(g)
    g_k = jax.lax.stop_gradient(_fitted(g, image[0], geom, la))
    grad_at = jax.grad(lambda p: _l2(p, image[0], geom))(g_k)
    for a, b in zip(jax.tree.leaves(grad_through), jax.tree.leaves(grad_at), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-9)
    grad_step0 = jax.grad(lambda p: _l2(p, image[0], geom))(g)
    assert not np.allclose(np.asarray(grad_step0.means), np.asarray(grad_at.means))


def test_batch_loss_mixes_the_fitted_reconstruction_and_the_width_prior(setup):
    model, image, geom, _, la = setup
    target = jnp.full((1, H, W), 0.5, jnp.float32)
    base_loss, base = batch_loss(model, image, target, geom)
    prior_loss, _ = batch_loss(model, image, target, geom, width_prior=0.3)
    np.testing.assert_allclose(float(prior_loss), float(base_loss) + 0.3 * float(base["width"]), rtol=1e-6)
    assert 0 < float(base["width"]) < 3  # scale / semi-axis of the Σ field lies in (0, 3)
    half = dataclasses.replace(la, weight=0.25)
    la_loss, aux = batch_loss(model, image, target, geom, lookahead=half)
    expected = 0.75 * float(aux["recon"]) + 0.25 * float(aux["recon_fitted"])
    np.testing.assert_allclose(float(la_loss - aux["focal"] - aux["scale_floor"]), expected, rtol=1e-5)
    assert float(aux["psnr_fitted"]) > float(aux["psnr"])
