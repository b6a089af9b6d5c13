"""Fits from one init to every budget of an experiment, for igi_jax's fit or the PyTorch baseline's.

Budgets in steps are exact: they are log points of one fit to the largest (fits are deterministic,
so a separate 200-step fit would be the first 200 steps of the 2,000-step one). Budgets in seconds
stop a fit at the first log point at or after the budget, with the blocks cut to the time left
(:func:`igi_jax.fit.block_steps`), so they overshoot by about a step; the seconds actually used
are recorded. Time = init + fitting, compilation excluded (the paper's convention).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from igi_jax.experiments.config import Experiment
from igi_jax.fit import fit
from igi_jax.gaussians import Gaussians
from igi_jax.metrics import image_metrics

STEP_LOG_EVERY = 100  # log interval of the step-budget fit (each budget also ends a block)
SECONDS_LOG_EVERY = 10  # steps per fit block when the budget is in seconds (the last one is cut)
MAX_STEPS = 10_000_000  # the step bound of a seconds budget


def budget_record(
    budget: dict[str, Any], steps: int, seconds: float, render: Any, target: np.ndarray
) -> dict[str, Any]:
    """One budget's record: ``{"budget", "steps", "seconds", "psnr", "ssim", "ms_ssim"}``."""
    m = image_metrics(render, target)
    return {
        "budget": budget,
        "steps": steps,
        "seconds": seconds,
        "psnr": m["psnr"],
        "ssim": m["ssim"],
        "ms_ssim": m["ms_ssim"],
    }


def fit_budgets(
    g0: Gaussians, image: np.ndarray, init_seconds: float, exp: Experiment, fit_fn: Callable[..., Any] = fit
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Fit from ``g0`` once for all step budgets, and once per seconds budget.

    Each step budget's render, metrics and clock come from the one step fit at that step, so the
    clock is monotone in steps. ``fit_fn(g0, image, cfg, init_seconds=..., snapshots=...)``
    returns an object with ``image``, ``history``, ``steps``, ``gaussians``, ``snapshots`` and
    optionally ``compile_seconds`` (igi_jax's fit or the torch one). ``exp`` must be resolved.

    Returns:
      The budget records and ``{"history", "history_seconds", "final", "compile_seconds"}``: the
      logs of the step and the longest seconds fits and the final Gaussians of the longest fit.
    """
    records, extra = [], {"history": None, "history_seconds": None, "final": g0, "compile_seconds": 0.0}
    if exp.steps:
        steps = sorted(exp.steps)
        cfg = dataclasses.replace(exp.fit, steps=steps[-1], seconds=None, log_every=STEP_LOG_EVERY)
        res = fit_fn(g0, image, cfg, init_seconds=init_seconds, snapshots=frozenset(steps))
        extra["compile_seconds"] += getattr(res, "compile_seconds", 0.0)
        clock = {h["step"]: h["seconds"] for h in res.history}
        for s in steps:
            records.append(budget_record({"steps": s}, s, clock[s], res.snapshots[s], image))
        if steps[-1] > 0:
            extra["history"], extra["final"] = res.history, res.gaussians
    for t in sorted(exp.seconds):
        cfg = dataclasses.replace(exp.fit, steps=MAX_STEPS, seconds=float(t), log_every=SECONDS_LOG_EVERY)
        res = fit_fn(g0, image, cfg, init_seconds=init_seconds)
        extra["compile_seconds"] += getattr(res, "compile_seconds", 0.0)
        records.append(budget_record({"seconds": t}, res.steps, res.history[-1]["seconds"], res.image, image))
        extra["history_seconds"] = res.history
        if not exp.steps or res.steps > max(exp.steps):
            extra["final"] = res.gaussians
    return records, extra
