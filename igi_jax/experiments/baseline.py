"""``--baseline torch``: the PyTorch GaussianImage baseline (:mod:`baselines.torch_gi`) on the
same images, from the same init (the very Gaussians the JAX rows start from), with the same fit
config and budgets.

Time is the JAX init's (shared) plus the PyTorch fitting time; PyTorch compiles nothing, so there
is no compile time to exclude. FPS times the baseline's own forward render (``no_grad``), over
``fps_repeats`` renders or :data:`FPS_MAX_SECONDS`, whichever ends first (a full-size PyTorch render
takes 0.2–0.6 s on an idle 2-core CPU, seconds under load).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from igi_jax.experiments.budgets import fit_budgets
from igi_jax.experiments.config import Experiment
from igi_jax.gaussians import Gaussians

FPS_MAX_SECONDS = 5.0


@dataclasses.dataclass
class _Result:
    """:class:`baselines.torch_gi.TorchFitResult` in the shape the runner reads."""

    image: np.ndarray  # [H, W, 3] unclamped render
    history: list[dict[str, float]]
    steps: int
    gaussians: Any  # the fitted TorchGaussians
    snapshots: dict[int, np.ndarray]
    compile_seconds: float = 0.0


def _fit(g0: Gaussians, image: np.ndarray, cfg: Any, *, init_seconds: float, snapshots=()) -> _Result:
    from baselines import torch_gi

    model = torch_gi.TorchGaussians.from_gaussians(g0)
    res = torch_gi.fit(model, image, cfg, init_seconds=init_seconds, snapshots=snapshots)
    return _Result(res.image.detach().numpy(), res.history, res.steps, res.model, res.snapshots)


def torch_fps(model: Any, repeats: int, max_seconds: float = FPS_MAX_SECONDS) -> float:
    """Forward renders per second of a ``TorchGaussians`` (``no_grad``, one warm-up), timed over
    ``repeats`` renders or until ``max_seconds`` have passed (at least one render)."""
    import torch

    with torch.no_grad():
        model()
        t0 = time.perf_counter()
        n, elapsed = 0, 0.0
        while n < repeats and (n == 0 or elapsed < max_seconds):
            model()
            n, elapsed = n + 1, time.perf_counter() - t0
        return n / elapsed


def run(
    g0: Gaussians, image: np.ndarray, init_seconds: float, exp: Experiment
) -> tuple[list[dict[str, Any]], dict[str, Any], float, np.ndarray]:
    """The baseline's budget records, extras (as :func:`~igi_jax.experiments.budgets.fit_budgets`),
    FPS and final render."""
    import torch

    if exp.torch_threads is not None:
        torch.set_num_threads(exp.torch_threads)
    records, extra = fit_budgets(g0, image, init_seconds, exp, fit_fn=_fit)
    final = extra["final"]
    if isinstance(final, Gaussians):  # no budget above 0 steps: the init itself
        from baselines import torch_gi

        final = torch_gi.TorchGaussians.from_gaussians(final)
    extra["final"] = None
    extra["torch_threads"] = torch.get_num_threads()
    with torch.no_grad():
        render = final().numpy()
    return records, extra, torch_fps(final, exp.fps_repeats), render
