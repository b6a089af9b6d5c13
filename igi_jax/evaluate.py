"""Re-measure saved fits (``evaluate.py --fits DIR``): PSNR / MS-SSIM per image and the mean.

Fits are *made* by one path, the experiment runner (:mod:`igi_jax.experiments`; ``evaluate.py
--dataset DIR --inits quadtree+solve --steps 500`` fits and measures a folder); this module only
checks what ``igi fit`` saved, from its ``gaussians.npz``, against the original image.
A report is ``{"images", "failed", "mean": {...}, "rows": [...]}``; one row per image with its
metrics or an ``error``; :func:`write_report` writes it as JSON and a Markdown table.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from igi_jax import gaussians_file, io, metrics
from igi_jax.render import rescale

COLUMNS = ("psnr", "ms_ssim", "ssim", "num_gaussians", "steps", "compile_seconds", "total_seconds")
Log = Callable[[str], Any]


def _row(name: str, summary: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "image": summary["image"]["path"], **{k: summary.get(k) for k in COLUMNS}}


def measure_fit(fit_dir: str | os.PathLike, *, backend: str = "auto") -> dict[str, Any]:
    """Re-render ``fit_dir/gaussians.npz`` and measure it against the image in ``metrics.json``.

    The stored metrics are not trusted: the numbers come from the saved Gaussians themselves.
    """
    fit_dir = Path(fit_dir)
    try:
        summary = json.loads((fit_dir / "metrics.json").read_text())
        image_path = Path(summary["image"]["path"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise io.InputError(f"{fit_dir}: unreadable metrics.json ({e})") from None
    g = gaussians_file.load_gaussians(fit_dir / "gaussians.npz")
    # A fit made with --max-side holds the downscaled size; the same load gives the same target.
    target, _ = io.load_image(image_path, max_side=max(g.height, g.width))
    if target.shape[:2] != (g.height, g.width):
        raise io.InputError(
            f"{fit_dir}: Gaussians are {g.width}×{g.height} but {image_path} is "
            f"{target.shape[1]}×{target.shape[0]}"
        )
    render = rescale.render_at_scale(g, 1.0, backend=backend)
    return _row(
        fit_dir.name, {**summary, **metrics.image_metrics(render, target), "num_gaussians": g.capacity}
    )


def measure_fits(root: str | os.PathLike, *, backend: str = "auto", log: Log = print) -> dict[str, Any]:
    """:func:`measure_fit` for ``root`` itself or each sub-directory holding a ``gaussians.npz``."""
    root = Path(root)
    if not root.is_dir():
        raise io.InputError(f"{root}: not a directory")
    dirs = (
        [root]
        if (root / "gaussians.npz").exists()
        else sorted(d for d in root.iterdir() if (d / "gaussians.npz").is_file())
    )
    if not dirs:
        raise io.InputError(f"{root}: no fits (directories with a gaussians.npz)")
    rows = []
    for i, d in enumerate(dirs, 1):
        try:
            rows.append(measure_fit(d, backend=backend))
        except (io.InputError, OSError) as e:
            rows.append({"name": d.name, "error": str(e)})
        log(f"[{i}/{len(dirs)}] {_describe(rows[-1])}")
    return summarize(rows)


def _mean(values: list[Any]) -> float | None:
    values = [v for v in values if isinstance(v, int | float) and math.isfinite(v)]
    return sum(values) / len(values) if values else None


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over the images that succeeded (MS-SSIM over those big enough to have one)."""
    ok = [r for r in rows if "error" not in r]
    mean = {k: _mean([r.get(k) for r in ok]) for k in COLUMNS}
    mean["ms_ssim_images"] = sum(r.get("ms_ssim") is not None for r in ok)
    return {"images": len(rows), "failed": len(rows) - len(ok), "mean": mean, "rows": rows}


def _fmt(value: Any, key: str) -> str:
    if value is None:
        return "–"
    if key == "psnr":
        return f"{value:.2f}"
    if key in ("ms_ssim", "ssim"):
        return f"{value:.4f}"
    if key in ("total_seconds", "compile_seconds"):
        return f"{value:.1f}"
    return f"{value:,.0f}" if isinstance(value, int | float) else str(value)


def _describe(row: dict[str, Any]) -> str:
    if "error" in row:
        return f"{row['name']}: error: {row['error']}"
    return f"{row['name']}: " + ", ".join(f"{k} {_fmt(row.get(k), k)}" for k in COLUMNS)


def markdown_table(report: dict[str, Any]) -> str:
    """The report as a Markdown table, one row per image plus the mean."""
    head = ("image", "PSNR (dB)", "MS-SSIM", "SSIM", "Gaussians", "steps", "compile s", "seconds")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in report["rows"]:
        cells = (
            [f"error: {r['error']}"] + [""] * (len(COLUMNS) - 1)
            if "error" in r
            else [_fmt(r.get(k), k) for k in COLUMNS]
        )
        cells = [c.replace("|", "\\|") for c in cells]
        lines.append("| " + " | ".join([r["name"], *cells]) + " |")
    mean = [_fmt(report["mean"].get(k), k) for k in COLUMNS]
    lines.append("| **mean** | " + " | ".join(mean) + " |")
    note = (
        f"\n{report['images']} images, {report['failed']} failed; MS-SSIM mean over "
        f"{report['mean']['ms_ssim_images']} images (it needs sides > 160 px). "
        "seconds = init + compile + fit; compile s: the colour solve's and the fit's.\n"
    )
    return "\n".join(lines) + "\n" + note


def write_report(out_dir: str | os.PathLike, report: dict[str, Any], stem: str = "eval") -> list[Path]:
    """Write ``<stem>.json`` and ``<stem>.md`` into ``out_dir`` (all-or-nothing)."""
    md = markdown_table(report).encode()
    writers = {f"{stem}.json": io.json_writer(report), f"{stem}.md": lambda f: f.write(md)}
    return io.write_outputs(out_dir, writers)
