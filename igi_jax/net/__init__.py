"""The Instant-GI network: image → content-adaptive Gaussians in one pass (Flax NNX).

Pipeline (paper structure; numbers in ``DESIGN.md``):

1. :func:`predict_ppm` — ConvNeXt-UNet features ``[B, H, W, 64]`` and the position probability
   map (PPM) ``[B, H, W]`` (jitted).
2. :func:`host_geometry` — dithering (landed kernels) → points + border points → Delaunay (scipy,
   host) → closed-form ellipses → :class:`Geometry` padded to a size bucket (not differentiable).
3. Fields (:func:`igi_jax.net.model.triangle_gaussians`, jitted): BC field (softmax barycentric
   centre), Σ field (f_s × ellipse semi-axes, rotation about the ellipse angle), opacity field
   (colour = image at the stop-gradient centre × opacity); one Gaussian per triangle.
4. Training: :func:`batch_loss` (one pure function; see :mod:`igi_jax.net.loss`). Inference:
   :func:`gaussians_for_image` → the landed :class:`igi_jax.gaussians.Gaussians` (RS).

Weights: :func:`save_weights` / :func:`load_weights` (single ``.npz`` file, versioned, no pickle;
an orbax checkpoint directory is also read).

Deviations from the official implementation, and why:

* **Half-pixel convention.** Features and colours are sampled with the same pixel-centre
  convention the renderer uses (pixel (i, j) at (j + 0.5, i + 0.5), ``align_corners=False``);
  the original renders at integer centres but samples with ``align_corners=False``, half a pixel
  apart. Samples outside the outermost pixel centres repeat the border (the original pads with
  zeros, so a border vertex sees half black).
* **No BatchNorm.** The input conv and the decoder use a per-pixel LayerNorm over channels instead
  of BatchNorm, which the original also runs in train mode at inference. No running statistics,
  no train/eval switch, same function on crops and whole images.
* **No ImageNet weights.** The original loads ImageNet ConvNeXt weights and then re-initialises every
  conv/linear weight (its ``apply(_init_weights)`` runs after loading), so they are effectively
  unused; we initialise from scratch (normal, std 0.02), which is what it trains.
* **Border points** lie on the image rectangle (x ∈ {0, W}, y ∈ {0, H}), so the triangles cover the
  whole image; the original puts them on the outermost integer pixel centres. No triangle is
  dropped (the dev branch's size filter is not used), so coverage is complete.
* **Ellipses** are the original least-squares fit in closed form (:mod:`igi_jax.geometry.ellipse`);
  the aspect feature is minor/(major + 1e-4) with the axes in a fixed order.
* **Any image size**: the image is edge-padded at the bottom/right to a multiple of 16 and the
  features cropped back; the original instead zero-pads each upsampled decoder map to its skip's
  size (centred), so its output near the right/bottom border depends on that padding.
* **Training batches**: the loss is the mean of per-image losses over a padded batch (the
  original trains with batch 1); the network's forward runs once on the host path (for the PPM
  that the triangles come from) and once inside the differentiated loss. That extra forward is
  about a quarter of a ``small`` training step (``bench/results/net_init_step.json``); it could be
  removed by returning the forward's VJP residuals from the PPM stage, which the two-stage API
  does not do yet.
* **Init**: N(0, 0.02²) weights drawn with ``jax.random`` from the module key (the official
  ``trunc_normal_(std=.02)`` truncates at ±2 absolute, i.e. never), zero biases, layer scale 1e-6.
"""

from igi_jax.net.config import NetConfig
from igi_jax.net.geometry import (
    Geometry,
    dither_batch,
    geometry_from_points,
    host_geometry,
    host_geometry_with_info,
)
from igi_jax.net.inference import gaussians_for_image
from igi_jax.net.loss import batch_loss, per_image_losses
from igi_jax.net.model import InstantGINet, TriangleGaussians, predict_ppm, triangle_gaussians
from igi_jax.net.weights import (
    DEFAULT_WEIGHTS,
    load_weights,
    load_weights_cached,
    read_header,
    resolve_weights,
    save_orbax,
    save_weights,
)

__all__ = [
    "DEFAULT_WEIGHTS",
    "Geometry",
    "InstantGINet",
    "NetConfig",
    "TriangleGaussians",
    "batch_loss",
    "gaussians_for_image",
    "dither_batch",
    "geometry_from_points",
    "host_geometry",
    "host_geometry_with_info",
    "load_weights",
    "load_weights_cached",
    "per_image_losses",
    "predict_ppm",
    "read_header",
    "resolve_weights",
    "save_orbax",
    "save_weights",
    "triangle_gaussians",
]
