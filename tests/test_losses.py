"""Tests for igi_jax.losses against NumPy versions of the official Instant-GI loss formulas."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import ndimage

from igi_jax.losses import dssim_loss, focal_mse, l2_dssim_loss, l2_loss
from igi_jax.metrics import ssim

H, W, C = 40, 48, 3


def _images(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(render, target, weight): smooth target in [0, 1], a render that overshoots it a little, and the
    official per-pixel weight clamp(1 / (PPM + 0.01), 1, 10) for a random PPM in [0, 1]."""
    rng = np.random.default_rng(seed)
    target = ndimage.gaussian_filter(rng.random((H, W, C)), sigma=(2, 2, 0))
    target = (target - target.min()) / (target.max() - target.min())
    render = target + 0.1 * rng.standard_normal(target.shape)  # unclamped, as a raw Gaussian render
    ppm = rng.random((H, W))
    weight = np.clip(1.0 / (ppm + 0.01), 1.0, 10.0)
    return render.astype(np.float32), target.astype(np.float32), weight.astype(np.float32)


def _np_official_ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Official `generalizable_model/ssim.py` map `[H, W, C]`, re-derived: torch conv2d(padding=5) of the
    outer product of 11 Gaussian taps (sigma 1.5) is a zero-filled 2-D correlation; C1 = 1e-4, C2 = 9e-4."""
    x = np.arange(11) - 5
    g = np.exp(-(x**2) / (2 * 1.5**2))
    win = np.outer(g, g) / g.sum() ** 2
    out = np.empty(a.shape)
    for c in range(a.shape[-1]):
        p, q = a[..., c].astype(np.float64), b[..., c].astype(np.float64)

        def filt(z: np.ndarray) -> np.ndarray:
            return ndimage.correlate(z, win, mode="constant", cval=0.0)

        mp, mq = filt(p), filt(q)
        vp, vq, cov = filt(p * p) - mp**2, filt(q * q) - mq**2, filt(p * q) - mp * mq
        out[..., c] = (2 * mp * mq + 1e-4) * (2 * cov + 9e-4) / ((mp**2 + mq**2 + 1e-4) * (vp + vq + 9e-4))
    return out


def _np_official_rgb_loss(render, target, weight, lam=0.7) -> float:
    """Official `RGBLoss`: lam * mean(w * (r - t)^2) + (1 - lam) * mean(w * (1 - ssim_map)), w broadcast over
    channels and *not* normalised by its sum."""
    w = weight.astype(np.float64)[..., None]
    mse = np.mean(w * (render.astype(np.float64) - target) ** 2)
    dssim = np.mean(w * (1.0 - _np_official_ssim_map(render, target)))
    return lam * mse + (1 - lam) * dssim


def test_l2_loss_matches_numpy():
    render, target, weight = _images()
    err2 = (render.astype(np.float64) - target) ** 2
    np.testing.assert_allclose(float(l2_loss(render, target)), err2.mean(), rtol=1e-5)
    np.testing.assert_allclose(
        float(l2_loss(render, target, weight=weight)), (weight[..., None] * err2).mean(), rtol=1e-5
    )


def test_l2_dssim_matches_official_formula():
    render, target, weight = _images()
    expected = _np_official_rgb_loss(render, target, weight)
    np.testing.assert_allclose(float(l2_dssim_loss(render, target, weight=weight)), expected, rtol=1e-5)
    unweighted = _np_official_rgb_loss(render, target, np.ones_like(weight), lam=0.4)
    np.testing.assert_allclose(float(l2_dssim_loss(render, target, lam=0.4)), unweighted, rtol=1e-5)


def test_batched_weights():
    r0, t0, w0 = _images(seed=0)
    r1, t1, w1 = _images(seed=1)
    render, target, weight = np.stack([r0, r1]), np.stack([t0, t1]), np.stack([w0, w1])
    expected = np.mean([_np_official_rgb_loss(r0, t0, w0), _np_official_rgb_loss(r1, t1, w1)])
    np.testing.assert_allclose(float(l2_dssim_loss(render, target, weight=weight)), expected, rtol=1e-5)
    # A single [H, W] weight broadcasts over the batch.
    shared = np.mean([_np_official_rgb_loss(r0, t0, w0), _np_official_rgb_loss(r1, t1, w0)])
    np.testing.assert_allclose(float(l2_dssim_loss(render, target, weight=w0)), shared, rtol=1e-5)


def test_dssim_valid_padding_is_one_minus_standard_ssim():
    render, target, weight = _images()
    clipped = np.clip(render, 0, 1)  # ssim() clamps the render; compare on an in-range one
    np.testing.assert_allclose(
        float(dssim_loss(clipped, target, padding="valid")), 1.0 - float(ssim(clipped, target)), atol=1e-6
    )
    # The weight is cropped to the valid region (5 px per side).
    smap = _np_official_ssim_map(render, target)[5:-5, 5:-5]  # zero fill never reaches the valid region
    expected = np.mean(weight[5:-5, 5:-5, None] * (1.0 - smap))
    np.testing.assert_allclose(
        float(dssim_loss(render, target, weight=weight, padding="valid")), expected, rtol=1e-4
    )


def test_official_zero_padded_dssim_differs_from_metric():
    # Documents the finding: the official loss averages a zero-padded map, so 1 − loss ≠ SSIM; the
    # gap is exactly the zero-padded border's share of the mean (NumPy map, float64).
    render, target, _ = _images()
    clipped = np.clip(render, 0, 1)
    gap = (1.0 - float(dssim_loss(clipped, target))) - float(ssim(clipped, target))
    smap = _np_official_ssim_map(clipped, target)
    expected = smap.mean() - smap[5:-5, 5:-5].mean()
    assert abs(expected) > 1e-3  # a real difference, not rounding
    np.testing.assert_allclose(gap, expected, rtol=1e-3)


@pytest.mark.parametrize("padding", ["zeros", "valid", "reflect"])
def test_dssim_of_identical_images_is_zero(padding):
    _, target, weight = _images()
    np.testing.assert_allclose(
        float(dssim_loss(target, target, weight=weight, padding=padding)), 0.0, atol=1e-6
    )


def test_focal_mse_matches_numpy():
    rng = np.random.default_rng(0)
    pred, target = rng.random((2, H, W)).astype(np.float32)
    e = np.abs(pred.astype(np.float64) - target)
    np.testing.assert_allclose(
        float(focal_mse(pred, target)), np.mean((1 - np.exp(-e)) ** 2 * e**2), rtol=1e-5
    )
    np.testing.assert_allclose(float(focal_mse(pred, target, gamma=0.0)), np.mean(e**2), rtol=1e-5)
    assert float(focal_mse(target, target)) == 0.0


def _all_losses(weight):
    return {
        "l2": lambda r, t: l2_loss(r, t, weight=weight),
        "dssim": lambda r, t: dssim_loss(r, t, weight=weight),
        "l2_dssim": lambda r, t: l2_dssim_loss(r, t, weight=weight),
        "focal": focal_mse,
    }


@pytest.mark.parametrize("name", ["l2", "dssim", "l2_dssim", "focal"])
def test_gradient_is_zero_at_the_optimum(name):
    _, target, weight = _images()
    g_opt = np.asarray(jax.jit(jax.grad(_all_losses(weight)[name]))(target, target))
    assert np.all(np.isfinite(g_opt))  # render == target: minimum, |pred − target| kinks at 0
    np.testing.assert_allclose(g_opt, 0.0, atol=1e-6)


# jnp.mean's element count is cast to the mean's dtype; traced under enable_x64, jax 0.10.2 warns
# that float64 is unavailable for that constant (the count is exact in either dtype; the losses
# themselves run in float64: a float32 run could not meet rtol=1e-6).
@pytest.mark.filterwarnings("ignore:Explicitly requested dtype float64:UserWarning")
@pytest.mark.parametrize("name", ["l2", "dssim", "l2_dssim", "focal"])
def test_gradient_matches_finite_differences(name):
    """Directional derivative along a random direction vs central differences of the loss in
    float64 (a NumPy-free check of the autodiff path, away from the optimum)."""
    render, target, weight = _images()
    v = np.random.default_rng(1).standard_normal(render.shape)
    with jax.enable_x64(True):
        f = _all_losses(jnp.asarray(weight, jnp.float64))[name]
        r, t, v = (jnp.asarray(a, jnp.float64) for a in (render, target, v))
        analytic = float(jnp.vdot(jax.grad(f)(r, t), v))
        eps = 1e-5
        numeric = float((f(r + eps * v, t) - f(r - eps * v, t)) / (2 * eps))
    assert np.isfinite(analytic) and abs(analytic) > 1e-3 * abs(float(f(r, t)))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6)


def test_weight_is_a_constant_and_validated():
    render, target, weight = _images()
    g_w = jax.grad(lambda w: l2_dssim_loss(render, target, weight=w))(weight)
    np.testing.assert_array_equal(np.asarray(g_w), 0.0)  # stop-gradient, like the official .detach()
    with pytest.raises(ValueError, match="does not match"):
        l2_loss(render, target, weight=weight[:-1])
    with pytest.raises(ValueError, match="shapes differ"):
        dssim_loss(render, target[:-1])
