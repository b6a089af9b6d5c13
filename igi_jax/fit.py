"""Per-image fitting: GaussianImage-style optimisation of a Gaussian set with optax.

One jitted function runs ``log_every`` optimiser steps inside ``lax.fori_loop`` and returns
the new state plus the PSNR of the result, so Python only wakes up at log points. The clock
(``history[i]["seconds"]``) starts at the init: ``init_seconds`` is added to every entry, and
compilation is timed separately (``compile_seconds``), since it is paid once per shape.

The binning's (Gaussian, cell) list has a static capacity sized from the data. Gaussians move
during the fit; if a block needed more entries than the capacity (its renders were NaN), the
block is thrown away, the capacity grows to the next bucket and the block is re-run.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from igi_jax import metrics, optim
from igi_jax.buckets import bucket
from igi_jax.gaussians import Gaussians
from igi_jax.render import api as render_api

PARAM_GROUPS = ("xy", "shape", "colors")


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """Fine-tuning hyper-parameters (defaults: GaussianImage's recipe).

    Attributes:
      steps: optimiser steps (upper bound when ``seconds`` is set).
      seconds: stop once this much fitting time (init included) has elapsed.
      optimizer: ``"adan"`` (β .98/.92/.99) or ``"adam"``.
      lr: base learning rate.
      lr_groups: per-group multipliers of ``lr`` for ``xy``, ``shape``, ``colors``.
      decay_every: halve the learning rate every this many steps (GI: 20,000).
      decay_rate: step decay factor.
      loss: ``"l2"`` or ``"l2+dssim"`` (0.7 L2 + 0.3 D-SSIM).
      log_every: steps per jitted block (one log point each).
      backend: render backend (see :mod:`igi_jax.render`).
      clamp: clamp the render to [0, 1] inside the loss, as GaussianImage's forward does
        (over- and under-shooting pixels then get no gradient).
    """

    steps: int = 2000
    seconds: float | None = None
    optimizer: str = "adan"
    lr: float = 1e-3
    lr_groups: tuple[tuple[str, float], ...] = ()
    decay_every: int = 20000
    decay_rate: float = 0.5
    loss: str = "l2"
    log_every: int = 100
    backend: str = "auto"
    clamp: bool = False

    def __post_init__(self):
        if self.steps < 0:
            raise ValueError(f"steps must be ≥ 0, got {self.steps}")
        if self.seconds is not None and self.seconds <= 0:
            raise ValueError(f"seconds must be > 0, got {self.seconds}")
        if self.optimizer not in ("adan", "adam"):
            raise ValueError(f"unknown optimizer {self.optimizer!r}; expected 'adan' or 'adam'")
        if self.loss not in ("l2", "l2+dssim"):
            raise ValueError(f"unknown loss {self.loss!r}; expected 'l2' or 'l2+dssim'")
        if self.log_every < 1:
            raise ValueError(f"log_every must be ≥ 1, got {self.log_every}")
        unknown = {k for k, _ in self.lr_groups} - set(PARAM_GROUPS)
        if unknown:
            raise ValueError(f"unknown lr groups {sorted(unknown)}; expected {PARAM_GROUPS}")


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


def make_optimizer(cfg: FitConfig) -> optax.GradientTransformation:
    """The fit's optimiser: the paper's Adan (or Adam) with step decay, per-group rates."""
    return optim.step_decay_optimizer(cfg.optimizer, cfg.lr, decay_every=cfg.decay_every,
                                      decay_rate=cfg.decay_rate, groups=dict(cfg.lr_groups),
                                      group_names=PARAM_GROUPS)


def _loss_fn(kind: str) -> Callable[[jax.Array, jax.Array], jax.Array]:
    if kind == "l2":
        return lambda x, y: jnp.mean((x - y) ** 2)
    from igi_jax import losses

    return lambda x, y: losses.l2_dssim_loss(x, y, lam=0.7)


def _make_block(g0: Gaussians, target: jax.Array, cfg: FitConfig, capacity: int):
    """Jitted ``(params, opt_state, num_steps) → (params, opt_state, psnr, loss, max_count)``."""
    tx = make_optimizer(cfg)
    loss_of = _loss_fn(cfg.loss)
    mask = g0.mask

    def render(params):
        g = g0.with_params(params)
        return render_api.render_with_count(g.means(), g.covariances(), g.colors, mask,
                                            g.height, g.width, capacity=capacity,
                                            backend=cfg.backend)

    def loss(params):
        image, count = render(params)
        if cfg.clamp:
            image = jnp.clip(image, 0.0, 1.0)
        return loss_of(image, target), count

    def step(_, carry):
        params, opt_state, _, max_count = carry
        (value, count), grads = jax.value_and_grad(loss, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        new = optax.apply_updates(params, updates)
        # Padded entries have zero gradient, but keep them bit-identical regardless.
        new = jax.tree.map(lambda n, o: jnp.where(mask[:, None], n, o), new, params)
        return new, opt_state, value, jnp.maximum(max_count, count)

    def block(params, opt_state, num_steps):
        init = (params, opt_state, jnp.float32(0), jnp.int32(0))
        params, opt_state, value, max_count = jax.lax.fori_loop(0, num_steps, step, init)
        image, count = render(params)
        psnr = metrics.psnr(image, target)
        return params, opt_state, psnr, value, jnp.maximum(max_count, count)

    return tx, jax.jit(block)


def _compile(block, params, opt_state):
    return block.lower(params, opt_state, jnp.int32(0)).compile()


def fit(
    g: Gaussians,
    target: jax.Array,
    cfg: FitConfig = FitConfig(),
    *,
    init_seconds: float = 0.0,
    callback: Callable[[dict[str, float]], Any] | None = None,
) -> FitResult:
    """Optimise ``g`` to reproduce ``target [H, W, 3]`` (float32 in [0, 1]).

    Args:
      g: initial Gaussians (any init), sized for ``target``.
      target: ``[H, W, 3]`` image.
      cfg: hyper-parameters.
      init_seconds: time the init took; the time axis of ``history`` starts there.
      callback: called with every history entry (``step``, ``seconds``, ``psnr``, ``loss``).

    Returns:
      A :class:`FitResult`.
    """
    target = jnp.asarray(target, jnp.float32)
    if target.shape != (g.height, g.width, 3):
        raise ValueError(f"target shape {target.shape} does not match Gaussians sized "
                         f"{(g.height, g.width, 3)}")
    capacity = render_api.required_capacity(g.means(), g.covariances(), g.mask, g.height, g.width,
                                            backend=cfg.backend)
    # Moving Gaussians touch more cells over a fit: start with headroom, grow on overflow.
    capacity = bucket(int(capacity * 1.25), minimum=1024)
    params = g.params()
    tx, block = _make_block(g, target, cfg, capacity)
    opt_state = tx.init(params)

    t0 = time.perf_counter()
    block = _compile(block, params, opt_state)
    compile_seconds = time.perf_counter() - t0
    _, _, psnr0, _, _ = block(params, opt_state, jnp.int32(0))
    history = [{"step": 0, "seconds": init_seconds, "psnr": float(psnr0), "loss": float("nan")}]
    if callback:
        callback(history[-1])

    fit_seconds, step = 0.0, 0
    while step < cfg.steps and (cfg.seconds is None or init_seconds + fit_seconds < cfg.seconds):
        n = min(cfg.log_every, cfg.steps - step)
        t = time.perf_counter()
        new_params, new_opt, psnr, value, max_count = block(params, opt_state, jnp.int32(n))
        max_count = int(max_count)  # syncs
        if max_count > capacity:
            t_grow = time.perf_counter()
            capacity = bucket(int(max_count * 1.25), minimum=1024)
            tx, block = _make_block(g, target, cfg, capacity)
            block = _compile(block, params, opt_state)
            compile_seconds += time.perf_counter() - t_grow
            fit_seconds += t_grow - t
            continue
        fit_seconds += time.perf_counter() - t
        params, opt_state, step = new_params, new_opt, step + n
        history.append({"step": step, "seconds": init_seconds + fit_seconds,
                        "psnr": float(psnr), "loss": float(value)})
        if callback:
            callback(history[-1])

    final = g.with_params(params)
    image = render_api.render_gaussians(final, capacity=capacity, backend=cfg.backend)
    return FitResult(gaussians=final, image=image, history=history, steps=step,
                     init_seconds=init_seconds, compile_seconds=compile_seconds,
                     fit_seconds=fit_seconds, capacity=capacity)
