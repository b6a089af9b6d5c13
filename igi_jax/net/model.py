"""The Instant-GI network (Flax NNX): feature extractor, position field and the three Gaussian fields.

``InstantGINet(cfg, rngs=...)`` holds the parameters; two pure functions use it:

* :func:`predict_ppm` — images ``[B, H, W, 3]`` → features ``[B, H, W, 64]`` and the position
  probability map ``[B, H, W]`` (per-pixel MLP 64 → 64 → 64 → 1, ReLU, sigmoid);
* :func:`triangle_gaussians` — one image's features + its :class:`Geometry` → one Gaussian per
  triangle (centre from the BC field, scales/rotation from the Σ field, colour from the opacity
  field times the image at the stop-gradient centre).

Every conv/linear weight is N(0, 0.02²) with zero biases, as the official ``_init_weights``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from igi_jax.net import fields
from igi_jax.net.config import NetConfig
from igi_jax.net.unet import ConvNeXtUNet, weight_init
from igi_jax.sampling import bilinear

_MEAN_CLAMP = 1.0 - 1e-6


class MLP(nnx.Module):
    """Linear layers with ReLU between them (none after the last): ``[..., in]`` → ``[..., out]``."""

    def __init__(self, widths: tuple[int, ...], cfg: NetConfig, *, rngs: nnx.Rngs):
        init = weight_init(cfg.init_std)
        self.layers = nnx.List(
            [
                nnx.Linear(a, b, kernel_init=init, rngs=rngs)
                for a, b in zip(widths[:-1], widths[1:], strict=True)
            ]
        )

    def __call__(self, x: jax.Array) -> jax.Array:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i + 1 < len(self.layers):
                x = jax.nn.relu(x)
        return x


class InstantGINet(nnx.Module):
    """Image → features, PPM and per-triangle Gaussian fields (see the module docstring)."""

    def __init__(self, cfg: NetConfig, *, rngs: nnx.Rngs):
        self.cfg = cfg
        f = cfg.feature_dim
        self.unet = ConvNeXtUNet(cfg, rngs=rngs)
        self.position = MLP((f, *cfg.position_hidden, 1), cfg, rngs=rngs)
        self.reduction = MLP((4 * f, *cfg.reduction_hidden, f), cfg, rngs=rngs)
        self.reduction_norm = nnx.LayerNorm(f, epsilon=1e-5, rngs=rngs)

        def field(n_in: int, n_out: int) -> MLP:
            hidden = cfg.field_hidden or n_in
            return MLP((n_in, *([hidden] * cfg.field_layers), n_out), cfg, rngs=rngs)

        self.bc_field = field(cfg.bc_in, 3)
        self.sigma_field = field(cfg.field_in, 3)
        self.opacity_field = field(cfg.field_in, 1)


def predict_ppm(model: InstantGINet, images: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Features and position probability map.

    Args:
      model: the network.
      images: ``[B, H, W, 3]`` float32 in [0, 1], any ``H, W``.

    Returns:
      ``features [B, H, W, F]`` and ``ppm [B, H, W]`` in (0, 1).
    """
    features = model.unet(images)
    ppm = jax.nn.sigmoid(model.position(features)[..., 0])
    return features, ppm


class TriangleGaussians(NamedTuple):
    """One Gaussian per triangle, in pixels (``T`` = padded triangle count).

    Attributes:
      means: ``[T, 2]`` centres (x, y), pixels.
      scales: ``[T, 2]`` std devs along (major, minor) of the rotated frame, pixels.
      rot_logit: ``[T]`` pre-sigmoid rotation; θ = sigmoid(rot_logit)·2π.
      colors: ``[T, 3]`` RGB weights (opacity folded in).
    """

    means: jax.Array
    scales: jax.Array
    rot_logit: jax.Array
    colors: jax.Array

    @property
    def theta(self) -> jax.Array:
        return jax.nn.sigmoid(self.rot_logit) * (2 * jnp.pi)


def triangle_gaussians(
    model: InstantGINet,
    image: jax.Array,  # [H, W, 3]
    features: jax.Array,  # [H, W, F]
    vertices: jax.Array,  # [T, 3, 2] pixels
    neighbors: jax.Array,  # [T, 3] int32
    centre: jax.Array,  # [T, 2] pixels
    semi_axes: jax.Array,  # [T, 2] pixels (major, minor)
    angle: jax.Array,  # [T] radians
    size: tuple[jax.Array, jax.Array] | None = None,
) -> TriangleGaussians:
    """The BC, Σ and opacity fields on one image's triangles (no batch axis; ``vmap`` for batches).

    ``size``: ``(height, width)`` of the image inside ``image`` (see :func:`fields.organise`).
    """
    height, width = image.shape[:2] if size is None else size
    geo, sampled = fields.organise(image, features, vertices, centre, semi_axes, angle, size)
    reduced = model.reduction_norm(model.reduction(sampled))
    x86 = jnp.concatenate([geo, reduced], axis=-1)
    bc = jax.nn.softmax(model.bc_field(x86), axis=-1)  # [T, 3]
    means = jnp.einsum("tk,tkd->td", bc, vertices)
    means_n = jnp.clip(fields.to_normalised(means, height, width), -_MEAN_CLAMP, _MEAN_CLAMP)
    x94 = jnp.concatenate([fields.neighbour_coords(means_n, neighbors), x86], axis=-1)
    sr = model.sigma_field(x94)
    scales = fields.scale_activation(sr[:, :2]) * semi_axes
    rot_logit = fields.rotation_logit(sr[:, 2], angle)
    opacity = jax.nn.sigmoid(model.opacity_field(x94))
    colors = opacity * bilinear(image, jax.lax.stop_gradient(means))
    return TriangleGaussians(means=means, scales=scales, rot_logit=rot_logit, colors=colors)
