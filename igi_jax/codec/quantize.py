"""GaussianImage's quantisers as pure JAX functions, differentiable by straight-through rounding.

Per Gaussian: the position on a grid of ``2^-xy_subpixel`` pixels (GaussianImage casts the
pre-tanh coordinates to float16; a grid cell codes in far fewer bits, see
:mod:`igi_jax.codec.bitstream`); the 3 covariance values by a uniform ``shape_bits`` quantiser per
channel, ``value = index · scale + offset`` with ``scale`` and ``offset`` learned (initialised from
the fitted min / max), optionally on a companded value (``shape_knee``: ``asinh(value / knee)``,
steps of equal ratio above the knee); the colour by a residual vector quantiser of ``stages``
float16 codebooks of ``codebook`` entries (k-means init weighted by each Gaussian's footprint,
then learned from the image loss beside VQ-VAE's codebook and commitment
losses). Opacity is folded into the colour, as in the fit.

    q = init_state(g, QuantConfig(), key)
    params_q = quantize(g.params(), q, cfg, (g.height, g.width))  # what the decoder renders, STE
    payload = to_payload(g, q, cfg)              # integer symbols (igi_jax.codec.bitstream)
    g_decoded = from_payload(payload)            # renders exactly like params_q
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from igi_jax.buckets import bucket
from igi_jax.codec.bitstream import MAX_SUBPIXEL, Payload
from igi_jax.gaussians import Gaussians, compact, pad_to_bucket

# The position grid when a config leaves it unset, by density (pixels per Gaussian below → a
# grid of 2^-p px): a step of ~1/50 of the Gaussians' spacing. From
# bench/results/codec_sweep_subpixel.md (training photos 001-003 at 640 px): 1/4 px best at ~170
# pixels per Gaussian, 1/8 at ~40; and the README demo at 11 (4,012 Gaussians, 200 + 200 steps):
# 1/16 px 32.99 dB for 15.2 kB, 1/8 px 32.39 dB for 14.2 kB, 1/4 px 30.50 dB for 13.1 kB.
DENSITY_SUBPIXEL = ((20.0, 4), (80.0, 3), (math.inf, 2))


def subpixel_for_density(count: int, height: int, width: int) -> int:
    """The position grid's ``p`` (a step of ``2^-p`` px) for ``count`` Gaussians on H × W."""
    per = height * width / max(int(count), 1)
    return next(p for below, p in DENSITY_SUBPIXEL if per < below)


@dataclasses.dataclass(frozen=True)
class QuantConfig:
    """Bit depths and codebook sizes (GaussianImage's, but positions on a pixel grid)."""

    xy_subpixel: int | None = None  # positions on a grid of 2^-p px; None: by density

    shape_bits: int = 6
    # Covariance values quantised as asinh(value / knee) (pixels): steps in proportion to the value
    # above the knee, ~1/knee of it below. None: linear, as GaussianImage.
    shape_knee: float | None = None
    stages: int = 2
    codebook: int = 8
    kmeans_iters: int = 20
    commitment: float = 0.25  # weight of ‖c − sg(q)‖² beside the codebook term ‖sg(c) − q‖²

    def __post_init__(self):
        if self.xy_subpixel is not None and not 0 <= self.xy_subpixel <= MAX_SUBPIXEL:
            raise ValueError(f"xy_subpixel must be in 0 … {MAX_SUBPIXEL}, got {self.xy_subpixel}")
        if not 1 <= self.shape_bits <= 16:
            raise ValueError(f"shape_bits must be in 1 … 16, got {self.shape_bits}")
        knee = self.shape_knee
        number = isinstance(knee, int | float) and not isinstance(knee, bool)
        if knee is not None and not (number and math.isfinite(knee) and knee > 0):
            raise ValueError(f"shape_knee must be a number > 0 (pixels) or None, got {self.shape_knee!r}")
        if not 1 <= self.stages <= 8:
            raise ValueError(f"stages must be in 1 … 8, got {self.stages}")
        if not 2 <= self.codebook <= 65536:
            raise ValueError(f"codebook must be in 2 … 65536 entries, got {self.codebook}")

    def resolved(self, count: int, height: int, width: int) -> QuantConfig:
        """This config with the position grid set (:func:`subpixel_for_density` if unset)."""
        if self.xy_subpixel is not None:
            return self
        return dataclasses.replace(self, xy_subpixel=subpixel_for_density(count, height, width))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class QState:
    """The learned quantiser parameters: ``shape_scale [3]``, ``shape_offset [3]``,
    ``codebooks [S, K, 3]``."""

    shape_scale: jax.Array
    shape_offset: jax.Array
    codebooks: jax.Array


def _round_ste(x: jax.Array) -> jax.Array:
    return x + jax.lax.stop_gradient(jnp.round(x) - x)


def _xy_cells(xy: jax.Array, size: tuple[int, int], subpixel: int) -> jax.Array:
    """Grid cell ``[N, 2]`` (float, integral) holding each pre-tanh position ``xy [N, 2]``."""
    height, width = size
    cells = jnp.asarray([width << subpixel, height << subpixel], jnp.float32)
    return jnp.clip(jnp.floor((jnp.tanh(xy) + 1.0) * 0.5 * cells), 0.0, cells - 1.0)


def _xy_from_cells(cells: jax.Array, size: tuple[int, int], subpixel: int) -> jax.Array:
    """The pre-tanh position ``[N, 2]`` of each grid cell's centre."""
    height, width = size
    n = jnp.asarray([width << subpixel, height << subpixel], jnp.float32)
    return jnp.arctanh((2.0 * cells + 1.0) / n - 1.0)


def _codebooks16(codebooks: jax.Array) -> jax.Array:
    """The codebooks as the file stores them (float16), straight-through."""
    return codebooks + jax.lax.stop_gradient(codebooks.astype(jnp.float16).astype(jnp.float32) - codebooks)


def compand(shape, knee: float | None, xp=jnp):
    """The value a covariance channel is quantised as: ``asinh(shape / knee)``, or ``shape``."""
    return shape if not knee else xp.arcsinh(shape / xp.float32(knee))


def expand(u, knee: float | None, xp=jnp):
    """Inverse of :func:`compand`."""
    return u if not knee else xp.float32(knee) * xp.sinh(u)


def _shape_index(shape: jax.Array, q: QState, bits: int) -> jax.Array:
    """Real-valued index ``[N, 3]`` clipped to the quantiser's range (rounded by the caller)."""
    return jnp.clip((shape - q.shape_offset) / q.shape_scale, 0.0, (1 << bits) - 1.0)


def _rvq(colors: jax.Array, codebooks: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Residual VQ: ``(indices [N, S] int32, quantised colours [N, 3])``."""
    residual, total, idx = colors, jnp.zeros_like(colors), []
    for s in range(codebooks.shape[0]):
        d = jnp.sum((residual[:, None, :] - codebooks[s][None]) ** 2, axis=-1)
        i = jnp.argmin(d, axis=-1)
        entry = codebooks[s][i]
        idx.append(i.astype(jnp.int32))
        total, residual = total + entry, residual - entry
    return jnp.stack(idx, -1), total


def footprint(cov: jax.Array, mask: jax.Array) -> jax.Array:
    """``[N]`` weight of each live Gaussian's colour error in the image's squared error: a colour
    error δ on a unit-peak Gaussian of covariance Σ adds ``|δ|² ∫ exp(−xᵀΣ⁻¹x) = |δ|² π √det Σ``
    (overlaps aside). ``cov [N, 3]`` as ``(xx, xy, yy)``; 0 where ``mask`` is off."""
    det = cov[:, 0] * cov[:, 2] - cov[:, 1] ** 2
    return jnp.sqrt(jnp.where(mask & (det > 0), det, 0.0))


def quantize(
    params: dict[str, jax.Array], q: QState, cfg: QuantConfig, size: tuple[int, int]
) -> dict[str, jax.Array]:
    """The parameters the decoder reconstructs for an image of ``size = (H, W)``. Gradients pass
    straight through the rounding to ``params``, and exactly to the scale / offset and the
    codebooks (whose entries the decoded colours are)."""
    return quantize_with_loss(params, q, None, cfg, size)[0]


def quantize_with_loss(
    params: dict[str, jax.Array],
    q: QState,
    weights: jax.Array | None,
    cfg: QuantConfig,
    size: tuple[int, int],
) -> tuple[dict[str, jax.Array], jax.Array]:
    """:func:`quantize`, plus the colour quantiser's codebook + commitment loss from the same
    nearest-entry search, averaged with ``weights [N]`` (:func:`footprint`; 0 when ``None``)."""
    if cfg.xy_subpixel is None:
        raise ValueError("QuantConfig.xy_subpixel is unset: QuantConfig.resolved(count, H, W) sets it")
    xy = params["xy"]
    xy_hat = _xy_from_cells(_xy_cells(xy, size, cfg.xy_subpixel), size, cfg.xy_subpixel)
    xy_q = xy + jax.lax.stop_gradient(xy_hat - xy)
    u = _round_ste(_shape_index(compand(params["shape"], cfg.shape_knee), q, cfg.shape_bits))
    shape_q = expand(u * q.shape_scale + q.shape_offset, cfg.shape_knee)
    c = params["colors"]
    books = _codebooks16(q.codebooks)
    idx, _ = _rvq(jax.lax.stop_gradient(c), jax.lax.stop_gradient(books))
    c_hat = sum(books[s][idx[:, s]] for s in range(books.shape[0]))
    # The value is the codebooks' sum: the image loss reaches the entries exactly and the colours
    # straight through (codebooks learnt by the VQ loss alone trail the image's optimum).
    colors_q = c_hat + (c - jax.lax.stop_gradient(c))
    loss = jnp.float32(0.0)
    if weights is not None:
        weights = jax.lax.stop_gradient(weights)  # √det has an infinite slope at 0: none may reach Σ
        w = weights[:, None] / jnp.maximum(jnp.sum(weights), 1e-12)
        codebook = jnp.sum(w * (jax.lax.stop_gradient(c) - c_hat) ** 2)
        commit = jnp.sum(w * (c - jax.lax.stop_gradient(c_hat)) ** 2)
        loss = codebook + cfg.commitment * commit
    return {"xy": xy_q, "shape": shape_q, "colors": colors_q}, loss


@functools.partial(jax.jit, static_argnames=("k", "iters"))
def _kmeans(key: jax.Array, x: jax.Array, w: jax.Array, k: int, iters: int) -> jax.Array:
    """Weighted Lloyd iterations from ``k`` distinct live points: ``[k, 3]`` centres."""
    p = w / jnp.maximum(jnp.sum(w), 1e-12)
    centres = x[jax.random.choice(key, x.shape[0], (k,), replace=False, p=p)]

    def step(centres, _):
        assign = jnp.argmin(jnp.sum((x[:, None] - centres[None]) ** 2, -1), -1)
        one_hot = jax.nn.one_hot(assign, k) * w[:, None]
        sums, counts = one_hot.T @ x, jnp.sum(one_hot, 0)
        return jnp.where(counts[:, None] > 0, sums / jnp.maximum(counts, 1.0)[:, None], centres), None

    return jax.lax.scan(step, centres, None, length=iters)[0]


def init_state(g: Gaussians, cfg: QuantConfig, key: jax.Array) -> QState:
    """Scale / offset from the live Gaussians' min / max; codebooks by k-means, stage by stage,
    each colour weighted by its Gaussian's :func:`footprint` (the image error it stands for)."""
    if g.num_live() < cfg.codebook:
        raise ValueError(f"{g.num_live()} Gaussians cannot fill a codebook of {cfg.codebook} entries")
    g = pad_to_bucket(g)  # the k-means compiles per bucket, not per count
    live = np.asarray(g.mask)
    shape = compand(np.asarray(g.shape)[live], cfg.shape_knee, np)
    lo, hi = shape.min(0), shape.max(0)
    scale = np.maximum(hi - lo, 1e-6) / ((1 << cfg.shape_bits) - 1)
    w = footprint(g.covariances(), g.mask) + 1e-6 * g.mask  # a degenerate one is still a live point
    residual, books = g.colors, []
    for key_s in jax.random.split(key, cfg.stages):
        book = _kmeans(key_s, residual, w, cfg.codebook, cfg.kmeans_iters)
        _, hat = _rvq(residual, book[None])
        residual = residual - hat
        books.append(book)
    return QState(jnp.asarray(scale, jnp.float32), jnp.asarray(lo, jnp.float32), jnp.stack(books))


def _rows(x: jax.Array | np.ndarray, n: int) -> np.ndarray:
    """``x [M, ...]`` zero-padded to ``n`` rows (host), so that the coders compile per bucket."""
    x = np.asarray(x)
    return np.concatenate([x, np.zeros((n - len(x), *x.shape[1:]), x.dtype)])


def _symbols(xy, shape, colors, q: QState, books, size, subpixel, bits, knee):
    """Cells ``[N, 2]``, shape indices ``[N, 3]`` and colour indices ``[N, S]`` (what the file holds).
    Eager, op by op as :func:`quantize` runs outside a jit, so that the decoder's floats are the
    quantiser's; on padded rows each op compiles once per size bucket."""
    color_idx, _ = _rvq(colors, books)
    return _xy_cells(xy, size, subpixel), jnp.round(_shape_index(compand(shape, knee), q, bits)), color_idx


def to_payload(g: Gaussians, q: QState, cfg: QuantConfig) -> Payload:
    """The integer symbols of the live Gaussians and the quantisers' parameters, in the file's
    raster order (host). An unset position grid is set by ``g``'s density."""
    g = compact(g)
    cfg = cfg.resolved(g.num_live(), g.height, g.width)
    n, m = g.num_live(), bucket(g.num_live())
    books = np.asarray(q.codebooks).astype(np.float16)
    cells, shape_idx, color_idx = _symbols(
        *(_rows(a, m) for a in (g.xy, g.shape, g.colors)),
        q,
        jnp.asarray(books, jnp.float32),
        (g.height, g.width),
        cfg.xy_subpixel,
        cfg.shape_bits,
        cfg.shape_knee,
    )
    cells, shape_idx, color_idx = (np.asarray(a)[:n] for a in (cells, shape_idx, color_idx))
    if not (np.isfinite(cells).all() and np.isfinite(shape_idx).all()):
        raise FloatingPointError("a Gaussian's position or covariance is not finite: nothing to encode")
    cells, shape_idx = cells.astype(np.int64), shape_idx.astype(np.int32)
    return Payload(
        height=g.height,
        width=g.width,
        kind=g.kind,
        xy_index=cells,
        xy_subpixel=cfg.xy_subpixel,
        shape_index=shape_idx,
        shape_bits=cfg.shape_bits,
        shape_scale=np.asarray(q.shape_scale, np.float32),
        shape_offset=np.asarray(q.shape_offset, np.float32),
        shape_knee=float(cfg.shape_knee or 0.0),
        color_index=np.asarray(color_idx, np.int32),
        codebooks=books,
    ).sorted()


def from_payload(p: Payload) -> Gaussians:
    """The Gaussians a payload decodes to (float32; renders like :func:`quantize`'s output)."""
    size = (p.height, p.width)
    cells = jnp.asarray(_rows(p.xy_index.astype(np.float32), bucket(p.count)))  # compiles per bucket
    xy = np.asarray(_xy_from_cells(cells, size, p.xy_subpixel))[: p.count]
    shape = expand(p.shape_index.astype(np.float32) * p.shape_scale + p.shape_offset, p.shape_knee, np)
    books = p.codebooks.astype(np.float32)
    colors = np.zeros((p.count, 3), np.float32)
    for s in range(books.shape[0]):
        colors = colors + books[s][p.color_index[:, s]]
    # device_put, not jnp.asarray: the latter compiles a copy per count.
    return Gaussians(
        jax.device_put(xy),
        jax.device_put(shape.astype(np.float32)),
        jax.device_put(colors),
        jax.device_put(np.ones((p.count,), bool)),
        kind=p.kind,
        height=p.height,
        width=p.width,
    )
