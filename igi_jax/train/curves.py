"""Training curves: loss and validation PSNR against step, from ``metrics.jsonl``, as a PNG."""

from __future__ import annotations

import json
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def write_curves(jsonl: str | Path, out: str | Path) -> Path:
    """Plot ``loss`` (left) and ``val_psnr`` (right) from a metrics file; returns ``out``."""
    records = [json.loads(ln) for ln in Path(jsonl).read_text().splitlines() if ln.strip()]
    fig = Figure(figsize=(10.0, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    ax_loss, ax_psnr = fig.subplots(1, 2)
    loss = [(r["step"], r["loss"]) for r in records if "loss" in r]
    val = [(r["step"], r["val_psnr"]) for r in records if "val_psnr" in r]
    if loss:
        ax_loss.plot(*zip(*loss, strict=True), lw=1)
    ax_loss.set(xlabel="step", ylabel="training loss", yscale="log" if loss else "linear")
    if val:
        ax_psnr.plot(*zip(*val, strict=True), "o-", ms=3)
    ax_psnr.set(xlabel="step", ylabel="validation PSNR of the net init (dB)")
    for ax in (ax_loss, ax_psnr):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    return Path(out)
