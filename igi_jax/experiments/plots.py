"""Figures of an experiment directory (matplotlib's Agg canvas; no pyplot state).

    python -m igi_jax.experiments.plots OUT_DIR        # reads OUT_DIR/results.json, artifacts/

* ``psnr_vs_time.png``: PSNR against time since the init started, the mean over images per method
  (implementation, init, k): the longest step-budget fit's log, averaged point by point over the
  images that have every method (same log steps), x = mean seconds; beside it, the first seconds
  from the wall-clock fits' finer logs, averaged in time (:func:`mean_curves_in_time`);
* ``psnr_vs_time_images.png``: the same curves for each image, one panel per image;
* ``grid.png``: for each image with artifacts (the first few), one row: ground truth, the predicted
  PPM, the dithered points over the image (a crop where the PPM varies most, boxed on the ground
  truth), the init render, the final render and the error map (|final − truth|, mean over
  channels, one scale for all rows) of one net-based method (``net`` at k = 3 by preference).
"""

from __future__ import annotations

import math
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from igi_jax import io
from igi_jax.experiments import store, tables
from igi_jax.experiments.runner import artifact_name

PANELS = ("ground truth", "predicted PPM", "dithered points", "init render", "final render", "|error|")
ERROR_MAX = 0.05  # the error maps' colour scale (in [0, 1] units): one scale for every row


def crop_box(ppm: np.ndarray, frac: int = 4) -> tuple[int, int, int, int]:
    """``(x0, y0, w, h)``: the ``1/frac``-size window (on a half-window grid) where the PPM
    ``[H, W]`` varies most, so that the points drawn there show the density following it."""
    H, W = ppm.shape
    h, w = max(1, H // frac), max(1, W // frac)
    best, box = -1.0, (0, 0, w, h)
    for y0 in range(0, H - h + 1, max(1, h // 2)):
        for x0 in range(0, W - w + 1, max(1, w // 2)):
            v = float(ppm[y0 : y0 + h, x0 : x0 + w].std())
            if v > best:
                best, box = v, (x0, y0, w, h)
    return box


def _label(e: dict[str, Any]) -> str:
    k = "" if e["k"] is None else f" k={e['k']}"
    return f"{e['init']}{k}" + ("" if e["impl"] == "jax" else f" [{e['impl']}]")


def _history(e: dict[str, Any], early: bool = False) -> list[dict[str, float]]:
    # "history": the step-budget fit (log every 100 steps); "history_seconds": the longest
    # wall-clock fit (every 10 steps), the finer record of the first seconds.
    first, second = ("history_seconds", "history") if early else ("history", "history_seconds")
    return e.get(first) or e.get(second) or []


def _groups(entries: list[dict[str, Any]], early: bool = False) -> dict[str, list[list[dict[str, float]]]]:
    groups: dict[str, list[list[dict[str, float]]]] = defaultdict(list)
    for e in entries:
        if _history(e, early):
            groups[_label(e)].append(_history(e, early))
    return groups


def mean_curves_in_time(
    entries: list[dict[str, Any]], limit: float, points: int = 200
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{label: (seconds [P], psnr [P])}`` from the wall-clock fits' logs, each image's PSNR
    interpolated in time and averaged at the times every image covers (its init done, its fit
    not yet stopped), up to ``limit`` s. Images run different step counts in the same time, so
    averaging by step, as :func:`mean_curves` does, would cut the curve at the slowest image."""
    grid = np.linspace(0.0, limit, points)
    out = {}
    for label, hs in _groups(entries, early=True).items():
        ts = [np.asarray([h["seconds"] for h in hist]) for hist in hs]
        ys = [np.asarray([h["psnr"] for h in hist], dtype=np.float64) for hist in hs]
        lo, hi = max(float(t[0]) for t in ts), min(float(t[-1]) for t in ts)
        x = grid[(grid >= lo) & (grid <= hi)]
        if x.size:
            out[label] = (x, np.mean([np.interp(x, t, y) for t, y in zip(ts, ys, strict=True)], axis=0))
    return out


def mean_curves(entries: list[dict[str, Any]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{label: (seconds [P], psnr [P])}`` of the step-budget fits, averaged over images at the
    log steps all share, x = mean seconds."""
    out = {}
    for label, hs in _groups(entries).items():
        steps = sorted(set.intersection(*[{h["step"] for h in hist} for hist in hs]))
        at = [{h["step"]: h for h in hist} for hist in hs]
        secs = np.asarray([np.mean([a[s]["seconds"] for a in at]) for s in steps])
        psnr = np.asarray([np.mean([a[s]["psnr"] for a in at]) for s in steps])
        out[label] = (secs, psnr)
    return out


def _new_figure(w: float, h: float) -> Figure:
    fig = Figure(figsize=(w, h), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _curves(ax: Any, curves: dict[str, tuple[np.ndarray, np.ndarray]], legend: bool = True) -> None:
    for label, (x, y) in curves.items():
        ok = np.isfinite(y)
        ax.plot(x[ok], y[ok], marker="." if ok.sum() < 30 else None, label=label)
    ax.set_xlabel("time since init start (s)")
    ax.set_ylabel("PSNR (dB)")
    ax.grid(True, alpha=0.3)
    if legend and curves:
        ax.legend(loc="lower right", fontsize=7)


def zoom_limit(data: dict[str, Any]) -> float:
    """The x limit (s) of the early panel: 1.25× the longest wall-clock budget, else 25 s."""
    return 1.25 * max(data["settings"].get("seconds") or [20.0])


def _zoom(
    ax: Any, curves: dict[str, tuple[np.ndarray, np.ndarray]], limit: float, budgets: list[float]
) -> None:
    """Limit ``ax`` to the first ``limit`` s, its y range fitted to what is visible there."""
    ax.set_xlim(-0.02 * limit, limit)
    seen = [y[(x <= limit) & np.isfinite(y)] for x, y in curves.values()]
    seen = np.concatenate(seen) if seen else np.zeros(0)
    if seen.size:
        pad = 0.05 * max(float(seen.max() - seen.min()), 1.0)
        ax.set_ylim(float(seen.min()) - pad, float(seen.max()) + pad)
    for b in budgets:
        ax.axvline(b, color="0.5", lw=0.8, ls="--")


def curves_figure(data: dict[str, Any]) -> Figure:
    """Mean PSNR-vs-time per method, over the images that have every method (as the tables): the
    whole fit, and its first seconds (the wall-clock budgets, dashed), where the inits differ most."""
    fig = _new_figure(12.0, 4.5)
    complete = set(tables.complete_images(data)[0])
    entries = [e for e in data["entries"] if e["image"] in complete]
    n = len(complete)
    ax = fig.add_subplot(1, 2, 1)
    _curves(ax, mean_curves(entries))
    ax.set_title(f"mean over {n} image{'s' if n != 1 else ''} (compilation excluded)")
    ax = fig.add_subplot(1, 2, 2)
    limit = zoom_limit(data)
    early = mean_curves_in_time(entries, limit)
    _curves(ax, early, legend=False)
    _zoom(ax, early, limit, list(data["settings"].get("seconds") or []))
    ax.set_title(
        f"the first {limit:g} s"
        + (" (dashed: the wall-clock budgets)" if data["settings"].get("seconds") else "")
    )
    fig.tight_layout()
    return fig


def per_image_figure(data: dict[str, Any]) -> Figure:
    """One panel per image: PSNR-vs-time per method."""
    images = sorted({e["image"] for e in data["entries"]})
    cols = min(4, len(images))
    rows = math.ceil(len(images) / cols)
    fig = _new_figure(4.0 * cols, 3.2 * rows)
    for i, name in enumerate(images):
        ax = fig.add_subplot(rows, cols, i + 1)
        _curves(ax, mean_curves([e for e in data["entries"] if e["image"] == name]), legend=i == 0)
        ax.set_title(name, fontsize=9)
    fig.tight_layout()
    return fig


def _grid_method(data: dict[str, Any], artifacts: Path) -> tuple[str, int | None] | None:
    """The (init, k) drawn in the grid: ``net`` k=3 if present, else the first with artifacts."""
    methods = [(e["init"], e["k"]) for e in data["entries"] if e["impl"] == "jax"]
    methods = sorted(
        set(methods), key=lambda m: (m != ("net", 3), m[0].split("+")[0] != "net", methods.index(m))
    )
    for init, k in methods:
        if any(artifacts.glob(f"*__{init}__k{k if k is not None else '-'}__jax.npz")):
            return init, k
    return None


def grid_figure(
    data: dict[str, Any], artifacts: Path, init: str | None = None, k: int | None = None
) -> Figure | None:
    """The six-panel row per image (see the module docstring); ``None`` without artifacts."""
    if init is None:
        chosen = _grid_method(data, artifacts)
        if chosen is None:
            return None
        init, k = chosen
    images = sorted({e["image"] for e in data["entries"]})
    files = [(n, artifacts / artifact_name(n, init, k, "jax")) for n in images]
    files = [(n, f) for n, f in files if f.exists()]
    if not files:
        return None
    fig = _new_figure(2.6 * len(PANELS), 2.2 * len(files) + 0.4)
    for r, (name, path) in enumerate(files):
        with np.load(path) as z:
            a = {key: z[key] for key in z.files}
        err = np.abs(a["final_render"].astype(np.float32) - a["image"].astype(np.float32)).mean(-1) / 255
        box = crop_box(a["ppm"]) if "ppm" in a and "points" in a else None
        for c, title in enumerate(PANELS):
            ax = fig.add_subplot(len(files), len(PANELS), r * len(PANELS) + c + 1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                extra = {2: " (red box)", 5: f" (0 to {ERROR_MAX:g})"}.get(c, "")
                ax.set_title(title + extra, fontsize=9)
            if c == 0:
                ax.set_ylabel(name, fontsize=9)
            if c == 0:
                ax.imshow(a["image"])
                if box is not None:  # where the points panel is cut from
                    ax.add_patch(
                        Rectangle(
                            (box[0] - 0.5, box[1] - 0.5), box[2], box[3], fill=False, edgecolor="red", lw=1
                        )
                    )
            elif c == 1 and "ppm" in a:  # its own range: a PPM's values sit in a narrow band
                ax.imshow(a["ppm"], cmap="viridis")
            elif c == 2 and box is not None:
                x0, y0, w, h = box
                p = a["points"]
                inside = (p[:, 0] >= x0) & (p[:, 0] < x0 + w) & (p[:, 1] >= y0) & (p[:, 1] < y0 + h)
                ax.imshow(a["image"][y0 : y0 + h, x0 : x0 + w])
                ax.scatter(
                    p[inside, 0] - x0 - 0.5,
                    p[inside, 1] - y0 - 0.5,
                    s=3,
                    c="white",
                    edgecolors="black",
                    linewidths=0.3,
                )
                ax.set_xlim(-0.5, w - 0.5)
                ax.set_ylim(h - 0.5, -0.5)
            elif c == 3:
                ax.imshow(a["init_render"])
            elif c == 4:
                ax.imshow(a["final_render"])
            elif c == 5:
                ax.imshow(err, cmap="magma", vmin=0, vmax=ERROR_MAX)
            else:
                ax.text(0.5, 0.5, "n/a", ha="center", va="center", transform=ax.transAxes)
    k_text = "" if k is None else f", k = {k}"
    fig.suptitle(f"{init}{k_text}: init and final renders", fontsize=10)
    fig.tight_layout()
    return fig


def write_all(out_dir: str | Path) -> list[Path]:
    """Write the figures for ``out_dir/results.json`` into ``out_dir``; returns the paths."""
    out_dir = Path(out_dir)
    data = store.load(out_dir / "results.json")
    if not data["entries"]:  # a run stopped before its first entry: nothing to draw
        return []
    figures = {
        "psnr_vs_time.png": curves_figure(data),
        "psnr_vs_time_images.png": per_image_figure(data),
        "grid.png": grid_figure(data, out_dir / "artifacts"),
    }
    written = []
    for name, fig in figures.items():
        if fig is not None:
            written.append(io.atomic_write(out_dir / name, lambda f, fig=fig: fig.savefig(f, format="png")))
    return written


if __name__ == "__main__":
    for p in write_all(sys.argv[1]):
        print(p)
