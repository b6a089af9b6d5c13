"""Least-squares colours for a fixed geometry: conjugate gradient on the normal equations.

The render is linear in the colours, ``image = A c`` (``A: [N, 3] → [H, W, 3]``, see
:func:`igi_jax.render.color_operator`), so the best colours for a given geometry solve

    min_c ‖A c − y‖² + ridge · ‖c‖²   ⇔   (AᵀA + ridge I) c = Aᵀ y.

We run CGLS (CG on the normal equations written with the residual ``r = y − A c`` rather than
with ``AᵀA`` explicitly, which is better conditioned in float32): each iteration is one render
(``A``) and one colour-VJP of the render (``Aᵀ``). Started from the current colours, CG on an
SPD system decreases the objective monotonically, so the solve never makes a fit worse; a
*fixed* iteration count keeps it one jitted ``lax.fori_loop``. The image is an argument, zero-padded
to the bucketed canvas with a pixel mask (the operator is ``P A``, ``P`` the projection onto the
image's pixels), so images share one program per (canvas, Gaussian-capacity bucket, list-capacity
bucket, backend); see :mod:`igi_jax.compile_cache`.

Masked (padded) Gaussians render nothing, so their column of ``A`` is zero; the solve keeps their
colour exactly 0.

Jacobi preconditioning (default) uses the analytic ``diag(AᵀA)_n ≈ Σ_p w_n(p)² ≈ π·sqrt(det Σ_n)``
(no extra render). Measured 2026-11-25 (2 shared cores, load ~6), PSNR after the solve, plain →
preconditioned (``solve_colors_with_info(g, img, iters=k, precondition=...)`` on ``quadtree_init``):

    photo, quad-tree scale 1.0      5 iters          10 iters         20 iters         40 iters
    002 at 768×491 (60,875 G)       13.58 → 25.37    19.98 → 26.51    24.40 → 27.22    26.58 → 27.61
    013 at 304×144 (8,575 G)        13.31 → 20.34    18.40 → 21.18    20.80 → 21.81    21.72 → 22.10

Cost. The reference backend's ``color_operator`` evaluates every chunk's weights once per geometry
(8×8-pixel cells; lists and store sized from the data by cheap counts), so A and Aᵀ are a gather
+ a small contraction each. Whole quad-tree init with 8 iterations (at the then-default
scale 0.75; 0.54 since issue 13), warm, idle 2-core CPU: ``python bench/init_time.py`` — on
Kodak-size images (31k–69k Gaussians) the solve takes ~0.2 s of set-up (binning, weights, the
first residual) plus ~0.06 s per iteration (2026-11-25). Before the weight cache, a colour VJP
recomputed the geometry moments and 20 iterations took ~105 s under load.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from igi_jax import compile_cache
from igi_jax import gaussians as gaussians_lib
from igi_jax.gaussians import Gaussians
from igi_jax.render import api as render_api

log = logging.getLogger(__name__)

DEFAULT_ITERS = 20
DEFAULT_RIDGE = 1e-6


def _dot(a: jax.Array, b: jax.Array) -> jax.Array:
    return jnp.vdot(a, b).real


def _cgls(
    means: jax.Array,  # [N, 2] pixels
    cov: jax.Array,  # [N, 3] pixels²
    mask: jax.Array,  # [N] bool
    colors: jax.Array,  # [N, 3] warm start
    image: jax.Array,  # [Hc, Wc, 3] canvas, zero-padded
    valid: jax.Array,  # [Hc, Wc, 1] float32: 1 on the image's pixels, 0 on the padding
    iters: jax.Array,  # int32 scalar: traced, so every count shares one compile
    ridge: jax.Array,  # float32 scalar
    *,
    precondition: bool,
    height: int,
    width: int,
    capacity: int,
    backend: str,
    max_chunks: int | None,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """CGLS from ``colors``; returns ``(colors, objective_before, objective_after, overflowed)``.

    The operator is ``P A`` with ``P`` the projection onto the image's pixels of the canvas.
    """
    render, At = render_api.color_operator(
        means, cov, mask, height, width, capacity=capacity, backend=backend, max_chunks=max_chunks
    )

    def A(c):
        return render(c) * valid

    live = mask[:, None].astype(jnp.float32)
    x = colors * live

    def grad(x, r):  # Aᵀ r − ridge x: the negative gradient of ½·objective
        return (At(r) - ridge * x) * live

    def objective(x, r):
        return _dot(r, r) + ridge * _dot(x, x)

    if precondition:
        # Jacobi: diag(AᵀA)_n = Σ_p w_n(p)² ≈ ∫ exp(−dᵀΣ⁻¹d) = π·sqrt(det Σ_n) (pixel units).
        det = jnp.maximum(cov[:, 0] * cov[:, 2] - cov[:, 1] ** 2, 1e-12)
        inv_diag = live / (jnp.pi * jnp.sqrt(det)[:, None] + ridge)
    else:
        inv_diag = live

    r = image * valid - A(x)
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
        z = inv_diag * s
        gamma_new = _dot(s, z)
        beta = jnp.where(gamma > 0, gamma_new / jnp.where(gamma > 0, gamma, 1.0), 0.0)
        return x, r, s, z + beta * p, gamma_new

    z = inv_diag * s
    x, r, *_ = jax.lax.fori_loop(0, iters, body, (x, r, s, z, _dot(s, z)))
    # The true residual, not the recurrence's: what the caller gets is what is reported.
    r = image * valid - A(x)
    after = objective(x, r)
    return x, before, after, ~jnp.isfinite(after)


def _compile(n: int, canvas: tuple[int, int], *, max_chunks: int, **static: Any) -> Any:
    """AOT-compile :func:`_cgls` for ``n`` Gaussians on an ``Hc × Wc`` canvas."""
    f32, height, width = jnp.float32, *canvas
    args = [
        jax.ShapeDtypeStruct(shape, dtype)
        for shape, dtype in (
            ((n, 2), f32),
            ((n, 3), f32),
            ((n,), jnp.bool_),
            ((n, 3), f32),
            ((height, width, 3), f32),
            ((height, width, 1), f32),
            ((), jnp.int32),
            ((), f32),
        )
    ]
    cgls = jax.jit(
        _cgls, static_argnames=("height", "width", "capacity", "backend", "precondition", "max_chunks")
    )
    return cgls.lower(*args, height=height, width=width, max_chunks=max_chunks or None, **static).compile()


def _canvas_target(image: jax.Array, canvas: tuple[int, int]) -> tuple[jax.Array, jax.Array]:
    """``image`` zero-padded to ``canvas`` and its ``[Hc, Wc, 1]`` pixel mask."""
    image = np.asarray(image, np.float32)
    pad = ((0, canvas[0] - image.shape[0]), (0, canvas[1] - image.shape[1]), (0, 0))
    valid = np.pad(np.ones((*image.shape[:2], 1), np.float32), pad)
    return jnp.asarray(np.pad(image, pad)), jnp.asarray(valid)


def solve_colors_with_info(
    g: Gaussians,
    image: jax.Array,
    *,
    iters: int = DEFAULT_ITERS,
    ridge: float = DEFAULT_RIDGE,
    capacity: int | None = None,
    backend: str = "auto",
    precondition: bool = True,
) -> tuple[Gaussians, dict[str, Any]]:
    """:func:`solve_colors`, plus ``info``: objective and MSE before/after, ``capacity``.

    ``info`` keys: ``objective_before``, ``objective_after`` (‖A c − y‖² + ridge‖c‖², summed over
    pixels and channels), ``mse_before``, ``mse_after`` (those objectives over pixels × channels:
    the MSE, plus the ridge term's share after the solve),
    ``iters``, ``capacity``, ``compile_seconds`` (0 when the program was already compiled).
    """
    image = np.asarray(image, np.float32)
    if image.shape != (g.height, g.width, 3):
        raise ValueError(f"image shape {image.shape} does not match Gaussians sized {(g.height, g.width, 3)}")
    if iters < 0:
        raise ValueError(f"iters must be ≥ 0, got {iters=}")
    if ridge < 0:
        raise ValueError(f"ridge must be ≥ 0, got {ridge=}")
    backend = render_api.resolve_backend(backend)
    canvas = compile_cache.canvas_size(g.height, g.width)
    means, cov = g.means(), g.covariances()
    if capacity is None:
        capacity = render_api.required_capacity(means, cov, g.mask, *canvas, backend=backend)
    # The reference backend caches every chunk's weights: size that store from the data (a cheap
    # count) rather than the binning's worst case, several times larger.
    max_chunks = (
        render_api.required_chunks(means, cov, g.mask, *canvas) if backend in render_api.CELL_BACKENDS else 0
    )
    family = ("solve", canvas, backend, precondition)
    n, capacity, max_chunks = compile_cache.choose(family, (g.capacity, capacity, max_chunks))
    program, compile_seconds = compile_cache.compiled(
        "solve",
        family,
        (n, capacity, max_chunks),
        lambda: _compile(
            n, canvas, capacity=capacity, backend=backend, precondition=precondition, max_chunks=max_chunks
        ),
    )
    padded = gaussians_lib.pad(g, n)
    colors, before, after, overflowed = program(
        padded.means(),
        padded.covariances(),
        padded.mask,
        padded.colors,
        *_canvas_target(image, canvas),
        jnp.int32(iters),
        jnp.float32(ridge),
    )
    colors = colors[: g.capacity]
    if bool(overflowed):
        raise ValueError(
            f"colour solve failed: the render needs more than {capacity=} "
            "list entries (or the geometry is not finite)"
        )
    size = float(image.size)
    info = {
        "objective_before": float(before),
        "objective_after": float(after),
        "mse_before": float(before) / size,
        "mse_after": float(after) / size,
        "iters": iters,
        "capacity": capacity,
        "compile_seconds": compile_seconds,
    }
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
    precondition: bool = True,
) -> Gaussians:
    """Replace ``g``'s colours by the least-squares colours for its geometry (CGLS, warm start).

    Args:
      g: Gaussians sized for ``image``; their colours are the warm start.
      image: ``[H, W, 3]`` target, float in [0, 1].
      iters: CG iterations (fixed; each costs one render and one colour-VJP).
      ridge: Tikhonov weight on ‖c‖² (keeps nearly-invisible Gaussians' colours bounded).
      capacity: static list length of the render's binning; ``None`` sizes it from ``g`` (host call).
      backend: render backend (see :mod:`igi_jax.render`).
      precondition: Jacobi-precondition CG with the analytic ``diag(AᵀA) ≈ π·sqrt(det Σ)``.

    Returns:
      ``g`` with new colours ``[N, 3]``; masked entries are 0. The objective
      ``‖A c − y‖² + ridge‖c‖²`` is never higher than at the warm start.

    Raises:
      ValueError: shape mismatch, or the render overflowed ``capacity``.
    """
    return solve_colors_with_info(
        g, image, iters=iters, ridge=ridge, capacity=capacity, backend=backend, precondition=precondition
    )[0]
