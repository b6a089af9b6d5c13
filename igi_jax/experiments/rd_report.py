"""The rate–distortion experiment's report: curves, Bjøntegaard deltas, timings and plots.

    python -m igi_jax.experiments.rd_report OUT_DIR     # re-make report.md and rd.png from results.json
    python -m igi_jax.experiments.rd_report OUT_DIR --against OTHER_DIR   # + ours paired with its runs

A curve is a method's mean (bpp, PSNR, MS-SSIM) over the images that have every finished method at
that target rate, so every point of every curve averages the same images; a method a resumable run
has not finished is shown beside the others on its own images. BD-rate and BD-PSNR
(:mod:`igi_jax.experiments.bjontegaard`) are taken on those mean curves against JPEG and against
GaussianImage's published Kodak curve (:data:`GAUSSIANIMAGE_KODAK`, read off its figure, ±0.2 dB:
quoted, never measured here).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from igi_jax import io
from igi_jax.experiments import bjontegaard, store
from igi_jax.experiments.rd_pairs import by_target, paired_markdown

# GaussianImage (ECCV'24), Kodak, its RD figure: (bpp, PSNR dB), 50k fit + 50k QAT steps on a GPU.
GAUSSIANIMAGE_KODAK = ((0.12, 24.7), (0.43, 27.4), (0.71, 28.7), (1.00, 29.7), (1.28, 30.5))
PUBLISHED_NAME = "GaussianImage (published)"


def curves(data: dict[str, Any], methods: list[str] | None = None) -> dict[str, list[dict[str, float]]]:
    """Method → its mean points ``{"target", "bpp", "psnr", "ms_ssim", "encode_seconds",
    "decode_fps", "images"}``, one per target rate, over the images that every one of ``methods``
    has there (default: every method that is not :func:`incomplete`, so that a method still
    being run does not shrink the finished curves to its few images)."""
    by, found = by_target(data)
    partial = incomplete(data)
    methods = [m for m in found if m not in partial] if methods is None else methods
    out: dict[str, list[dict[str, float]]] = {m: [] for m in methods}
    for target in sorted({t for t, _ in by}):
        common = sorted(set.intersection(*(set(by.get((target, m), {})) for m in methods)))
        if not common:
            continue
        for m in methods:
            es = [by[(target, m)][i] for i in common]
            out[m].append(
                {
                    "target": target,
                    "images": len(common),
                    **{k: _mean(e[k] for e in es) for k in ("bpp", "psnr", "ms_ssim")},
                    "encode_seconds": float(np.mean([e["encode_seconds"] for e in es])),
                    "decode_fps": float(np.mean([e["decode_fps"] for e in es])),
                }
            )
    return {m: pts for m, pts in out.items() if pts}


def incomplete(data: dict[str, Any]) -> dict[str, int]:
    """Methods with fewer entries than the most complete one: method → its entry count."""
    counts = defaultdict(int)
    for e in data["entries"]:
        counts[e["init"]] += 1
    most = max(counts.values(), default=0)
    return {m: n for m, n in counts.items() if n < most}


def _mean(values) -> float:
    """Mean, NaN where a value is missing (MS-SSIM of images with a side ≤ 160 px)."""
    return float(np.mean([np.nan if v is None else v for v in values]))


def _bd(anchor: list[tuple[float, float]], test: list[tuple[float, float]]) -> tuple[str, str]:
    try:
        a, t = np.asarray(anchor).T, np.asarray(test).T
        rate = bjontegaard.bd_rate(a[0], a[1], t[0], t[1])
        psnr = bjontegaard.bd_quality(a[0], a[1], t[0], t[1])
    except ValueError as e:
        return "n/a", f"n/a ({e})"
    return f"{rate:+.1f} %", f"{psnr:+.2f} dB"


def markdown(data: dict[str, Any], title: str = "Rate–distortion") -> str:
    """The report: :func:`body` under a title."""
    return f"# {title}\n\n" + body(data)


def _quant_text(quant: dict[str, Any]) -> str:
    """``6-bit covariances, 2 × 8 colour VQ``; rates that share quantisers grouped when the
    settings give them per target rate."""

    def one(q: dict[str, Any]) -> str:
        sub = q.get("xy_subpixel")
        grid = "fp16 positions, " if sub is None else f"positions on a 1/{1 << sub}-px grid, "
        return f"{grid}{q['shape_bits']}-bit covariances, {q['stages']} × {q['codebook']} colour VQ"

    if "shape_bits" in quant:
        return one(quant)
    groups: dict[str, list[str]] = {}
    for b, q in quant.items():
        groups.setdefault(one(q), []).append(f"{float(b):g}")
    return "; ".join(f"{text} at {' / '.join(rates)} bpp" for text, rates in groups.items())


def body(data: dict[str, Any]) -> str:
    """Settings, the curves' table, the BD / timing table and what they mean (Markdown)."""
    cs = curves(data)
    s = data["settings"]
    runs = data["runs"]
    codes = sorted({str(e.get("code")) for e in data["entries"]})
    images = sorted({e["image"] for e in data["entries"]})
    encodes = ", ".join(
        f"{e['name']} = {e['fit_steps']} fit + {e['qat_steps']} quantised steps" for e in s["encodes"]
    )
    lines = [
        f"Dataset `{s['dataset']}` ({len(images)} images), target rates {s['bpps']} bpp; our encodes "
        f"{encodes}; quantisers {_quant_text(s['quant'])}"
        f"{'; the count fills each budget' if s.get('fill_budget') else ''}. "
        f"Code: {', '.join(codes)}. Machine: "
        f"{runs[-1]['machine']['processor']}, {runs[-1]['machine']['cpu_count']} CPUs, "
        f"JAX {runs[-1]['machine']['jax']} ({runs[-1]['machine']['backend']}).",
        "",
        "Each cell: mean bpp / PSNR (dB) / MS-SSIM over the images every finished method has at that target "
        "(the rate is each file's real size).",
        "",
    ]
    kodak = is_kodak(data)
    lines += _tables(cs, kodak)
    if within := paired_markdown(data, data):
        lines += ["", within.rstrip("\n")]
    finished = list(cs)
    for m, n in incomplete(data).items():  # a resumable run still going: each beside the others
        sub = curves(data, finished + [m])
        if not sub:
            continue
        counts = sorted({p["images"] for p in sub[m]})
        lines += [
            "",
            f"**Not finished: {m}** ({n} entries; {' / '.join(map(str, counts))} images per rate), "
            "every finished method on the same images:",
            "",
            *_tables(sub, kodak),
        ]
    return "\n".join(lines) + "\n"


def is_kodak(data: dict[str, Any]) -> bool:
    """Whether the run is on Kodak, the only images GaussianImage's published curve is for."""
    return data["settings"]["dataset"] == "kodak"


def _tables(cs: dict[str, list[dict[str, float]]], kodak: bool = True) -> list[str]:
    """The curves' table and the BD / timing table of ``cs`` (Markdown lines); GaussianImage's
    columns empty unless ``kodak``."""
    methods = list(cs)
    lines: list[str] = []
    targets = sorted({p["target"] for pts in cs.values() for p in pts})
    lines.append("| method | " + " | ".join(f"{t:g} bpp" for t in targets) + " |")
    lines.append("|---|" + "---|" * len(targets))
    for m in methods:
        cells = {p["target"]: f"{p['bpp']:.3f} / {p['psnr']:.2f} / {p['ms_ssim']:.4f}" for p in cs[m]}
        lines.append(f"| {m} | " + " | ".join(cells.get(t, "") for t in targets) + " |")
    pub = " | ".join(f"{b:.2f} / {p:.1f}" for b, p in GAUSSIANIMAGE_KODAK)
    lines += [
        "",
        f"{PUBLISHED_NAME}, Kodak, from its figure (bpp / PSNR): {pub}."
        if kodak
        else f"{PUBLISHED_NAME}: its curve is Kodak's, so it is not compared on these images.",
        "",
    ]
    lines += [
        "| method | BD-rate vs JPEG | BD-PSNR vs JPEG | BD-rate vs GaussianImage | BD-PSNR vs GaussianImage "
        "| encode s / image | decode FPS | images per point |",
        "|---|---|---|---|---|---|---|---|",
    ]
    jpeg = [(p["bpp"], p["psnr"]) for p in cs.get("jpeg", [])]
    for m in methods:
        pts = [(p["bpp"], p["psnr"]) for p in cs[m]]
        r_j, q_j = _bd(jpeg, pts) if jpeg and m != "jpeg" else ("", "")
        r_g, q_g = _bd(list(GAUSSIANIMAGE_KODAK), pts) if kodak else ("", "")
        enc = np.mean([p["encode_seconds"] for p in cs[m]])
        fps = np.mean([p["decode_fps"] for p in cs[m]])
        n = min(p["images"] for p in cs[m])
        lines.append(f"| {m} | {r_j} | {q_j} | {r_g} | {q_g} | {enc:.2f} | {fps:.1f} | {n} |")
    lines += _at_each_rate(cs, kodak)
    lines += [
        "",
        "BD-rate: mean rate change at equal PSNR (negative: fewer bits); BD-PSNR: mean PSNR gain at "
        "equal rate; both over the rates both curves cover (PCHIP on log-rate). Encode seconds include "
        "the search for the rate (standard codecs) or the init, fit and quantised steps (ours), on a "
        "machine that may have been shared; decode FPS: bitstream to pixels, warm.",
    ]
    return lines


def at_each_rate(cs: dict[str, list[dict[str, float]]]) -> dict[str, dict[float, dict[str, float]]]:
    """Our methods' PSNR gaps at each target rate: method → target → ``{"bpp": our mean rate,
    "jpeg": ours − JPEG's mean curve (same images) at our mean rate, "jpeg_target": ours − JPEG's
    mean PSNR at the same target (each at its largest file within it), "jpeg_bpp": JPEG's mean rate
    there, "gaussianimage": ours − GaussianImage's published curve at our mean rate}``. Curves are
    read as the BD deltas read them (PCHIP on log-rate), NaN outside their rates: a few percent of
    rate is worth tenths of a dB, so a gap at the same target alone can mislead. A BD delta averages
    over the rates; the issue's goals are per rate ("above GaussianImage at every rate", "ahead of
    JPEG below 0.5 bpp")."""
    jpeg = {p["target"]: p for p in cs.get("jpeg", [])}
    jb, jp = [p["bpp"] for p in cs.get("jpeg", [])], [p["psnr"] for p in cs.get("jpeg", [])]
    gb, gp = zip(*GAUSSIANIMAGE_KODAK, strict=True)
    nan = float("nan")
    out: dict[str, dict[float, dict[str, float]]] = {}
    for m, pts in cs.items():
        if not m.startswith("igi-"):
            continue
        out[m] = {}
        for p in pts:
            j = jpeg.get(p["target"])
            out[m][p["target"]] = {
                "bpp": p["bpp"],
                "jpeg": p["psnr"] - _read(jb, jp, p["bpp"]),
                "jpeg_target": p["psnr"] - j["psnr"] if j else nan,  # NaN: no JPEG at that target
                "jpeg_bpp": j["bpp"] if j else nan,
                "gaussianimage": p["psnr"] - _read(gb, gp, p["bpp"]),
            }
    return out


def _read(rates, quality, at: float) -> float:
    """A curve's quality at ``at``; NaN where it cannot be read (too few points, not rising)."""
    try:
        return bjontegaard.quality_at(rates, quality, at)
    except ValueError:
        return float("nan")


def _at_each_rate(cs: dict[str, list[dict[str, float]]], kodak: bool) -> list[str]:
    gaps = at_each_rate(cs)
    if not gaps:
        return []
    targets = sorted({t for g in gaps.values() for t in g})

    def cell(g: dict[str, float] | None, key: str) -> str:
        if g is None:
            return "–"
        text = "–" if math.isnan(g[key]) else f"{g[key]:+.2f}"
        if key == "jpeg" and not math.isnan(g["jpeg_target"]):
            text += f" ({g['jpeg_target']:+.2f} at {g['bpp']:.3f} vs {g['jpeg_bpp']:.3f} bpp)"
        return text

    lines = [
        "",
        "At each rate, ours minus the other at our mean rate (dB), each curve read as the BD deltas "
        "read it (PCHIP on log-rate; – outside its rates): JPEG's measured on the same images (in "
        "brackets: the gap at the same target, where the two rates differ)"
        + (", GaussianImage's published one (0.12–1.28 bpp):" if kodak else ":"),
        "",
        "| method | against | " + " | ".join(f"{t:g} bpp" for t in targets) + " |",
        "|---|---|" + "---|" * len(targets),
    ]
    for m, g in gaps.items():
        for key, name in (("jpeg", "JPEG"), ("gaussianimage", "GaussianImage"))[: 2 if kodak else 1]:
            lines.append(f"| {m} | {name} | " + " | ".join(cell(g.get(t), key) for t in targets) + " |")
    return lines


def plot(data: dict[str, Any], path: str | Path) -> Path:
    """PSNR-vs-bpp and MS-SSIM-vs-bpp, one line per method, GaussianImage's published points."""
    cs = curves(data)
    fig = Figure(figsize=(11, 4.5))
    FigureCanvasAgg(fig)
    ax_p, ax_m = fig.subplots(1, 2)
    for m, pts in cs.items():
        style = "-o" if m.startswith("igi-") else "--."
        b = [p["bpp"] for p in pts]
        ax_p.plot(b, [p["psnr"] for p in pts], style, label=m)
        ax_m.plot(b, [-10 * math.log10(max(1 - p["ms_ssim"], 1e-12)) for p in pts], style, label=m)
    if is_kodak(data):
        gb, gp = zip(*GAUSSIANIMAGE_KODAK, strict=True)
        ax_p.plot(gb, gp, ":s", color="k", label=PUBLISHED_NAME)
    ax_p.set(xlabel="bits per pixel", ylabel="PSNR (dB)", title="PSNR")
    ax_m.set(xlabel="bits per pixel", ylabel="MS-SSIM (dB: −10 log10(1 − MS-SSIM))", title="MS-SSIM")
    for ax in (ax_p, ax_m):
        ax.grid(alpha=0.3)
    ax_p.legend(fontsize=8)
    fig.suptitle(f"{data['settings']['dataset']}: mean over images")
    fig.tight_layout()
    path = Path(path)
    io.atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110))
    return path


def write(
    out: str | Path,
    data: dict[str, Any] | None = None,
    title: str = "Rate–distortion",
    against: str | Path | None = None,
) -> list[Path]:
    """Write ``report.md`` and ``rd.png`` into ``out`` (from its ``results.json`` by default);
    ``against``: another run's folder, whose methods ours are paired with
    (:func:`igi_jax.experiments.rd_pairs.paired`)."""
    out = Path(out)
    data = data if data is not None else store.load(out / "results.json")
    text = markdown(data, title)
    if against is not None:
        other = store.load(Path(against) / "results.json")
        text += "\n" + paired_markdown(data, other, Path(against).resolve().name)
    io.atomic_write(out / "report.md", lambda f: f.write(text.encode()))
    return [out / "report.md", plot(data, out / "rd.png")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Re-make a rate–distortion run's report and plot.")
    parser.add_argument("out", help="the run's folder (its results.json)")
    parser.add_argument("--against", help="another run's folder: ours paired with its methods")
    args = parser.parse_args(argv)
    try:
        title = f"Rate–distortion: {Path(args.out).resolve().name}"
        paths = write(args.out, title=title, against=args.against)
    except (OSError, ValueError) as e:  # a missing or foreign results.json, runs that do not pair
        print(f"error: {e}", file=sys.stderr)
        return 2
    for p in paths:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
