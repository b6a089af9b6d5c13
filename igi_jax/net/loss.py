"""The training loss of the network: one pure, jittable function of (model, batch, geometry).

Per image (Instant-GI's ``train_init_net``):

* reconstruction ``0.7·L2 + 0.3·D-SSIM`` of the render against the image, each weighted per pixel
  by ``clamp(1 / (PPM + 0.01), 1, 10)`` computed from the *predicted* PPM under stop-gradient
  (:mod:`igi_jax.losses`; the render is not clamped);
* focal MSE of the predicted PPM against the target (pseudo) PPM, γ = 2;
* scale floor ``10 · mean(relu(0.5 − scale_px))`` over the live Gaussians' two scales.

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


def _image_terms(image, weight, g, mask, render_capacity, backend):
    """Per-image loss terms for one image (no batch axis)."""
    height, width = image.shape[:2]
    cov = covariance.cov_from_rs(g.scales, g.theta)
    out = render(g.means, cov, g.colors, mask, height, width, capacity=render_capacity, backend=backend)
    l2 = losses.l2_loss(out, image, weight=weight)
    dssim = losses.dssim_loss(out, image, weight=weight)
    floor = jnp.where(mask[:, None], jax.nn.relu(SCALE_FLOOR - g.scales), 0.0)
    scale_floor = SCALE_FLOOR_WEIGHT * floor.sum() / jnp.maximum(2.0 * mask.sum(), 1.0)
    mse = jnp.mean((jnp.clip(out, 0.0, 1.0) - image) ** 2)
    psnr = metrics.psnr_from_mse(jnp.maximum(mse, 1e-12))  # finite (120 dB) for a perfect fit
    return {
        "l2": l2,
        "dssim": dssim,
        "scale_floor": scale_floor,
        "mse": mse,
        "psnr": psnr,
        "gaussians": mask.sum().astype(jnp.float32),
    }


def per_image_losses(
    model: InstantGINet,
    images: jax.Array,  # [B, H, W, 3]
    target_ppm: jax.Array,  # [B, H, W]
    geom: Geometry,
) -> dict[str, jax.Array]:
    """Every loss term per image: a dict of ``[B]`` arrays (``loss`` is the per-image total)."""
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be [B, H, W, 3], got {images.shape}")
    if target_ppm.shape != images.shape[:3]:
        raise ValueError(f"target_ppm {target_ppm.shape} does not match images {images.shape}")
    if geom.mask.shape[0] != images.shape[0]:
        raise ValueError(f"geometry batch {geom.mask.shape[0]} != image batch {images.shape[0]}")
    features, ppm = predict_ppm(model, images)
    weight = loss_weights(ppm)
    focal = jax.vmap(lambda p, t: losses.focal_mse(p, t, gamma=FOCAL_GAMMA))(ppm, target_ppm)

    def one(image, feats, w, vertices, neighbors, centre, semi_axes, angle, mask):
        g = triangle_gaussians(model, image, feats, vertices, neighbors, centre, semi_axes, angle)
        return _image_terms(image, w, g, mask, geom.render_capacity, geom.backend)

    terms = jax.vmap(one)(
        images,
        features,
        weight,
        geom.vertices,
        geom.neighbors,
        geom.centre,
        geom.semi_axes,
        geom.angle,
        geom.mask,
    )
    terms["focal"] = focal
    terms["recon"] = RECON_LAMBDA * terms["l2"] + (1.0 - RECON_LAMBDA) * terms["dssim"]
    terms["loss"] = terms["recon"] + focal + terms["scale_floor"]
    return terms


def batch_loss(
    model: InstantGINet,
    images: jax.Array,  # [B, H, W, 3]
    target_ppm: jax.Array,  # [B, H, W]
    geom: Geometry,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The batch training loss (mean of the per-image losses) and its parts.

    Args:
      model: the network.
      images: ``[B, H, W, 3]`` float32 in [0, 1].
      target_ppm: ``[B, H, W]`` pseudo PPM in [0, 1].
      geom: triangles from :func:`igi_jax.net.host_geometry` on this model's PPM of ``images``.

    Returns:
      ``loss`` (scalar) and ``aux``: batch means of ``loss``, ``recon``, ``l2`` and ``dssim``
      (weighted), ``focal``, ``scale_floor``, ``mse`` and ``psnr`` (unweighted, clamped render),
      ``gaussians`` (live per image).
    """
    terms = per_image_losses(model, images, target_ppm, geom)
    aux = {k: jnp.mean(v) for k, v in terms.items()}
    return aux["loss"], aux
