"""The 2D Gaussian image model: a pytree of raw parameters plus a validity mask.

Two GaussianImage parameterizations of the covariance share one pytree:

* ``"rs"``: ``shape = (s1, s2, r)``, scales ``|s + 0.5|`` px, rotation ``θ = sigmoid(r)·2π``.
* ``"cholesky"``: ``shape = (l11, l21, l22)``, ``L = shape + (0.5, 0, 0.5)``, ``Σ = L Lᵀ``.

Positions are stored as GaussianImage does, ``xy = atanh(normalised)`` with
``mean = (tanh(xy) + 1) · (W/2, H/2)``. Colours are raw (opacity folded in, no activation).

Coordinates: continuous pixel coordinates, x to the right and y down; pixel (row i, col j)
covers [j, j+1) × [i, i+1) and is evaluated at its centre (j + 0.5, i + 0.5). The same
convention holds for feature sampling (``u = 2x/W − 1`` is bilinear sampling with
``align_corners=False``), so rendering and sampling never disagree by half a pixel.

A set has a fixed capacity ``N`` and ``mask [N]`` marks live Gaussians; padded entries render
nothing and get zero gradient, so a padded set renders exactly like the unpadded one.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from igi_jax import covariance
from igi_jax.buckets import bucket

Kind = Literal["rs", "cholesky"]
KINDS: tuple[str, ...] = ("rs", "cholesky")
_CHOL_BOUND = (0.5, 0.0, 0.5)
SCALE_OFFSET = 0.5  # RS stores s with scale = |s + SCALE_OFFSET| px (GaussianImage's bound)
_EPS = 1e-6


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Gaussians:
    """A padded set of 2D Gaussians for one ``height × width`` image.

    Attributes:
      xy: ``[N, 2]`` atanh of the normalised position.
      shape: ``[N, 3]`` raw covariance parameters (see module docstring).
      colors: ``[N, 3]`` RGB weights.
      mask: ``[N]`` bool, live Gaussians.
      kind: ``"rs"`` or ``"cholesky"`` (static).
      height, width: image size in pixels (static).
    """

    xy: jax.Array
    shape: jax.Array
    colors: jax.Array
    mask: jax.Array
    kind: str = dataclasses.field(metadata=dict(static=True), default="rs")
    height: int = dataclasses.field(metadata=dict(static=True), default=0)
    width: int = dataclasses.field(metadata=dict(static=True), default=0)

    @property
    def capacity(self) -> int:
        return self.xy.shape[-2]

    def params(self) -> dict[str, jax.Array]:
        """The trainable leaves, for optax."""
        return {"xy": self.xy, "shape": self.shape, "colors": self.colors}

    def with_params(self, params: dict[str, jax.Array]) -> Gaussians:
        return dataclasses.replace(self, **params)

    def means(self) -> jax.Array:
        """``[N, 2]`` centres in pixels."""
        half = jnp.asarray([self.width / 2, self.height / 2], jnp.float32)
        return (jnp.tanh(self.xy) + 1.0) * half

    def covariances(self) -> jax.Array:
        """``[N, 3]`` covariance ``(xx, xy, yy)`` in pixels²."""
        if self.kind == "rs":
            scales = jnp.abs(self.shape[..., :2] + SCALE_OFFSET)
            theta = jax.nn.sigmoid(self.shape[..., 2]) * (2 * jnp.pi)
            return covariance.cov_from_rs(scales, theta)
        if self.kind == "cholesky":
            return covariance.cov_from_cholesky(self.shape + jnp.asarray(_CHOL_BOUND, jnp.float32))
        raise ValueError(f"unknown parameterization {self.kind=}; expected one of {KINDS}")

    def num_live(self) -> int:
        return int(np.asarray(self.mask).sum())


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown parameterization {kind=}; expected one of {KINDS}")


def _check_size(n: int, height: int, width: int) -> None:
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {height=} {width=}")
    if n < 1:
        raise ValueError(f"need at least one Gaussian, got {n=}")


def random_init(
    key: jax.Array,
    n: int,
    height: int,
    width: int,
    *,
    kind: Kind = "rs",
    variant: Literal["gi", "igi"] = "igi",
    capacity: int | None = None,
) -> Gaussians:
    """Random initialisation, as GaussianImage (``variant="gi"``) or Instant-GI (``"igi"``).

    Both draw positions uniformly over the image, colours U(0, 1), RS rotation raw U(0, 1) and
    Cholesky raw U(0, 1)³. RS scales: GI draws raw U(0, 1) → ``|raw + 0.5|`` ∈ [0.5, 1.5] px;
    Instant-GI's random init shifts the raw value by +0.5, giving [1, 2] px.

    Args:
      key: PRNG key.
      n: number of live Gaussians.
      height, width: image size, pixels.
      kind: covariance parameterization.
      variant: ``"gi"`` or ``"igi"``.
      capacity: padded size; defaults to ``bucket(n)``.
    """
    _check_kind(kind)
    _check_size(n, height, width)
    if variant not in ("gi", "igi"):
        raise ValueError(f"unknown random-init {variant=}; expected 'gi' or 'igi'")
    k_xy, k_shape, k_col = jax.random.split(key, 3)
    u = jax.random.uniform(k_xy, (n, 2), jnp.float32, -1.0 + _EPS, 1.0 - _EPS)
    shape = jax.random.uniform(k_shape, (n, 3), jnp.float32)
    if kind == "rs" and variant == "igi":
        shape = shape.at[:, :2].add(0.5)
    g = Gaussians(
        xy=jnp.arctanh(u),
        shape=shape,
        colors=jax.random.uniform(k_col, (n, 3), jnp.float32),
        mask=jnp.ones((n,), bool),
        kind=kind,
        height=height,
        width=width,
    )
    return pad(g, capacity if capacity is not None else bucket(n))


def from_pixels(
    means: np.ndarray | jax.Array,
    cov: np.ndarray | jax.Array,
    colors: np.ndarray | jax.Array,
    height: int,
    width: int,
    *,
    kind: Kind = "rs",
    capacity: int | None = None,
) -> Gaussians:
    """Build a set from pixel-space centres ``[N, 2]``, covariances ``[N, 3]`` and colours ``[N, 3]``.

    The inverse of :meth:`Gaussians.means` / :meth:`Gaussians.covariances`, used by the
    content-adaptive inits. Centres are clipped a hair inside the image (atanh is unbounded).
    """
    _check_kind(kind)
    means = np.asarray(means, np.float32)
    cov = np.asarray(cov, np.float32)
    colors = np.asarray(colors, np.float32)
    n = means.shape[0]
    _check_size(n, height, width)
    if cov.shape != (n, 3) or colors.shape != (n, 3) or means.shape != (n, 2):
        raise ValueError(
            f"expected means [N,2], cov [N,3], colors [N,3]; got {means.shape=} {cov.shape=} {colors.shape=}"
        )
    capacity = capacity if capacity is not None else bucket(n)
    if capacity < n:
        raise ValueError(f"cannot fit {n} Gaussians into {capacity=}")
    # Pad on the host first so the jitted conversion compiles once per bucket, not per count.
    extra = capacity - n
    unit = np.tile(np.asarray([[1.0, 0.0, 1.0]], np.float32), (extra, 1))
    means = np.concatenate([means, np.full((extra, 2), 0.5, np.float32) * (width, height)])
    cov = np.concatenate([cov, unit])
    colors = np.concatenate([colors, np.zeros((extra, 3), np.float32)])
    mask = np.arange(capacity) < n
    xy, shape = _raw_from_pixels(jnp.asarray(means), jnp.asarray(cov), height, width, kind)
    return Gaussians(
        xy=xy,
        shape=shape,
        colors=jnp.asarray(colors),
        mask=jnp.asarray(mask),
        kind=kind,
        height=height,
        width=width,
    )


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _raw_from_pixels(means, cov, height, width, kind):
    half = jnp.asarray([width / 2, height / 2], jnp.float32)
    xy = jnp.arctanh(jnp.clip(means / half - 1.0, -1.0 + 1e-5, 1.0 - 1e-5))
    xx, xy_, yy = cov[:, 0], cov[:, 1], cov[:, 2]
    if kind == "cholesky":
        l11 = jnp.sqrt(xx)
        l21 = xy_ / l11
        l22 = jnp.sqrt(jnp.maximum(yy - l21 * l21, 1e-12))
        return xy, jnp.stack([l11, l21, l22], -1) - jnp.asarray(_CHOL_BOUND, jnp.float32)
    # Eigen-decomposition of the symmetric 2×2: major axis angle θ, std devs s1 ≥ s2.
    b = 0.5 * (xx + yy)
    d = jnp.sqrt(jnp.maximum(0.25 * (xx - yy) ** 2 + xy_**2, 0.0))
    s1, s2 = jnp.sqrt(b + d), jnp.sqrt(jnp.maximum(b - d, 1e-12))
    theta = jnp.mod(0.5 * jnp.arctan2(2 * xy_, xx - yy), jnp.pi)  # [0, π) represents every axis
    frac = jnp.clip(theta / (2 * jnp.pi), 1e-6, 1 - 1e-6)
    return xy, jnp.stack([s1 - SCALE_OFFSET, s2 - SCALE_OFFSET, jnp.log(frac) - jnp.log1p(-frac)], -1)


def pad(g: Gaussians, capacity: int) -> Gaussians:
    """Pad (or keep) ``g`` to ``capacity`` entries; padded entries are masked out.

    Padding values are finite and give a valid covariance, so no NaN can leak into gradients.
    """
    n = g.capacity
    if capacity < n:
        raise ValueError(f"cannot pad {n} Gaussians to a smaller {capacity=}")
    extra = capacity - n
    if extra == 0:
        return g

    def grow(x, fill=0):
        if isinstance(x, jax.core.Tracer):
            return jnp.concatenate([x, jnp.full((extra, *x.shape[1:]), fill, x.dtype)], axis=0)
        # Concrete: on the host, since a device concatenate would compile per count.
        x = np.asarray(x)
        return jax.device_put(np.concatenate([x, np.full((extra, *x.shape[1:]), fill, x.dtype)]))

    return dataclasses.replace(
        g, xy=grow(g.xy), shape=grow(g.shape), colors=grow(g.colors), mask=grow(g.mask, False)
    )


def pad_to_bucket(g: Gaussians) -> Gaussians:
    """``g`` padded to the size bucket of its capacity: eager ops on the result compile once per
    bucket, not once per exact count."""
    return pad(g, bucket(g.capacity))


def compact(g: Gaussians) -> Gaussians:
    """Drop masked entries (host-side; the result has capacity = number of live Gaussians)."""
    keep = np.asarray(g.mask)  # on the host: a device gather would compile per count
    return dataclasses.replace(
        g, **{f: jax.device_put(np.asarray(getattr(g, f))[keep]) for f in ("xy", "shape", "colors", "mask")}
    )
