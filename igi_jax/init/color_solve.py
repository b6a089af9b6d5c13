"""Least-squares colours for a fixed geometry: conjugate gradient on the normal equations.

The render is linear in the colours, ``image = A c`` (``A: [N, 3] → [H, W, 3]``, see
:func:`igi_jax.render.color_operator`), so the best colours for a given geometry solve

    min_c ‖A c − y‖² + ridge · ‖c‖²   ⇔   (AᵀA + ridge I) c = Aᵀ y.

We run CGLS (CG on the normal equations written with the residual ``r = y − A c`` rather than
with ``AᵀA`` explicitly, which is better conditioned in float32): each iteration is one render
(``A``) and one colour-VJP of the render (``Aᵀ``). Started from the current colours, CG on an
SPD system decreases the objective monotonically, so the solve never makes a fit worse; a
*fixed* iteration count keeps it one jitted ``lax.fori_loop``, compiled once per
(Gaussian-capacity bucket, intersection-capacity bucket, image size, backend).

Masked (padded) Gaussians render nothing, so their column of ``A`` is zero; the solve keeps their
colour exactly 0.

Cost (measured 2026-11-24 on the 2 shared CPU cores, load average 5–10, XLA backend; photo 002 at
768×491, quad-tree scale 1.0, 60,875 Gaussians, 262,144 intersection slots): forward render
0.89 s (binning 0.14 s of it, redone per call); colour VJP from ``color_operator`` 1.77 s — the
hand-written backward computes the geometry moments too and XLA does not prune them (the full
VJP took 1.95 s) — against 0.93 s for a colour-only adjoint (``Σ_p w·v`` per slot +
``segment_sum``, no moments). One iteration ≈ 2.7 s, so 20 iterations ≈ 50 s there, and ~105 s
warm on Kodak ``kodim23`` (31,494 G) at load ~10. A colour-only backward in
``render/rasterize.py`` would save ~1/3; caching the per-chunk weights ``w [K, 256, chunk]``
once (the geometry is fixed; ~0.3 GB at this size) would turn both ``A`` and ``Aᵀ`` into a
gather + matmul and is the change needed to approach a 2 s init.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from typing import Any

import jax
import jax.numpy as jnp

from igi_jax.gaussians import Gaussians
from igi_jax.render import api as render_api

log = logging.getLogger(__name__)

DEFAULT_ITERS = 20
DEFAULT_RIDGE = 1e-6


def _dot(a: jax.Array, b: jax.Array) -> jax.Array:
    return jnp.vdot(a, b).real


@functools.partial(jax.jit, static_argnames=("height", "width", "capacity", "backend"))
def _cgls(
    means: jax.Array,  # [N, 2] pixels
    cov: jax.Array,  # [N, 3] pixels²
    mask: jax.Array,  # [N] bool
    colors: jax.Array,  # [N, 3] warm start
    image: jax.Array,  # [H, W, 3]
    iters: jax.Array,  # int32 scalar: traced, so every count shares one compile
    ridge: jax.Array,  # float32 scalar
    *,
    height: int,
    width: int,
    capacity: int,
    backend: str,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """CGLS from ``colors``; returns ``(colors, objective_before, objective_after, overflowed)``."""
    A, At = render_api.color_operator(means, cov, mask, height, width, capacity=capacity,
                                      backend=backend)
    live = mask[:, None].astype(jnp.float32)
    x = colors * live

    def grad(x, r):  # Aᵀ r − ridge x: the negative gradient of ½·objective
        return (At(r) - ridge * x) * live

    def objective(x, r):
        return _dot(r, r) + ridge * _dot(x, x)

    r = image - A(x)
    s = grad(x, r)
    before = objective(x, r)

    def body(_, carry):
        x, r, s, p, gamma = carry
        q = A(p)
        delta = _dot(q, q) + ridge * _dot(p, p)
        # Converged (γ = 0) or a zero direction: stand still instead of dividing by zero.
        alpha = jnp.where(delta > 0, gamma / jnp.where(delta > 0, delta, 1.0), 0.0)
        x = x + alpha * p
        r = r - alpha * q
        s = grad(x, r)
        gamma_new = _dot(s, s)
        beta = jnp.where(gamma > 0, gamma_new / jnp.where(gamma > 0, gamma, 1.0), 0.0)
        return x, r, s, s + beta * p, gamma_new

    x, r, *_ = jax.lax.fori_loop(0, iters, body, (x, r, s, s, _dot(s, s)))
    # The true residual, not the recurrence's: what the caller gets is what is reported.
    r = image - A(x)
    after = objective(x, r)
    return x, before, after, ~jnp.isfinite(after)


def solve_colors_with_info(
    g: Gaussians,
    image: jax.Array,
    *,
    iters: int = DEFAULT_ITERS,
    ridge: float = DEFAULT_RIDGE,
    capacity: int | None = None,
    backend: str = "auto",
) -> tuple[Gaussians, dict[str, Any]]:
    """:func:`solve_colors`, plus ``info``: objective and MSE before/after, ``capacity``.

    ``info`` keys: ``objective_before``, ``objective_after`` (‖A c − y‖² + ridge‖c‖², summed over
    pixels and channels), ``mse_before``, ``mse_after`` (mean over pixels and channels),
    ``iters``, ``capacity``.
    """
    image = jnp.asarray(image, jnp.float32)
    if image.shape != (g.height, g.width, 3):
        raise ValueError(f"image shape {image.shape} does not match Gaussians sized "
                         f"{(g.height, g.width, 3)}")
    if iters < 0:
        raise ValueError(f"iters must be ≥ 0, got {iters=}")
    if ridge < 0:
        raise ValueError(f"ridge must be ≥ 0, got {ridge=}")
    means, cov = g.means(), g.covariances()
    if capacity is None:
        capacity = render_api.required_capacity(means, cov, g.mask, g.height, g.width)
    colors, before, after, overflowed = _cgls(
        means, cov, g.mask, g.colors, image, jnp.int32(iters), jnp.float32(ridge),
        height=g.height, width=g.width, capacity=capacity, backend=render_api.resolve_backend(backend))
    if bool(overflowed):
        raise ValueError(f"colour solve failed: the render needs more than {capacity=} "
                         "intersections (or the geometry is not finite)")
    size = float(image.size)
    info = {"objective_before": float(before), "objective_after": float(after),
            "mse_before": float(before) / size, "mse_after": float(after) / size,
            "iters": iters, "capacity": capacity}
    log.info("colour solve (%d iters): MSE %.3g → %.3g", iters, info["mse_before"], info["mse_after"])
    return dataclasses.replace(g, colors=colors), info


def solve_colors(
    g: Gaussians,
    image: jax.Array,
    *,
    iters: int = DEFAULT_ITERS,
    ridge: float = DEFAULT_RIDGE,
    capacity: int | None = None,
    backend: str = "auto",
) -> Gaussians:
    """Replace ``g``'s colours by the least-squares colours for its geometry (CGLS, warm start).

    Args:
      g: Gaussians sized for ``image``; their colours are the warm start.
      image: ``[H, W, 3]`` target, float in [0, 1].
      iters: CG iterations (fixed; each costs one render and one colour-VJP).
      ridge: Tikhonov weight on ‖c‖² (keeps nearly-invisible Gaussians' colours bounded).
      capacity: static tile-intersection capacity; ``None`` sizes it from ``g`` (host call).
      backend: render backend (see :mod:`igi_jax.render`).

    Returns:
      ``g`` with new colours ``[N, 3]``; masked entries are 0. The objective
      ``‖A c − y‖² + ridge‖c‖²`` is never higher than at the warm start.

    Raises:
      ValueError: shape mismatch, or the render overflowed ``capacity``.
    """
    return solve_colors_with_info(g, image, iters=iters, ridge=ridge, capacity=capacity,
                                  backend=backend)[0]
