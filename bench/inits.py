"""Benchmark the inits on Kodak: PSNR after 0 / 200 / 1000 (/ 2000) fit steps and wall time.

Evaluation only — nothing is tuned on Kodak. Compared (every run fits with the same optimiser):

* ``random``: Instant-GI's random init, with the quad-tree's Gaussian count, fitted to
  ``--random-steps`` (the target: ``quadtree+solve`` after 200 steps ≥ ``random`` after 2,000);
* ``random-gi``: GaussianImage's random init, same count;
* ``quadtree``: the official quad-tree init (scale 0.54, image colours, no solve);
* ``quadtree+solve``: the quad-tree init with the CG colour solve and its defaults.

Every (image, init) result is cached as JSON under ``<out>/runs/``, so an interrupted run resumes
where it stopped; the table (``<out>/inits.md``) and plot (``<out>/inits.png``) are rebuilt from
whatever is cached. Usage::

    python bench/inits.py --downscale 2                      # 384×256
    python bench/inits.py --images kodim23 --steps 1000      # full size, one image
    python bench/inits.py --report-only                      # redraw from the cache
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

KODAK = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "kodak"  # beside the checkout
HERE = Path(__file__).resolve().parent
INITS = ("random", "random-gi", "quadtree", "quadtree+solve")
CHECK_STEPS = (0, 200, 1000, 2000)


def load_image(name: str, downscale: int) -> np.ndarray:
    """Kodak image ``name`` as ``[H, W, 3]`` float32 in [0, 1], box-downscaled by ``downscale``."""
    im = Image.open(KODAK / f"{name}.png").convert("RGB")
    if downscale > 1:
        im = im.resize((im.width // downscale, im.height // downscale), Image.BOX)
    return np.asarray(im, np.float32) / 255.0


def fit_config(name: str, steps: int, height: int, width: int):
    """``gi``: GaussianImage's recipe (Adan, one lr 1e-3); ``default``: ``configs/fit_default``."""
    from igi_jax.fit import FitConfig

    if name == "gi":
        return FitConfig(steps=steps, log_every=100)
    from configs import fit_default

    cfg = fit_default.get_config()
    return FitConfig(**{**cfg.__dict__, "steps": steps, "log_every": 100})


def run_one(image: np.ndarray, init: str, steps: int, count: int | None, fit_name: str) -> dict:
    """Init + fit one image; returns the JSON-able record."""
    import jax

    from igi_jax.fit import fit
    from igi_jax.init import initialize

    h, w = image.shape[:2]

    def init_once():
        if init == "quadtree":
            return initialize("quadtree", image, solve_colors=0)
        if init == "quadtree+solve":
            return initialize("quadtree", image)
        return initialize(init, image, key=jax.random.key(0), num_gaussians=count)

    # The first call pays jit compilation (once per shape bucket); the time axis uses the warm one.
    cold = init_once().seconds
    res = init_once()
    cfg = fit_config(fit_name, steps, h, w)
    t = time.perf_counter()
    out = fit(
        res.gaussians,
        image,
        cfg,
        init_seconds=res.seconds,
        callback=lambda e: print(
            f"    step {e['step']:5d}  {e['seconds']:7.1f} s  {e['psnr']:.2f} dB", flush=True
        ),
    )
    info = {k: (float(v) if isinstance(v, (int, float, np.number)) else v) for k, v in res.info.items()}
    return {
        "init": init,
        "height": h,
        "width": w,
        "gaussians": res.gaussians.num_live(),
        "init_seconds": res.seconds,
        "init_seconds_cold": cold,
        "init_info": info,
        "compile_seconds": out.compile_seconds,
        "fit_seconds": out.fit_seconds,
        "wall_seconds": time.perf_counter() - t,
        "steps": out.steps,
        "fit_config": repr(cfg),
        "history": out.history,
        "load_average_1min_after": os.getloadavg()[0],
    }


def quadtree_count(image: np.ndarray) -> int:
    from igi_jax.init.quadtree import quadtree_geometry

    return int(quadtree_geometry(image)[3]["gaussians"])


def _at(history: list[dict], step: int) -> dict | None:
    return next((e for e in history if e["step"] == step), None)


def write_report(out: Path, command: str) -> None:
    """Markdown table + PSNR-vs-time plot from every cached run under ``out/runs``."""
    runs = [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))]
    if not runs:
        return
    images = sorted({r["image"] for r in runs})
    lines = [
        f"# Init benchmark: {runs[0]['height']}×{runs[0]['width']}-class Kodak images",
        "",
        f"Command: `{command}`",
        "",
        "PSNR (dB) after N fit steps; `t` = wall seconds at that point (warm init included, jit "
        "compile excluded; `init s` = warm / cold, cold includes compiling); `load` = the "
        "machine's 1-minute load average when the run ended (2 cores: above ~2.5 the times "
        "are inflated by other jobs). Evaluation only: nothing was tuned on Kodak.",
        "",
        "| image | init | G | init s | step 0 | 200 | t@200 | 1000 | t@1000 | 2000 | t@2000 | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for img in images:
        for init in INITS:
            r = next((r for r in runs if r["image"] == img and r["init"] == init), None)
            if r is None:
                continue
            cells = []
            for s in CHECK_STEPS:
                e = _at(r["history"], s)
                cells += [f"{e['psnr']:.2f}" if e else "–"] + (
                    [f"{e['seconds']:.0f}" if e else "–"] if s else []
                )
            lines.append(
                f"| {img} | {init} | {r['gaussians']:,} | {r['init_seconds']:.1f} / "
                f"{r.get('init_seconds_cold', float('nan')):.1f} | "
                + " | ".join(cells)
                + f" | {r.get('load_average_1min_after', float('nan')):.1f} |"
            )
    lines += ["", "Target: `quadtree+solve` @ 200 steps ≥ `random` @ 2000 steps:", ""]
    for img in images:
        a = next((r for r in runs if r["image"] == img and r["init"] == "quadtree+solve"), None)
        b = next((r for r in runs if r["image"] == img and r["init"] == "random"), None)
        ea, eb = (a and _at(a["history"], 200)), (b and _at(b["history"], 2000))
        if ea and eb:
            ok = "yes" if ea["psnr"] >= eb["psnr"] else "NO"
            lines.append(f"- {img}: {ea['psnr']:.2f} vs {eb['psnr']:.2f} dB → {ok}")
        else:
            lines.append(f"- {img}: incomplete")
    lines += [
        "",
        "Catch-up: the first logged step (every 100) at which a random init reaches "
        "`quadtree+solve`'s PSNR after 200 steps (– = not within its run):",
        "",
    ]
    for img in images:
        a = next((r for r in runs if r["image"] == img and r["init"] == "quadtree+solve"), None)
        ea = a and _at(a["history"], 200)
        if not ea:
            continue
        cells = []
        for init in ("random", "random-gi"):
            b = next((r for r in runs if r["image"] == img and r["init"] == init), None)
            if b is None:
                continue
            hit = next((e for e in b["history"] if e["psnr"] >= ea["psnr"]), None)
            cells.append(
                f"{init} at step {hit['step']} ({hit['psnr']:.2f} dB, {hit['seconds']:.0f} s)"
                if hit
                else f"{init}: not by step {b['steps']} ({b['history'][-1]['psnr']:.2f} dB)"
            )
        lines.append(f"- {img} (target {ea['psnr']:.2f} dB, {ea['seconds']:.0f} s): " + "; ".join(cells))
    lines += ["", f"Fit config: `{runs[0]['fit_config']}`", ""]
    (out / "inits.md").write_text("\n".join(lines))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(images), figsize=(4.5 * len(images), 3.6), squeeze=False)
    for ax, img in zip(axes[0], images, strict=True):
        for init in INITS:
            r = next((r for r in runs if r["image"] == img and r["init"] == init), None)
            if r:
                ax.plot(
                    [e["seconds"] for e in r["history"]],
                    [e["psnr"] for e in r["history"]],
                    marker=".",
                    label=init,
                )
        ax.set(title=img, xlabel="wall time, s (init included)", ylabel="PSNR, dB", xscale="log")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "inits.png", dpi=110)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", default="kodim23,kodim05,kodim01,kodim15")
    p.add_argument("--inits", default="quadtree+solve,quadtree,random,random-gi")
    p.add_argument("--steps", type=int, default=1000, help="fit steps for every init but random")
    p.add_argument("--random-steps", type=int, default=2000)
    p.add_argument("--downscale", type=int, default=1)
    p.add_argument("--fit", default="gi", choices=("gi", "default"))
    p.add_argument("--out", type=Path, default=None, help="default bench/results/inits[_ds<d>]")
    p.add_argument("--report-only", action="store_true")
    args = p.parse_args(argv)
    suffix = (f"_ds{args.downscale}" if args.downscale > 1 else "") + (
        "" if args.fit == "gi" else f"_{args.fit}"
    )
    out = args.out or HERE / "results" / f"inits{suffix}"
    (out / "runs").mkdir(parents=True, exist_ok=True)
    command = "python bench/inits.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if not args.report_only:
        for img in args.images.split(","):
            image = load_image(img, args.downscale)
            count = None
            for init in args.inits.split(","):
                if init not in INITS:
                    raise ValueError(f"unknown init {init!r}; expected one of {INITS}")
                steps = args.random_steps if init == "random" else args.steps
                path = out / "runs" / f"{img}_{init}.json"
                if path.exists() and json.loads(path.read_text())["steps"] >= steps:
                    print(f"{img} {init}: cached", flush=True)
                    continue
                if init.startswith("random") and count is None:
                    count = quadtree_count(image)
                print(f"{img} {init}: {image.shape[1]}×{image.shape[0]}, {steps} steps", flush=True)
                record = run_one(image, init, steps, count, args.fit)
                record.update(image=img, downscale=args.downscale)
                path.write_text(json.dumps(record, indent=1))
                write_report(out, command)
    write_report(out, command)


if __name__ == "__main__":
    main()
