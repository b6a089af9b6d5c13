"""Init registry, the one place every init is named: name → Gaussian set, timed (colour solve included).

A *spec* is a name with an optional ``+solve`` suffix (:func:`parse_spec`): the experiments'
notation, where ``net`` is the network alone and ``net+solve`` adds the colour solve. Names:

* ``random`` / ``random-gi``: Instant-GI's / GaussianImage's random init, with a given count;
* ``quadtree``: the official non-learned init (:mod:`igi_jax.init.quadtree`);
* ``net``: the network (:func:`igi_jax.net.gaussians_for_image`), from a weights file;
* ``grad-dither`` / ``ellipse``: the paper's Table 3 ablations of the net init
  (:mod:`igi_jax.init.ablations`); experiments only, not ``igi fit``'s :data:`INITS`.

Any init can be followed by a least-squares colour solve (:mod:`igi_jax.init.color_solve`, CGLS
with :data:`SOLVE_ITERS` iterations), timed as part of the init. :func:`initialize` runs it by
default after ``quadtree`` and ``net`` (:data:`SOLVED_BY_DEFAULT`) and not after the random inits
(whose geometry is not worth fitting colours to) or the ablations. After ``net`` it gains
1.7–2.6 dB at step 0 and 0.03–0.13 dB after 200 steps on Kodak
(``bench/results/net_vs_inits_kodak``), for 0.5–1 s.

The net-based inits need trained weights (``weights=FILE``, or the shipped default); without them
it is an error, never silently random weights. The net's compilation is measured ahead of time and
reported in ``compile_seconds``, outside ``seconds``. ``shrink`` narrows its Gaussians: the network
is trained for its step-0 render, and Gaussians 0.8× as wide lose ~2.5 dB at step 0 but fine-tune
faster (+0.3 to +1.2 dB after 200 and 1,000 steps on every held-out photo at ×1, ×2 and ×4, with
the fit's 10-step warm-up as without it, ``bench/results/net_shrink.md``); ``igi fit --init net``
uses :data:`NET_FINETUNE_SHRINK` when it fine-tunes, experiments do not. That holds for the first
network; a net trained with a width prior is already as narrow as fine-tuning wants (f = 1 ahead after
200 steps), so a weights file may record its own factor (``export --finetune-shrink``).

Quad-tree ``scale`` (std dev per ellipse semi-axis): the official recipe is 0.54, and it is also
the default with the colour solve (:data:`SOLVE_SCALE`), with 8 CG iterations. Re-measured after
issue 13 (the paper's Adan, ``igi_jax/optim.py``) on photos (never Kodak) at 384 px wide, with the
shipped fit config of the time (``configs/fit_default``, lr 1e-3 × 3, before its 10-step warm-up),
PSNR (dB) at fit step 0 / 100 / 200
(2026-12-01, 2-core CPU shared with other jobs, load 11–16, so no init times are quoted)::

    python bench/init_tuning.py --sweep budget --width 384 --photos 002,013 --steps 200 \
        --settings 0.75x8,0.54x8,1.0x8,0.75x4
    python bench/init_tuning.py --sweep budget --width 384 --photos 002,013 --steps 200 \
        --settings 0.4x8,0.54x0

    scale × iters   002 (384×246, 17,371 G)    013 (384×182, 12,997 G)
    0.4 × 8         15.13 / 26.59 / 32.90      13.54 / 24.43 / 29.52
    0.54 × 0        16.77 / 28.69 / 33.56      16.33 / 26.13 / 29.90
    0.54 × 8        20.26 / 31.64 / 35.96      18.00 / 28.78 / 32.79
    0.75 × 4        22.88 / 31.73 / 35.00      20.39 / 28.84 / 31.92
    0.75 × 8        23.27 / 31.89 / 35.00      20.79 / 29.07 / 32.01
    1.0 × 8         24.35 / 29.67 / 32.17      21.88 / 27.03 / 29.30

and over 2,000 steps (``--sweep fit --steps 2000 --settings lr3,lr3_s0.54``), at 500 / 1000 / 2000:
0.54 × 8 gives 40.14 / 42.34 / 43.64 (002) and 37.05 / 39.27 / 40.60 (013), 0.75 × 8 gives
39.68 / 41.93 / 43.40 and 36.39 / 38.88 / 40.43. Wider Gaussians start higher, but with the fixed
optimizer the official width wins from step 200 on, by 0.8–1.0 dB at 200 and 0.2 dB at 2,000;
narrower (0.4) and wider (1.0) lose 3.1–3.8 dB at 200. The solve is still worth it at 0.54: +2.4 / +2.9
dB at step 200 over the official image-sampled colours (0.54 × 0). At 0.75, 4 CG iterations were
as good as 8 (−0.0 / −0.1 dB at 200); 8 stays the default (0.54 × 4 was not measured).

Before the fix (optax's eps_root made fit steps ~100× too small), the same sweep at 768 px had
picked 0.75: the crippled optimizer could not narrow wide Gaussians in 200 steps, so the init
that started highest won. Those runs are in ``bench/results/tuning/before_adan_fix/``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from igi_jax import gaussians as gaussians_lib
from igi_jax.gaussians import SCALE_OFFSET, Gaussians, Kind
from igi_jax.init import color_solve

INITS = ("random", "random-gi", "quadtree", "net")  # what `igi fit --init` offers
ABLATIONS = ("grad-dither", "ellipse")  # Table 3's ablations of the net init (experiments)
BASES = INITS + ABLATIONS
NET_BASED = ("net", *ABLATIONS)
MAX_GAUSSIANS = 4_000_000
SOLVE_ITERS = 8  # CG iterations of the colour solve (default and "+solve")
SOLVED_BY_DEFAULT = ("quadtree", "net")  # the inits whose default is to run the solve
NET_FINETUNE_SHRINK = 0.8  # `igi fit --init net`, for weights that record no shrink of their own
MAX_SHRINK = 4.0  # a larger factor on the net's widths is a typo, not an experiment
MAX_PPM_SCALE = 16.0  # beyond it every k × k cell holds a point for any PPM worth dithering
OFFICIAL_SCALE = 0.54  # quad-tree std per semi-axis, official (no colour solve)
SOLVE_SCALE = 0.54  # quad-tree std per semi-axis when the colour solve runs (measured, see above)


@dataclasses.dataclass(frozen=True)
class InitSpec:
    """A parsed init spec: ``base`` in :data:`BASES`, ``solve`` = colour solve after it."""

    base: str
    solve: bool

    @property
    def name(self) -> str:
        return self.base + ("+solve" if self.solve else "")

    @property
    def solve_iters(self) -> int:
        return SOLVE_ITERS if self.solve else 0

    @property
    def uses_net(self) -> bool:
        return self.base in NET_BASED

    @property
    def uses_k(self) -> bool:
        """Whether the result may depend on ``k`` (net-based inits; random through the net's count,
        when there is a net)."""
        return self.base in NET_BASED or self.base.startswith("random")


def parse_spec(text: str) -> InitSpec:
    """``"net+solve"`` → ``InitSpec("net", True)``; raises ``ValueError`` on an unknown name."""
    base, _, suffix = text.strip().partition("+")
    if base not in BASES or suffix not in ("", "solve"):
        raise ValueError(
            f"unknown init {text!r}; expected one of {', '.join(BASES)}, each optionally with '+solve'"
        )
    return InitSpec(base, suffix == "solve")


@dataclasses.dataclass
class InitResult:
    """An initial set, how long it took (seconds, synchronised) and init-specific details; the
    ablations also return the PPM they dithered (``[H, W]``) and their triangles' vertices
    (``[P, 2]`` pixels), for plots."""

    gaussians: Gaussians
    seconds: float
    info: dict[str, Any]
    ppm: np.ndarray | None = None
    points: np.ndarray | None = None


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
    weights: str | os.PathLike | None = None,
    k: int = 3,
    shrink: float = 1.0,
    ppm_scale: float | None = None,
) -> InitResult:
    """Initialise Gaussians for ``image [H, W, 3]`` (float in [0, 1]).

    Args:
      name: one of :data:`BASES`.
      image: target image.
      key: PRNG key for the random inits (default ``jax.random.key(0)``).
      num_gaussians: count for the random inits (required there), the quad-tree and the net
        (exactly that many, by a search on the quad-tree's threshold or the net's PPM scale,
        :mod:`igi_jax.init.rate`; ``None``: the init's own count).
      kind: covariance parameterization.
      scale: quad-tree std dev per ellipse semi-axis (default: the official 0.54 without a
        colour solve, :data:`SOLVE_SCALE` with one).
      solve_colors: CG iterations of the least-squares colour solve after the init; ``0`` turns it
        off; ``None`` = the init's default (:data:`SOLVE_ITERS` after :data:`SOLVED_BY_DEFAULT`,
        else off).
      backend: render backend of the colour solve (and the net inits' dithering).
      weights: net-based inits only: a weights file or orbax directory
        (:func:`igi_jax.net.load_weights`); default the shipped :data:`igi_jax.net.DEFAULT_WEIGHTS`
        when present, else an error.
      k: net-based inits only: dithering cell size (3 as trained; 4 or 5 give fewer Gaussians).
      shrink: ``net`` only: factor on the predicted std devs (both axes), applied before the
        colour solve. 1 is the network's own output, trained for its step-0 render; narrower
        Gaussians fine-tune faster (:data:`NET_FINETUNE_SHRINK`).
      ppm_scale: ``net`` only: factor on its PPM before dithering (more or fewer Gaussians, placed
        by the same map); ``None``: the factor the weights file records
        (:func:`igi_jax.net.weights.ppm_scale`), else 1. Ignored with ``num_gaussians``.

    Returns:
      The set, the synchronised wall time of the whole init (solve included, compilation and
      loading the weights excluded) and an info dict (the init's own, plus ``solve_iters``,
      ``t_solve``, ``compile_seconds`` (0 when reused), ``mse_before_solve``, ``mse_after_solve``).
    """
    if name not in BASES:
        raise ValueError(f"unknown init {name!r}; expected one of {BASES}")
    image = np.asarray(image, np.float32)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image must be [H, W, 3], got shape {image.shape}")
    height, width = image.shape[:2]
    default_iters = SOLVE_ITERS if name in SOLVED_BY_DEFAULT else 0
    iters = default_iters if solve_colors is None else int(solve_colors)
    if iters < 0:
        raise ValueError(f"solve_colors must be ≥ 0 (or None), got {solve_colors}")
    if name not in NET_BASED and weights is not None:
        raise ValueError(f"weights= applies to the net-based inits {NET_BASED} only, not {name!r}")
    if name in ABLATIONS and num_gaussians is not None:
        raise ValueError(f"num_gaussians= does not apply to the ablation {name!r}")
    if name != "net" and shrink != 1.0:
        raise ValueError(f"shrink= applies to the 'net' init only, not {name!r}")
    if not (math.isfinite(shrink) and 0 < shrink <= MAX_SHRINK):
        raise ValueError(f"shrink must be in (0, {MAX_SHRINK:g}], got {shrink}")
    if ppm_scale is not None:
        check_ppm_scale(ppm_scale, name)
    ppm = points = None
    t0 = time.perf_counter()
    if name in NET_BASED:
        from igi_jax import net

        path = net.resolve_weights(weights)
        model = net.load_weights_cached(path)
        if name == "net" and ppm_scale is None:
            from igi_jax.net.weights import ppm_scale as recorded_scale

            ppm_scale = recorded_scale(path) or 1.0
        t0 = time.perf_counter()  # loading the file is not part of the init
        if name == "net":
            g, info = net.gaussians_for_image(
                model, image, k=k, backend=backend, num_gaussians=num_gaussians, ppm_scale=ppm_scale
            )
        else:
            from igi_jax.init import ablations

            g, info, ppm, points = ablations.ablation_init(name, model, image, k, backend)
        if shrink != 1.0:
            g = _shrink(g, shrink)
            info["shrink"] = shrink
        if kind != "rs":
            g = gaussians_lib.from_pixels(*_live_pixels(g), height, width, kind=kind, capacity=g.capacity)
        info.setdefault("gaussians", g.num_live())
    elif name == "quadtree":
        from igi_jax.init import quadtree

        if scale is None:
            scale = SOLVE_SCALE if iters > 0 else OFFICIAL_SCALE
        g, info = quadtree.quadtree_init(image, kind=kind, scale=scale, num_gaussians=num_gaussians)
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
    net_compile = info.pop("compile_seconds", 0.0)  # the net's own compilation (AOT, measured)
    info.update(solve_iters=iters, compile_seconds=0.0)
    if iters > 0:
        t1 = time.perf_counter()
        g, solve = color_solve.solve_colors_with_info(g, image, iters=iters, backend=backend)
        jax.block_until_ready(g)
        info.update(
            t_solve=time.perf_counter() - t1 - solve["compile_seconds"],
            compile_seconds=solve["compile_seconds"],
            mse_before_solve=solve["mse_before"],
            mse_after_solve=solve["mse_after"],
        )
    info["compile_seconds"] += net_compile
    seconds = time.perf_counter() - t0 - info["compile_seconds"]
    return InitResult(gaussians=g, seconds=seconds, info=info, ppm=ppm, points=points)


def initialize_warm(spec: str | InitSpec, image: np.ndarray, **kwargs: Any) -> InitResult:
    """:func:`initialize` for a spec (``"net+solve"``), run twice: the second, warm run is returned,
    so that its time excludes every compilation (jitted stages, binning), as the fit's clock does.
    Its info keeps scalars only. ``kwargs`` as :func:`initialize` (``solve_colors`` comes from the
    spec)."""
    spec = parse_spec(spec) if isinstance(spec, str) else spec
    initialize(spec.base, image, solve_colors=spec.solve_iters, **kwargs)
    out = initialize(spec.base, image, solve_colors=spec.solve_iters, **kwargs)
    out.info = {key: v for key, v in out.info.items() if np.ndim(v) == 0}
    return out


def check_ppm_scale(value: Any, name: str = "net") -> float:
    """``value`` as a PPM factor for the ``net`` init, or a ``ValueError`` naming the range."""
    if name != "net":
        raise ValueError(f"ppm_scale= applies to the 'net' init only, not {name!r}")
    ok = isinstance(value, numbers.Real) and math.isfinite(value) and 0 < value <= MAX_PPM_SCALE
    if not ok:
        raise ValueError(f"ppm_scale must be a number in (0, {MAX_PPM_SCALE:g}], got {value!r}")
    return float(value)


def _shrink(g: Gaussians, factor: float) -> Gaussians:
    """``g`` (RS) with both std devs × ``factor`` (the stored scale is ``|s + 0.5|``)."""
    scales = jnp.abs(g.shape[:, :2] + SCALE_OFFSET) * factor
    return dataclasses.replace(g, shape=g.shape.at[:, :2].set(scales - SCALE_OFFSET))


def _live_pixels(g: Gaussians) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres, covariances and colours of the live Gaussians, in pixels (host)."""
    keep = np.asarray(g.mask)
    return (np.asarray(g.means())[keep], np.asarray(g.covariances())[keep], np.asarray(g.colors)[keep])
