"""Training losses: L2, D-SSIM, their Instant-GI mix, and the focal MSE for the position-probability map.

Images are `[H, W, C]` or `[B, H, W, C]`; every loss returns a scalar (mean over all elements). The
reconstruction losses take an optional per-pixel `weight` `[H, W]` (or `[B, H, W]`), broadcast over channels
and treated as a constant (stop-gradient). As in the official Instant-GI `RGBLoss` the weighted loss is
`mean(weight * per_pixel_loss)`, *not* normalised by the weights' sum: with the official weights
clamp(1 / (PPM + 0.01), 1, 10) this scales the loss by up to 10x.

D-SSIM defaults to the official loss's SSIM map: 11x11 Gaussian window (sigma 1.5), C1 = 1e-4, C2 = 9e-4,
zero padding to the input size with the window *not* renormalised at the borders (torch
`F.conv2d(padding=5)`), averaged over every pixel and channel. This differs from the SSIM metric
(`igi_jax.metrics.ssim`, 'valid' region only): within 5 px of the border the window reaches into black
padding, which render and target share, so border pixels score too high (Kodak + noise sd 0.05: 0.90 vs
0.73 inside) and get ~0.5-0.65x the interior's D-SSIM gradient; on 768x512 images 1 - dssim_loss exceeds
ssim by 0.0005-0.011. The map is 1 exactly when render == target, so the optimum is unchanged; pass
`padding='valid'` for the metric's definition.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from igi_jax.metrics import Padding, ssim_map


def _pixel_weight(weight: jax.Array | None, ndim: int, crop: int = 0) -> jax.Array | float:
    """`[H, W]` / `[B, H, W]` weight -> constant broadcastable over `[..., H, W, C]`, optionally cropped."""
    if weight is None:
        return 1.0
    if weight.ndim not in (2, 3) or weight.ndim > ndim - 1:
        raise ValueError(f"weight must be [H, W] or [B, H, W] for images of rank {ndim}, got {weight.shape=}")
    if crop:
        weight = weight[..., crop:-crop, crop:-crop]
    return jax.lax.stop_gradient(weight)[..., None]


def _check_images(render: jax.Array, target: jax.Array, weight: jax.Array | None) -> None:
    if render.shape != target.shape:
        raise ValueError(f"render and target shapes differ: {render.shape=} {target.shape=}")
    if render.ndim not in (3, 4):
        raise ValueError(f"expected [H, W, C] or [B, H, W, C], got {render.shape=}")
    if weight is not None and weight.shape[-2:] != render.shape[-3:-1]:
        raise ValueError(f"weight {weight.shape=} does not match image {render.shape=}")


def l2_loss(
    render: jax.Array,  # [H, W, C] or [B, H, W, C]
    target: jax.Array,  # same shape as render
    *,
    weight: jax.Array | None = None,  # [H, W] or [B, H, W]
) -> jax.Array:
    """Mean squared error, optionally `mean(weight * (render - target)^2)`. Returns a scalar."""
    _check_images(render, target, weight)
    err = render - target
    return jnp.mean(_pixel_weight(weight, render.ndim) * err * err)


def dssim_loss(
    render: jax.Array,  # [H, W, C] or [B, H, W, C]
    target: jax.Array,  # same shape as render
    *,
    weight: jax.Array | None = None,  # [H, W] or [B, H, W]
    padding: Padding = "zeros",
    data_range: float = 1.0,
    win_size: int = 11,
    sigma: float = 1.5,
) -> jax.Array:
    """D-SSIM = mean(weight * (1 - SSIM map)) over pixels and channels. Returns a scalar.

    Args:
        padding: 'zeros' (official Instant-GI loss, same-size map), 'reflect' (same size) or 'valid'
            (standard SSIM region; `weight` is then cropped to it).
    """
    _check_images(render, target, weight)
    smap = ssim_map(render, target, data_range=data_range, win_size=win_size, sigma=sigma, padding=padding)
    crop = win_size // 2 if padding == "valid" else 0
    return jnp.mean(_pixel_weight(weight, render.ndim, crop) * (1.0 - smap))


def l2_dssim_loss(
    render: jax.Array,  # [H, W, C] or [B, H, W, C]
    target: jax.Array,  # same shape as render
    lam: float = 0.7,
    *,
    weight: jax.Array | None = None,  # [H, W] or [B, H, W]
    padding: Padding = "zeros",
) -> jax.Array:
    """Instant-GI reconstruction loss lam * L2 + (1 - lam) * D-SSIM (official lam = 0.7). Returns a scalar."""
    return lam * l2_loss(render, target, weight=weight) + (1.0 - lam) * dssim_loss(
        render, target, weight=weight, padding=padding
    )


def focal_mse(
    pred: jax.Array,  # any shape, e.g. PPM [B, H, W]
    target: jax.Array,  # same shape as pred
    gamma: float = 2.0,
    alpha: float = 1.0,
) -> jax.Array:
    """Focal MSE: mean(alpha * (1 - exp(-e))^gamma * e^2), e = |pred - target|. Returns a scalar.

    The focal factor down-weights already-small errors so training concentrates on the badly predicted
    pixels; for gamma >= 1 it is smooth at e = 0 (factor ~ e^gamma), so gradients stay finite.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred and target shapes differ: {pred.shape=} {target.shape=}")
    e = jnp.abs(pred - target)
    return jnp.mean(alpha * (1.0 - jnp.exp(-e)) ** gamma * e * e)
