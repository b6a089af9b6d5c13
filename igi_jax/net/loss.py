"""The training loss of the network: one pure, jittable function of (model, batch, geometry).

Per image (Instant-GI's ``train_init_net``):

* reconstruction ``0.7·L2 + 0.3·D-SSIM`` of the render against the image, each weighted per pixel
  by ``clamp(1 / (PPM + 0.01), 1, 10)`` computed from the *predicted* PPM under stop-gradient
  (:mod:`igi_jax.losses`; the render is not clamped);
* focal MSE of the predicted PPM against the target (pseudo) PPM, γ = 2;
* scale floor ``10 · mean(relu(0.5 − scale_px))`` over the live Gaussians' two scales.

Optional, fine-tune-aware terms (off by default; ``TrainConfig.lookahead_steps``,
``lookahead_mode``, ``width_prior``): the reconstruction is also taken after K steps of the real
fit, or the prediction is distilled towards the set those K steps make
(:mod:`igi_jax.net.lookahead`); a width prior ``λ · mean(scale / semi-axis)`` over the live
Gaussians asks for narrower Gaussians than the step-0 render alone would choose.

The PPM receives gradient only from its focal loss: the triangles come from it through dithering
and Delaunay (not differentiable, :func:`igi_jax.net.host_geometry`) and the weights are
stop-gradient. The batch loss is the mean of the per-image losses; padded triangles are masked
out of the render and of the scale floor, so images with different Gaussian counts batch together.

The images of a batch are rendered with ``vmap`` over the batch axis (the landed renderer's
custom VJP batches), which also lets ``jit`` shard the batch axis for data parallelism.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from igi_jax import covariance, losses, metrics
from igi_jax.net import lookahead as lookahead_lib
from igi_jax.net.geometry import Geometry
from igi_jax.net.model import InstantGINet, predict_ppm, triangle_gaussians
from igi_jax.render import render

RECON_LAMBDA = 0.7
SCALE_FLOOR = 0.5
SCALE_FLOOR_WEIGHT = 10.0
FOCAL_GAMMA = 2.0


def loss_weights(ppm: jax.Array) -> jax.Array:
    """Per-pixel reconstruction weights ``clamp(1 / (PPM + 0.01), 1, 10)``, stop-gradient. ``[B, H, W]``."""
    return jax.lax.stop_gradient(jnp.clip(1.0 / (ppm + 0.01), 1.0, 10.0))


def valid_pixels(size: jax.Array | None, height: int, width: int) -> jax.Array | None:
    """``[H, W]`` bool: the pixels of a crop that are image (``size = (h, w)``); ``None`` if all."""
    if size is None:
        return None
    return (jnp.arange(height)[:, None] < size[0]) & (jnp.arange(width)[None, :] < size[1])


def _recon(image, weight, g, mask, render_capacity, backend, valid=None):
    """``(weighted l2, weighted D-SSIM, unweighted MSE of the clamped render)`` of one image.

    ``valid [H, W]``: only these pixels are image. Render and target are zero beyond them (the
    D-SSIM windows see the zero padding a real edge gives) and the weights are rescaled so that
    a loss keeps its scale whatever the image's share of the crop.
    """
    height, width = image.shape[:2]
    cov = covariance.cov_from_rs(g.scales, g.theta)
    out = render(g.means, cov, g.colors, mask, height, width, capacity=render_capacity, backend=backend)
    if valid is None:
        mse = jnp.mean((jnp.clip(out, 0.0, 1.0) - image) ** 2)
    else:
        share = jnp.sum(valid) / (height * width)
        out, image = jnp.where(valid[..., None], out, 0.0), jnp.where(valid[..., None], image, 0.0)
        weight = jnp.where(valid, weight, 0.0) / share
        mse = jnp.mean((jnp.clip(out, 0.0, 1.0) - image) ** 2) / share
    return losses.l2_loss(out, image, weight=weight), losses.dssim_loss(out, image, weight=weight), mse


def _masked_mean(x, mask):
    """Mean of ``x [T, 2]`` over the live rows."""
    return jnp.where(mask[:, None], x, 0.0).sum() / jnp.maximum(2.0 * mask.sum(), 1.0)


def _image_terms(image, weight, g, mask, vertices, semi_axes, render_capacity, backend, lookahead, valid):
    """Per-image loss terms for one image (no batch axis)."""
    l2, dssim, mse = _recon(image, weight, g, mask, render_capacity, backend, valid)
    terms = {
        "l2": l2,
        "dssim": dssim,
        "scale_floor": SCALE_FLOOR_WEIGHT * _masked_mean(jax.nn.relu(SCALE_FLOOR - g.scales), mask),
        "width": _masked_mean(g.scales / semi_axes, mask),
        "mse": mse,
        "psnr": metrics.psnr_from_mse(jnp.maximum(mse, 1e-12)),  # finite (120 dB) for a perfect fit
        "gaussians": mask.sum().astype(jnp.float32),
    }
    if lookahead is not None:
        g_k = lookahead_lib.fitted(
            g, image, mask, vertices, semi_axes[:, 0], lookahead,
            render_capacity=render_capacity, backend=backend, valid=valid,
        )  # fmt: skip
        terms["l2_fitted"], terms["dssim_fitted"], mse_k = _recon(
            image, weight, g_k, mask, render_capacity, backend, valid
        )
        terms["psnr_fitted"] = metrics.psnr_from_mse(jnp.maximum(mse_k, 1e-12))
        if lookahead.mode == "distill":
            terms["distill"] = lookahead_lib.distill_distance(g, g_k, mask, semi_axes[:, 0])
    return terms


def per_image_losses(
    model: InstantGINet,
    images: jax.Array,  # [B, H, W, 3]
    target_ppm: jax.Array,  # [B, H, W]
    geom: Geometry,
    *,
    lookahead: lookahead_lib.Lookahead | None = None,
    width_prior: float = 0.0,
    sizes: jax.Array | None = None,
) -> dict[str, jax.Array]:
    """Every loss term per image: a dict of ``[B]`` arrays (``loss`` is the per-image total).

    ``lookahead`` and ``width_prior``: the optional fine-tune-aware terms (module docstring).
    ``sizes [B, 2]`` int32: ``(h, w)`` of the image in each crop, the rest padding that no loss
    term sees (``DataConfig.edge_jitter``); ``None``: the whole crop.
    """
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be [B, H, W, 3], got {images.shape}")
    if target_ppm.shape != images.shape[:3]:
        raise ValueError(f"target_ppm {target_ppm.shape} does not match images {images.shape}")
    if geom.mask.shape[0] != images.shape[0]:
        raise ValueError(f"geometry batch {geom.mask.shape[0]} != image batch {images.shape[0]}")
    features, ppm = predict_ppm(model, images)
    weight = loss_weights(ppm)
    height, width = images.shape[1:3]

    def one(image, feats, w, p, t, vertices, neighbors, centre, semi_axes, angle, mask, size):
        valid = valid_pixels(size, height, width)
        hw = None if size is None else (size[0], size[1])
        g = triangle_gaussians(model, image, feats, vertices, neighbors, centre, semi_axes, angle, hw)
        terms = _image_terms(
            image, w, g, mask, vertices, semi_axes, geom.render_capacity, geom.backend, lookahead, valid
        )
        if valid is None:
            terms["focal"] = losses.focal_mse(p, t, gamma=FOCAL_GAMMA)
        else:
            share = jnp.sum(valid) / (height * width)
            focal = losses.focal_mse(jnp.where(valid, p, 0.0), jnp.where(valid, t, 0.0), gamma=FOCAL_GAMMA)
            terms["focal"] = focal / share
        return terms

    terms = jax.vmap(one)(
        images,
        features,
        weight,
        ppm,
        target_ppm,
        geom.vertices,
        geom.neighbors,
        geom.centre,
        geom.semi_axes,
        geom.angle,
        geom.mask,
        sizes,
    )
    terms["recon"] = RECON_LAMBDA * terms["l2"] + (1.0 - RECON_LAMBDA) * terms["dssim"]
    recon = terms["recon"]
    extra = width_prior * terms["width"]
    if lookahead is not None:
        fitted = RECON_LAMBDA * terms["l2_fitted"] + (1.0 - RECON_LAMBDA) * terms["dssim_fitted"]
        terms["recon_fitted"] = fitted  # logged in both modes: what K fit steps make of the set
        if lookahead.mode == "loss":
            recon = (1.0 - lookahead.weight) * recon + lookahead.weight * fitted
        else:
            extra = extra + lookahead.weight * terms["distill"]
    terms["loss"] = recon + terms["focal"] + terms["scale_floor"] + extra
    return terms


def batch_loss(
    model: InstantGINet,
    images: jax.Array,  # [B, H, W, 3]
    target_ppm: jax.Array,  # [B, H, W]
    geom: Geometry,
    *,
    lookahead: lookahead_lib.Lookahead | None = None,
    width_prior: float = 0.0,
    sizes: jax.Array | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The batch training loss (mean of the per-image losses) and its parts.

    Args:
      model: the network.
      images: ``[B, H, W, 3]`` float32 in [0, 1].
      target_ppm: ``[B, H, W]`` pseudo PPM in [0, 1].
      geom: triangles from :func:`igi_jax.net.host_geometry` on this model's PPM of ``images``.
      lookahead, width_prior: the optional fine-tune-aware terms (module docstring).
      sizes: ``[B, 2]`` int32 image size inside each crop (:func:`per_image_losses`).

    Returns:
      ``loss`` (scalar) and ``aux``: batch means of ``loss``, ``recon``, ``l2`` and ``dssim``
      (weighted), ``focal``, ``scale_floor``, ``mse`` and ``psnr`` (unweighted, clamped render),
      ``gaussians`` (live per image), ``width`` (mean scale / semi-axis); with a lookahead also
      ``l2_fitted``, ``dssim_fitted``, ``recon_fitted`` and ``psnr_fitted``, and ``distill``
      when it distils.
    """
    terms = per_image_losses(
        model, images, target_ppm, geom, lookahead=lookahead, width_prior=width_prior, sizes=sizes
    )
    aux = {k: jnp.mean(v) for k, v in terms.items()}
    return aux["loss"], aux
