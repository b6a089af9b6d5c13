"""Per-image fitting: GaussianImage-style optimisation of a Gaussian set with optax.

Settings: :class:`~igi_jax.fit_config.FitConfig` (importable from here too).

One jitted function runs ``log_every`` optimiser steps inside ``lax.fori_loop`` and returns
the new state plus the PSNR of the result, so Python only wakes up at log points. The clock
(``history[i]["seconds"]``) starts at the init: ``init_seconds`` is added to every entry, and
compilation is timed separately (``compile_seconds``).

The target image, the Gaussian mask and the image size are *arguments* of the compiled block,
so images of one problem shape (canvas, Gaussian and list capacities, settings; see
:mod:`igi_jax.compile_cache`) share one compiled program: an L2 fit runs on the image
zero-padded to a bucketed canvas, with the loss and the PSNR taken over the image's pixels only.

The binning's (Gaussian, cell) list has a static capacity sized from the data. Gaussians move
during the fit; if a block needed more entries than the capacity (its renders were NaN), the
block is thrown away, the capacity grows to the next bucket and the block is re-run.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Collection
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from igi_jax import compile_cache, metrics, optim
from igi_jax import gaussians as gaussians_lib
from igi_jax.buckets import bucket
from igi_jax.errors import FitDivergedError
from igi_jax.fit_config import PARAM_GROUPS, FitConfig
from igi_jax.gaussians import Gaussians
from igi_jax.render import api as render_api


@dataclasses.dataclass
class FitResult:
    """What a fit produced: final Gaussians and render, the PSNR-vs-time log, timings."""

    gaussians: Gaussians
    image: jax.Array  # [H, W, 3], unclamped render
    history: list[dict[str, float]]
    steps: int
    init_seconds: float
    compile_seconds: float
    fit_seconds: float
    capacity: int
    snapshots: dict[int, np.ndarray] = dataclasses.field(default_factory=dict)  # step -> [H, W, 3]


def make_optimizer(cfg: FitConfig) -> optax.GradientTransformation:
    """The fit's optimiser: the paper's Adan (or Adam) with step decay, per-group rates."""
    return optim.step_decay_optimizer(
        cfg.optimizer,
        cfg.lr,
        decay_every=cfg.decay_every,
        decay_rate=cfg.decay_rate,
        groups=dict(cfg.lr_groups),
        group_names=PARAM_GROUPS,
        warmup_steps=cfg.warmup_steps,
    )


def group_scales(cfg: FitConfig) -> dict[str, jax.Array]:
    """The per-group rate multipliers of ``cfg`` as traced scalars (see :func:`scale_groups`)."""
    groups = dict(cfg.lr_groups)
    return {k: jnp.float32(groups.get(k, 1.0)) for k in PARAM_GROUPS}


def unit_optimizer(cfg: FitConfig) -> optax.GradientTransformation:
    """:func:`make_optimizer` with every group at ×1: the compiled fit's optimiser, whose updates
    :func:`scale_groups` then scales. Adan's and Adam's updates are linear in the rate, so this is
    ``make_optimizer(cfg)`` (to float rounding) while the multipliers stay out of the program: the
    codec's count-dependent shape rate and the size rule's position rate compile once."""
    return make_optimizer(dataclasses.replace(cfg, lr_groups=()))


def scale_groups(updates: dict[str, jax.Array], scales: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """``updates`` (a params dict) with each group's multiplied by its rate multiplier."""
    return {k: u * scales[k] for k, u in updates.items()}


def program_key(cfg: FitConfig) -> tuple:
    """The settings that change the compiled block (not the budget, the logging interval or the
    per-group rate multipliers, which are arguments)."""
    return (
        cfg.optimizer,
        cfg.lr,
        cfg.decay_every,
        cfg.decay_rate,
        cfg.warmup_steps,
        cfg.loss,
        render_api.resolve_backend(cfg.backend),
        cfg.clamp,
    )  # after _size_rule


def _means(xy: jax.Array, size: jax.Array) -> jax.Array:
    """:meth:`Gaussians.means` with the image size ``[W, H]`` traced (one program per canvas)."""
    return (jnp.tanh(xy) + 1.0) * (size.astype(jnp.float32) / 2)


def _valid(size: jax.Array, canvas: tuple[int, int]) -> jax.Array:
    """``[Hc, Wc, 1]`` float: 1 on the image's pixels, 0 on the canvas padding."""
    rows = jnp.arange(canvas[0])[:, None] < size[1]
    cols = jnp.arange(canvas[1])[None, :] < size[0]
    return (rows & cols)[..., None].astype(jnp.float32)


def _masked_mse(image: jax.Array, target: jax.Array, size: jax.Array, canvas: tuple[int, int]) -> jax.Array:
    err = (image - target) * _valid(size, canvas)
    return jnp.sum(err * err) / (3.0 * size[0] * size[1])


def _build_block(kind: str, canvas: tuple[int, int], capacity: int, cfg: FitConfig):
    """``(tx, block)``: the optimiser and the jitted ``(params, opt_state, num_steps, mask, target,
    size, scales) → (params, opt_state, psnr, loss, max_count, image)``; ``loss`` is NaN if any
    step's loss or any parameter was not finite; ``scales``: :func:`group_scales`.

    ``target`` and ``image`` are ``[Hc, Wc, 3]`` canvases (the target zero-padded), ``size`` is the
    image's ``[W, H]``; the L2 loss and the PSNR are means over the image's pixels only.
    """
    tx = unit_optimizer(cfg)
    height, width = canvas

    def render(params, mask, size):
        cov = Gaussians(
            params["xy"], params["shape"], params["colors"], mask, kind=kind, height=height, width=width
        ).covariances()
        return render_api.render_with_count(
            _means(params["xy"], size),
            cov,
            params["colors"],
            mask,
            height,
            width,
            capacity=capacity,
            backend=cfg.backend,
        )

    def loss(params, mask, target, size):
        image, count = render(params, mask, size)
        if cfg.clamp:
            image = jnp.clip(image, 0.0, 1.0)
        if cfg.loss == "l2":
            return _masked_mse(image, target, size, canvas), count
        from igi_jax import losses  # D-SSIM fits on the exact image size (see _canvas)

        return losses.l2_dssim_loss(image, target, lam=0.7), count

    def step(_, carry):
        params, opt_state, _, max_count, finite, mask, target, size, scales = carry
        (value, count), grads = jax.value_and_grad(loss, has_aux=True)(params, mask, target, size)
        updates, opt_state = tx.update(grads, opt_state, params)
        new = optax.apply_updates(params, scale_groups(updates, scales))
        # Padded entries have zero gradient, but keep them bit-identical regardless.
        new = jax.tree.map(lambda n, o: jnp.where(mask[:, None], n, o), new, params)
        finite = finite & jnp.isfinite(value)  # a NaN render can look finite later (culled)
        return new, opt_state, value, jnp.maximum(max_count, count), finite, mask, target, size, scales

    def block(params, opt_state, num_steps, mask, target, size, scales):
        init = (params, opt_state, jnp.float32(0), jnp.int32(0), jnp.bool_(True), mask, target, size, scales)
        params, opt_state, value, max_count, finite, *_ = jax.lax.fori_loop(0, num_steps, step, init)
        image, count = render(params, mask, size)
        psnr = metrics.psnr_from_mse(_masked_mse(jnp.clip(image, 0.0, 1.0), target, size, canvas))
        finite = finite & jnp.all(jnp.stack([jnp.all(jnp.isfinite(p)) for p in jax.tree.leaves(params)]))
        value = jnp.where(finite, value, jnp.nan)
        return params, opt_state, psnr, value, jnp.maximum(max_count, count), image

    return tx, jax.jit(block)


def _size_rule(cfg: FitConfig, canvas: tuple[int, int]) -> FitConfig:
    """``cfg`` with the position rate scaled by ``xy_lr_side / max(canvas)`` when that is < 1.

    The canvas, not the image, sets the factor, so images sharing a canvas share a program.
    """
    side = max(canvas)
    if cfg.xy_lr_side is None or side <= cfg.xy_lr_side:
        return cfg
    groups = dict(cfg.lr_groups)
    groups["xy"] = groups.get("xy", 1.0) * cfg.xy_lr_side / side
    return dataclasses.replace(cfg, lr_groups=tuple((k, groups.get(k, 1.0)) for k in PARAM_GROUPS))


def _canvas(height: int, width: int, cfg: FitConfig) -> tuple[int, int]:
    """L2 fits run on the bucketed canvas; D-SSIM's windows would see the padding, so not it."""
    return compile_cache.canvas_size(height, width) if cfg.loss == "l2" else (height, width)


def _program(g: Gaussians, canvas: tuple[int, int], capacity: int, cfg: FitConfig, *, fixed_n: bool = False):
    """The compiled fit for this problem shape (see :mod:`igi_jax.compile_cache`).

    Returns ``(n, capacity, init, block, seconds)``: the Gaussian and list capacities it was
    compiled for (≥ the ones asked for), the compiled optimiser init and block, and the seconds
    spent compiling (0 when reused). ``fixed_n``: keep ``g.capacity`` Gaussians.
    """
    family = ("fit", g.kind, canvas, program_key(cfg))
    n, chosen = compile_cache.choose(family, (g.capacity, capacity))
    # A fit that re-buckets mid-way keeps its Gaussian capacity (its optimiser state has it).
    n, capacity = (g.capacity, capacity) if fixed_n and n != g.capacity else (n, chosen)
    params = jax.eval_shape(lambda: gaussians_lib.pad(g, n).params())

    def build():
        tx, block = _build_block(g.kind, canvas, capacity, cfg)
        opt_state = jax.eval_shape(tx.init, params)
        mask = jax.ShapeDtypeStruct((n,), jnp.bool_)
        target = jax.ShapeDtypeStruct((*canvas, 3), jnp.float32)
        size = jax.ShapeDtypeStruct((2,), jnp.int32)
        scales = jax.eval_shape(lambda: group_scales(cfg))
        return (
            jax.jit(tx.init).lower(params).compile(),
            block.lower(params, opt_state, jnp.int32(0), mask, target, size, scales).compile(),
        )

    (init, block), seconds = compile_cache.compiled("fit", family, (n, capacity), build)
    return n, capacity, init, block, seconds


def block_steps(
    step: int,
    cfg: FitConfig,
    snapshots: Collection[int] = (),
    *,
    seconds_left: float | None = None,
    step_seconds: float | None = None,
) -> int:
    """Steps of the block that starts at ``step``: to the next multiple of ``log_every``, the next
    snapshot step or ``steps``, whichever comes first (log points = those block ends).

    Under a time budget (``seconds_left`` of it remain), the first block is one step, which times
    a step (``step_seconds``, from the last block, its log render included), and each block is cut
    to the steps that fill the time left, so a fit stops within about a step of its budget, not a
    whole block past it (which would favour inits whose steps are slow).
    """
    stop = min((s for s in snapshots if step < s <= cfg.steps), default=cfg.steps)
    k = min(cfg.log_every - step % cfg.log_every, stop - step)
    if seconds_left is not None:
        k = 1 if step_seconds is None else min(k, max(1, math.ceil(seconds_left / step_seconds)))
    return k


def fit(
    g: Gaussians,
    target: jax.Array,
    cfg: FitConfig = FitConfig(),
    *,
    init_seconds: float = 0.0,
    callback: Callable[[dict[str, float]], Any] | None = None,
    snapshots: Collection[int] = (),
) -> FitResult:
    """Optimise ``g`` to reproduce ``target [H, W, 3]`` (float32 in [0, 1]).

    Args:
      g: initial Gaussians (any init), sized for ``target``.
      target: ``[H, W, 3]`` image.
      cfg: hyper-parameters.
      init_seconds: time the init took; the time axis of ``history`` starts there.
      callback: called with every history entry (``step``, ``seconds``, ``psnr``, ``loss``).
      snapshots: steps whose render to keep (``FitResult.snapshots``); each one up to ``steps``
        ends a block (:func:`block_steps`), so it is a log point.

    Returns:
      A :class:`FitResult`.

    Raises:
      FitDivergedError: the loss became NaN or infinite.
    """
    target = np.asarray(target, np.float32)
    height, width = g.height, g.width
    if target.shape != (height, width, 3):
        raise ValueError(f"target shape {target.shape} does not match Gaussians sized {(height, width, 3)}")
    if cfg.steps == 0:  # nothing to optimise: one forward render, no fit program compiled
        return _unfitted(g, target, init_seconds, cfg.backend, callback, 0 in snapshots)
    canvas = _canvas(height, width, cfg)
    cfg = _size_rule(cfg, canvas)
    bucketed = gaussians_lib.pad_to_bucket(g)
    wanted = render_api.required_capacity(
        bucketed.means(), bucketed.covariances(), bucketed.mask, *canvas, backend=cfg.backend
    )
    # Moving Gaussians touch more cells over a fit: start with headroom, grow on overflow.
    n, capacity, init, block, compile_seconds = _program(
        g, canvas, bucket(int(wanted * 1.25), minimum=1024), cfg
    )
    padded = gaussians_lib.pad(g, n)
    params, mask = padded.params(), padded.mask
    opt_state = init(params)
    canvas_target = jnp.asarray(np.pad(target, ((0, canvas[0] - height), (0, canvas[1] - width), (0, 0))))
    size = jnp.asarray([width, height], jnp.int32)
    scales = group_scales(cfg)
    *_, psnr0, _, _, image = block(params, opt_state, jnp.int32(0), mask, canvas_target, size, scales)
    history = [{"step": 0, "seconds": init_seconds, "psnr": float(psnr0), "loss": float("nan")}]
    kept = {0: np.asarray(image)[:height, :width]} if 0 in snapshots else {}
    if callback:
        callback(history[-1])

    fit_seconds, step, step_seconds = 0.0, 0, None
    while step < cfg.steps and (cfg.seconds is None or init_seconds + fit_seconds < cfg.seconds):
        left = None if cfg.seconds is None else cfg.seconds - init_seconds - fit_seconds
        k = block_steps(step, cfg, snapshots, seconds_left=left, step_seconds=step_seconds)
        t = time.perf_counter()
        new_params, new_opt, psnr, value, max_count, new_image = block(
            params, opt_state, jnp.int32(k), mask, canvas_target, size, scales
        )
        max_count = int(max_count)  # syncs
        if max_count > capacity:  # the block's renders were NaN: redo it with longer lists
            fit_seconds += time.perf_counter() - t
            _, capacity, _, block, seconds = _program(
                padded, canvas, bucket(int(max_count * 1.25), minimum=1024), cfg, fixed_n=True
            )
            compile_seconds += seconds
            continue
        step_seconds = (time.perf_counter() - t) / k
        fit_seconds += step_seconds * k
        value, psnr = float(value), float(psnr)
        if not math.isfinite(value) or math.isnan(psnr):
            raise FitDivergedError(
                f"the fit diverged: its loss or parameters became non-finite between "
                f"steps {step} and {step + k} (lr {cfg.lr:g}); try a lower learning "
                "rate (--lr)"
            )
        params, opt_state, image, step = new_params, new_opt, new_image, step + k
        history.append({"step": step, "seconds": init_seconds + fit_seconds, "psnr": psnr, "loss": value})
        if step in snapshots:
            kept[step] = np.asarray(image)[:height, :width]
        if callback:
            callback(history[-1])

    final = g.with_params({k: v[: g.capacity] for k, v in params.items()})
    image = jnp.asarray(np.asarray(image)[:height, :width])
    return FitResult(
        gaussians=final,
        image=image,
        history=history,
        steps=step,
        init_seconds=init_seconds,
        compile_seconds=compile_seconds,
        fit_seconds=fit_seconds,
        capacity=capacity,
        snapshots=kept,
    )


def _unfitted(
    g: Gaussians,
    target: np.ndarray,  # [H, W, 3]
    init_seconds: float,
    backend: str,
    callback: Callable[[dict[str, float]], Any] | None,
    keep: bool,
) -> FitResult:
    """:func:`fit` of 0 steps: the init's render and PSNR (the block's step-0 values: PSNR of the
    clamped render, image unclamped). ``compile_seconds`` is the render's compile plus the render."""
    t = time.perf_counter()
    means, cov = g.means(), g.covariances()
    capacity = render_api.required_capacity(means, cov, g.mask, g.height, g.width, backend=backend)
    render = jax.jit(
        lambda m, c, col, mask: render_api.render(
            m, c, col, mask, g.height, g.width, capacity=capacity, backend=backend
        )
    )
    image = jax.block_until_ready(render(means, cov, g.colors, g.mask))
    psnr = float(metrics.psnr(image, jnp.asarray(target)))
    history = [{"step": 0, "seconds": init_seconds, "psnr": psnr, "loss": float("nan")}]
    if callback:
        callback(history[-1])
    return FitResult(
        gaussians=g,
        image=image,
        history=history,
        steps=0,
        init_seconds=init_seconds,
        compile_seconds=time.perf_counter() - t,
        fit_seconds=0.0,
        capacity=capacity,
        snapshots={0: np.asarray(image)} if keep else {},
    )
