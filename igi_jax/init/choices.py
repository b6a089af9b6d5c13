"""Init registry: name → Gaussian set, timed (colour solve included).

Any init can be followed by a least-squares colour solve (:mod:`igi_jax.init.color_solve`, CGLS
with a fixed iteration count), timed as part of the init. It is on by default after ``quadtree``
(8 iterations) and off after the random inits (whose geometry is not worth fitting colours to).

Quad-tree ``scale`` (std dev per ellipse semi-axis): the official recipe is 0.54 and stays the
default without a solve (the colours are then point samples of the image, which only suit the
official narrow Gaussians). With the solve, wider Gaussians overlap more and the solve resolves
the overlap. Defaults with the solve: :data:`SOLVE_SCALE` = 0.75 and 8 CG iterations, picked on
photos (never Kodak) at 768 px wide, with the shipped fit config (``configs/fit_default``),
whole-init time warm, PSNR in dB at fit step 0 / 200 (2026-11-25, idle 2-core CPU, after the
8×8-cell rasterizer)::

    python bench/init_tuning.py --sweep budget --width 768 --photos 002,013 \
        --settings 0.75x8,0.75x12,0.75x20,1.0x8,1.0x12,1.0x20

    scale × iters   002 (768×491, 60,875 G)      013 (768×364, 47,732 G)
    0.75 × 8        2.41 s  24.78 / 29.75        1.29 s  20.74 / 24.95
    0.75 × 12       2.63 s  24.91 / 29.74        1.63 s  20.84 / 24.96
    0.75 × 20       3.67 s  24.96 / 29.71        2.54 s  20.88 / 24.97
    1.0 × 8         2.60 s  26.28 / 29.36        1.71 s  22.01 / 24.57
    1.0 × 12        3.52 s  26.75 / 29.54        –
    1.0 × 20        4.59 s  27.25 / 29.78        –

At 0.75 the preconditioned solve has converged by 8 iterations and after 200 steps it matches
or beats 1.0 (which starts 1–2 dB higher but needs 20 iterations, ~2× the init time, to catch
up). An earlier sweep at 304 px with GI's optimiser (``--sweep scale``) gave 0.54 / 0.75 / 1.0
= 23.85 / 26.12 / 26.05 dB (002) and 21.70 / 23.66 / 23.61 dB (013) after 200 steps.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import jax
import numpy as np

from igi_jax import gaussians as gaussians_lib
from igi_jax.gaussians import Gaussians, Kind
from igi_jax.init import color_solve

INITS = ("random", "random-gi", "quadtree")
MAX_GAUSSIANS = 4_000_000
SOLVE_ITERS = {"quadtree": 8}  # default CG iterations per init; absent = no solve
OFFICIAL_SCALE = 0.54  # quad-tree std per semi-axis, official (no colour solve)
SOLVE_SCALE = 0.75  # quad-tree std per semi-axis when the colour solve runs (measured, see above)


@dataclasses.dataclass
class InitResult:
    """An initial set, how long it took (seconds, synchronised) and init-specific details."""

    gaussians: Gaussians
    seconds: float
    info: dict[str, Any]


def initialize(
    name: str,
    image: np.ndarray,
    *,
    key: jax.Array | None = None,
    num_gaussians: int | None = None,
    kind: Kind = "rs",
    scale: float | None = None,
    solve_colors: int | None = None,
    backend: str = "auto",
) -> InitResult:
    """Initialise Gaussians for ``image [H, W, 3]`` (float in [0, 1]).

    Args:
      name: one of :data:`INITS`.
      image: target image.
      key: PRNG key for the random inits (default ``jax.random.key(0)``).
      num_gaussians: count for the random inits (required there; the quad-tree picks its own).
      kind: covariance parameterization.
      scale: quad-tree std dev per ellipse semi-axis (default: the official 0.54 without a
        colour solve, :data:`SOLVE_SCALE` with one).
      solve_colors: CG iterations of the least-squares colour solve after the init; ``0`` turns it
        off; ``None`` = the init's default (:data:`SOLVE_ITERS`: 8 after ``quadtree``, off
        otherwise).
      backend: render backend of the colour solve.

    Returns:
      The set, the synchronised wall time of the whole init (solve included, the solve's
      compilation excluded) and an info dict (the init's own, plus ``solve_iters``, ``t_solve``,
      ``compile_seconds`` (the solve's, 0 when reused), ``mse_before_solve``, ``mse_after_solve``).
    """
    if name not in INITS:
        raise ValueError(f"unknown init {name!r}; expected one of {INITS}")
    image = np.asarray(image, np.float32)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image must be [H, W, 3], got shape {image.shape}")
    height, width = image.shape[:2]
    iters = SOLVE_ITERS.get(name, 0) if solve_colors is None else int(solve_colors)
    if iters < 0:
        raise ValueError(f"solve_colors must be ≥ 0 (or None), got {solve_colors}")
    t0 = time.perf_counter()
    if name == "quadtree":
        from igi_jax.init import quadtree

        if scale is None:
            scale = SOLVE_SCALE if iters > 0 else OFFICIAL_SCALE
        g, info = quadtree.quadtree_init(image, kind=kind, scale=scale)
        info["scale"] = scale
    else:
        if num_gaussians is None:
            raise ValueError(f"init {name!r} needs num_gaussians")
        if not 1 <= num_gaussians <= MAX_GAUSSIANS:
            raise ValueError(f"num_gaussians={num_gaussians} is out of range [1, {MAX_GAUSSIANS:,}]")
        key = jax.random.key(0) if key is None else key
        variant = "igi" if name == "random" else "gi"
        g = gaussians_lib.random_init(key, num_gaussians, height, width, kind=kind, variant=variant)
        info = {"gaussians": num_gaussians}
    jax.block_until_ready(g)
    info.update(solve_iters=iters, compile_seconds=0.0)
    if iters > 0:
        t1 = time.perf_counter()
        g, solve = color_solve.solve_colors_with_info(g, image, iters=iters, backend=backend)
        jax.block_until_ready(g)
        info.update(t_solve=time.perf_counter() - t1 - solve["compile_seconds"],
                    compile_seconds=solve["compile_seconds"], mse_before_solve=solve["mse_before"],
                    mse_after_solve=solve["mse_after"])
    return InitResult(gaussians=g, seconds=time.perf_counter() - t0 - info["compile_seconds"], info=info)
