"""The fine-tune-aware terms: the lookahead runs the real fit (first order) or distils towards it,
the width prior."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from igi_jax import covariance
from igi_jax.net import InstantGINet, NetConfig, batch_loss, host_geometry
from igi_jax.net.lookahead import distill_distance, fitted
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


def _fitted(g, image, geom, la, valid=None):
    return fitted(
        g, image, geom.mask[0], geom.vertices[0], geom.semi_axes[0][:, 0], la,
        render_capacity=geom.render_capacity, backend=geom.backend, valid=valid,
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


def test_distill_distance_is_the_size_free_gap_and_pulls_towards_the_target(setup):
    _, image, geom, g, la = setup
    mask, a = geom.mask[0], geom.semi_axes[0][:, 0]
    assert float(distill_distance(g, g, mask, a)) == 0.0
    # a shift of 0.1 semi-axes in x, and 0.2 on one colour channel: 0.01 + 0.04 per Gaussian
    moved = g._replace(means=g.means.at[:, 0].add(0.1 * a), colors=g.colors.at[:, 1].add(0.2))
    np.testing.assert_allclose(float(distill_distance(moved, g, mask, a)), 0.05, rtol=1e-4)
    # the same shape gap in pixels² counts the same on a triangle twice the size once normalised
    wider = g._replace(scales=g.scales * 1.1)
    d1 = float(distill_distance(wider, g, mask, a))
    d2 = float(
        distill_distance(g._replace(scales=2 * g.scales * 1.1), g._replace(scales=2 * g.scales), mask, 2 * a)
    )
    assert d1 > 0 and d2 == pytest.approx(d1, rel=1e-4)
    # dead rows do not count; the target gets no gradient
    junk = g._replace(colors=jnp.where(mask[:, None], g.colors, 99.0))
    assert float(distill_distance(junk, g, mask, a)) == 0.0
    target = _fitted(g, image[0], geom, la)
    grad_t = jax.grad(lambda t: distill_distance(g, t, mask, a))(target)
    assert all(not np.asarray(x).any() for x in jax.tree.leaves(grad_t))
    step = jax.grad(lambda p: distill_distance(p, target, mask, a))(g)
    before = float(distill_distance(g, target, mask, a))
    after = float(distill_distance(jax.tree.map(lambda p, d: p - 0.01 * d, g, step), target, mask, a))
    assert before > 0 and after < before


def test_the_inner_fit_sees_the_valid_pixels_only(setup):
    """On a crop whose image ends early, the fitted set does not depend on the padding."""
    _, image, geom, g, la = setup
    valid = (jnp.arange(H)[:, None] < H - 5) & (jnp.arange(W)[None, :] < W)
    noisy = jnp.where(valid[..., None], image[0], jax.random.uniform(jax.random.key(1), image[0].shape))
    a = _fitted(g, jnp.where(valid[..., None], image[0], 0.0), geom, la, valid)
    b = _fitted(g, noisy, geom, la, valid)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)
    c = _fitted(g, noisy, geom, la)
    assert not np.allclose(np.asarray(c.colors), np.asarray(a.colors))


def test_batch_loss_adds_the_weighted_distillation(setup):
    model, image, geom, _, la = setup
    target = jnp.full((1, H, W), 0.5, jnp.float32)
    distil = dataclasses.replace(la, mode="distill", weight=2.0)
    loss, aux = batch_loss(model, image, target, geom, lookahead=distil)
    assert float(aux["distill"]) > 0 and float(aux["psnr_fitted"]) > float(aux["psnr"])
    expected = float(aux["recon"] + aux["focal"] + aux["scale_floor"] + 2.0 * aux["distill"])
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="mode"):
        dataclasses.replace(la, mode="other")
    with pytest.raises(ValueError, match="lookahead_mode"):
        TrainConfig(lookahead_steps=2, lookahead_mode="other")
    assert (
        TrainConfig(lookahead_steps=2, lookahead_mode="distill", lookahead_weight=5.0).lookahead_weight == 5.0
    )
    with pytest.raises(ValueError, match="lookahead_weight"):
        TrainConfig(lookahead_steps=2, lookahead_weight=5.0)  # a share of the loss in "loss" mode
