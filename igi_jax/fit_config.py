"""The settings of a per-image fit (:func:`igi_jax.fit.fit`), checked when built."""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

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
      warmup_steps: ramp the rates linearly over the first N steps (0 = none, GaussianImage's;
        see :func:`igi_jax.optim.step_decay_schedule`).
      loss: ``"l2"`` or ``"l2+dssim"`` (0.7 L2 + 0.3 D-SSIM).
      log_every: steps per jitted block (one log point each; snapshots end blocks too).
      backend: render backend (see :mod:`igi_jax.render`).
      clamp: clamp the render to [0, 1] inside the loss, as GaussianImage's forward does
        (over- and under-shooting pixels then get no gradient).
      xy_lr_side: on a canvas whose longer side L exceeds this, the position rate is scaled by
        ``xy_lr_side / L`` (a step in ``xy`` moves a Gaussian by ~``lr · L/2`` pixels); ``None``
        = off. Measured on a 2000×1400 mosaic of photos 006/011/017/018, quad-tree init, PSNR
        at steps 0/5/10/15/20 with xy × 3 (the default config): 20.12 / 18.53 / 20.48 / 21.40 /
        22.06 dB; xy × 1.5 (what the rule gives there): 20.12 / 20.00 / 21.44 / 22.14 /
        22.65 dB; xy × 0.75: 20.12 / 20.96 / 21.90 / 22.38 / 22.78 dB. The linear rule (a
        constant step in pixels beyond 1024 px) leaves canvases up to 1024 px (all tuning sizes)
        alone; a stronger one would help at 2000 px, but is not measured elsewhere yet.
    """

    steps: int = 2000
    seconds: float | None = None
    optimizer: str = "adan"
    lr: float = 1e-3
    lr_groups: tuple[tuple[str, float], ...] = ()
    decay_every: int = 20000
    decay_rate: float = 0.5
    warmup_steps: int = 0
    loss: str = "l2"
    log_every: int = 100
    backend: str = "auto"
    clamp: bool = False
    xy_lr_side: int | None = 1024

    def __post_init__(self):
        _check_int("steps", self.steps, 0)
        _check_int("log_every", self.log_every, 1)
        _check_int("decay_every", self.decay_every, 1)
        _check_int("warmup_steps", self.warmup_steps, 0)
        if self.seconds is not None:
            _check_real("seconds", self.seconds, 0.0, strict=True)
        _check_real("lr", self.lr, 0.0, strict=True)
        _check_real("decay_rate", self.decay_rate, 0.0, 1.0, strict=True)
        if self.optimizer not in ("adan", "adam"):
            raise ValueError(f"unknown optimizer {self.optimizer!r}; expected 'adan' or 'adam'")
        if self.loss not in ("l2", "l2+dssim"):
            raise ValueError(f"unknown loss {self.loss!r}; expected 'l2' or 'l2+dssim'")
        if not isinstance(self.clamp, bool):
            raise ValueError(f"clamp must be True or False, got {self.clamp!r}")
        unknown = {k for k, _ in self.lr_groups} - set(PARAM_GROUPS)
        if unknown:
            raise ValueError(f"unknown lr groups {sorted(unknown)}; expected {PARAM_GROUPS}")
        for name, scale in self.lr_groups:
            _check_real(f"lr_groups[{name!r}]", scale, 0.0)
        if self.xy_lr_side is not None:
            _check_int("xy_lr_side", self.xy_lr_side, 1)


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be ≥ {low}, got {value}")


def _check_real(name: str, value: Any, low: float, high: float = math.inf, *, strict: bool = False) -> None:
    """``value`` must be a finite real in ``[low, high]`` (``(low, high]`` if ``strict``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < low or (strict and value == low) or value > high:
        lo = "(" if strict else "["
        hi = "∞)" if high == math.inf else f"{high:g}]"
        raise ValueError(f"{name} must be in {lo}{low:g}, {hi}, got {value!r}")
