"""PSNR-vs-time plots of fits (PNG, matplotlib's Agg canvas; no pyplot global state).

A history is :attr:`igi_jax.fit.FitResult.history`: a list of ``{"step", "seconds", "psnr",
"loss"}`` dicts whose clock starts at the init (so the first point sits at ``init_seconds``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import IO

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

History = Sequence[Mapping[str, float]]


def psnr_figure(histories: Mapping[str, History] | History, *, title: str | None = None) -> Figure:
    """One line per run: PSNR (dB) against seconds since the start of the init.

    Args:
      histories: a single history, or ``{label: history}`` for several runs.
      title: figure title.
    """
    if not isinstance(histories, Mapping):
        histories = {"": histories}
    fig = Figure(figsize=(6.0, 4.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for label, history in histories.items():
        points = [(h["seconds"], h["psnr"]) for h in history if math.isfinite(h.get("psnr", math.nan))]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="." if len(points) < 30 else None, label=label or None)
    ax.set_xlabel("time since init start (s)")
    ax.set_ylabel("PSNR (dB)")
    ax.grid(True, alpha=0.3)
    if any(histories):
        ax.legend(loc="lower right")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def write_psnr_plot(
    f: IO[bytes], histories: Mapping[str, History] | History, *, title: str | None = None
) -> None:
    """Render :func:`psnr_figure` as PNG into the binary file ``f``."""
    psnr_figure(histories, title=title).savefig(f, format="png")
