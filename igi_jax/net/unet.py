"""ConvNeXt-UNet feature extractor (Flax NNX): image ``[B, H, W, 3]`` → features ``[B, H, W, C]``.

Structure (the official ``ConvNeXtUnet``, widths and depths from :class:`NetConfig`):

* input conv 3×3 (3 → ``stem_width``) + norm + ReLU at full resolution = skip 0;
* ConvNeXt encoder: a 2×2 stride-2 stem (+ LayerNorm), then per stage ``depths[i]`` blocks
  (depthwise 7×7 conv → LayerNorm → Linear 4× → GELU → Linear → layer-scale, residual) and
  between stages LayerNorm + 2×2 stride-2 conv; the input to each stage's downsampling is a skip;
* UNet decoder: per level a 2×2 stride-2 transposed conv to the skip's width, concatenation with
  the skip, then (3×3 conv → norm → ReLU) × 2; finally a 1×1 conv to ``feature_dim`` channels.

Deviation: the official input conv and decoder use BatchNorm, which the official code also runs in
train mode at inference (batch statistics of the one test image). We use a per-pixel LayerNorm
over channels there instead (as ConvNeXt does in its encoder): it has no running statistics, no
train/eval switch and does not depend on the crop size, so training on crops and initialising
whole images see the same function.

Images of any size are padded (edge replicate) at the bottom/right to a multiple of the stride
(16 for four stages; or by :attr:`NetConfig.pad_modulus`) and the features cropped back, so the
output has the input's size. Layout is
NHWC throughout.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from igi_jax.net.config import NetConfig

_LN_EPS = 1e-6


def weight_init(std: float) -> nnx.Initializer:
    """N(0, std²) weights from the module's ``rngs``, the official init (timm
    ``trunc_normal_(std=.02)`` cuts at ±2 absolute, i.e. 100σ: a plain normal).

    ``jax.random`` draws them, so a model built eagerly, under ``jax.jit`` or under
    ``nnx.eval_shape`` has the same weights (or shapes) for the same key.
    """
    return nnx.initializers.normal(stddev=std)


def _init(cfg: NetConfig):
    return weight_init(cfg.init_std)


class ConvNormReLU(nnx.Module):
    """3×3 conv (no bias) → per-pixel LayerNorm over channels → ReLU: ``[B, H, W, Cin]`` → ``[..., Cout]``."""

    def __init__(self, cin: int, cout: int, cfg: NetConfig, *, rngs: nnx.Rngs):
        self.conv = nnx.Conv(
            cin, cout, (3, 3), padding="SAME", use_bias=False, kernel_init=_init(cfg), rngs=rngs
        )
        self.norm = nnx.LayerNorm(cout, epsilon=_LN_EPS, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return jax.nn.relu(self.norm(self.conv(x)))


class ConvNeXtBlock(nnx.Module):
    """ConvNeXt block with residual: dw 7×7 → LN → Linear 4C → GELU → Linear C → layer-scale."""

    def __init__(self, dim: int, cfg: NetConfig, *, rngs: nnx.Rngs):
        init = _init(cfg)
        self.dwconv = nnx.Conv(
            dim, dim, (7, 7), padding="SAME", feature_group_count=dim, kernel_init=init, rngs=rngs
        )
        self.norm = nnx.LayerNorm(dim, epsilon=_LN_EPS, rngs=rngs)
        self.pw1 = nnx.Linear(dim, 4 * dim, kernel_init=init, rngs=rngs)
        self.pw2 = nnx.Linear(4 * dim, dim, kernel_init=init, rngs=rngs)
        self.gamma = nnx.Param(jnp.full((dim,), cfg.layer_scale_init, dtype=jnp.float32))

    def __call__(self, x: jax.Array) -> jax.Array:
        y = self.pw2(jax.nn.gelu(self.pw1(self.norm(self.dwconv(x))), approximate=False))
        return x + self.gamma[...] * y


class Stage(nnx.Module):
    """Downsampling (2×2 stride 2, with LayerNorm) followed by ``depth`` ConvNeXt blocks."""

    def __init__(self, cin: int, cout: int, depth: int, cfg: NetConfig, *, stem: bool, rngs: nnx.Rngs):
        self.stem = stem
        # The stem normalises after its conv, the later downsamplings before theirs (ConvNeXt).
        self.norm = nnx.LayerNorm(cout if stem else cin, epsilon=_LN_EPS, rngs=rngs)
        self.down = nnx.Conv(
            cin, cout, (2, 2), strides=(2, 2), padding="VALID", kernel_init=_init(cfg), rngs=rngs
        )
        self.blocks = nnx.List([ConvNeXtBlock(cout, cfg, rngs=rngs) for _ in range(depth)])

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.norm(self.down(x)) if self.stem else self.down(self.norm(x))
        for block in self.blocks:
            x = block(x)
        return x


class Up(nnx.Module):
    """2×2 stride-2 transposed conv to the skip's width, concat with the skip, two ConvNormReLU."""

    def __init__(self, cin: int, cskip: int, cfg: NetConfig, *, rngs: nnx.Rngs):
        self.up = nnx.ConvTranspose(
            cin, cskip, (2, 2), strides=(2, 2), padding="VALID", kernel_init=_init(cfg), rngs=rngs
        )
        self.conv1 = ConvNormReLU(2 * cskip, cskip, cfg, rngs=rngs)
        self.conv2 = ConvNormReLU(cskip, cskip, cfg, rngs=rngs)

    def __call__(self, x: jax.Array, skip: jax.Array) -> jax.Array:
        x = self.up(x)
        return self.conv2(self.conv1(jnp.concatenate([skip, x], axis=-1)))


class ConvNeXtUNet(nnx.Module):
    """The feature extractor: ``[B, H, W, 3]`` → ``[B, H, W, feature_dim]`` for any ``H, W``."""

    def __init__(self, cfg: NetConfig, *, rngs: nnx.Rngs):
        self.cfg = cfg
        widths = (cfg.stem_width, *cfg.dims)
        self.in_conv = ConvNormReLU(3, cfg.stem_width, cfg, rngs=rngs)
        self.stages = nnx.List(
            [
                Stage(widths[i], widths[i + 1], cfg.depths[i], cfg, stem=i == 0, rngs=rngs)
                for i in range(len(cfg.dims))
            ]
        )
        # Decoder level i goes from widths[i + 1] up to the skip widths[i], deepest first.
        self.ups = nnx.List(
            [Up(widths[i + 1], widths[i], cfg, rngs=rngs) for i in reversed(range(len(cfg.dims)))]
        )
        self.out_conv = nnx.Conv(cfg.stem_width, cfg.feature_dim, (1, 1), kernel_init=_init(cfg), rngs=rngs)

    def __call__(self, images: jax.Array) -> jax.Array:
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"images must be [B, H, W, 3], got {images.shape}")
        _, h, w, _ = images.shape
        hp, wp = self.cfg.padded(h), self.cfg.padded(w)
        x = jnp.pad(images, ((0, 0), (0, hp - h), (0, wp - w), (0, 0)), mode="edge")
        x = self.in_conv(x)
        skips = []
        for stage in self.stages:
            skips.append(x)
            x = stage(x)
        for up, skip in zip(self.ups, reversed(skips), strict=True):
            x = up(x, skip)
        return self.out_conv(x)[:, :h, :w, :]
