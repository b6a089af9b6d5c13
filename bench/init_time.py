"""Whole quad-tree init time on Kodak: split, Delaunay, ellipses and the colour solve, warm.

Target (issue 8): ≤ 2 s per Kodak image on this CPU. Each image is initialised once to compile,
then ``--repeats`` more times; the median of those is reported with its stage breakdown and the
PSNR of the init's render. Evaluation only — nothing here is tuned. Usage::

    python bench/init_time.py                                  # kodim01,05,15,23, shipped defaults
    python bench/init_time.py --images kodim23 --iters 0,8,20  # iteration sweep
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import jax
import numpy as np
from PIL import Image

KODAK = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "kodak"  # beside the checkout


def main(argv: list[str] | None = None) -> None:
    from igi_jax import metrics
    from igi_jax.init import initialize
    from igi_jax.init.choices import SOLVE_ITERS, SOLVE_SCALE
    from igi_jax.render import render_gaussians

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", default="kodim01,kodim05,kodim15,kodim23")
    p.add_argument("--iters", default=None, help="comma-separated CG iterations (default: shipped)")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    iters_list = [int(i) for i in args.iters.split(",")] if args.iters else [SOLVE_ITERS]
    print(
        f"jax {jax.__version__}, {jax.default_backend()}, {os.cpu_count()} CPUs; quad-tree scale "
        f"{SOLVE_SCALE} with the solve; load average {os.getloadavg()[0]:.2f} at start"
    )
    print("| image | G | CG iters | whole init s (median) | geometry s | solve s | PSNR dB |")
    print("|---|---|---|---|---|---|---|")
    for name in args.images.split(","):
        path = KODAK / f"{name}.png"
        if not path.exists():
            raise SystemExit(f"{path} not found (Kodak lives in ../shared/datasets/kodak)")
        image = np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0
        for iters in iters_list:
            initialize("quadtree", image, solve_colors=iters)  # compile
            runs = [initialize("quadtree", image, solve_colors=iters) for _ in range(args.repeats)]
            runs.sort(key=lambda r: r.seconds)
            r = runs[len(runs) // 2]
            psnr = float(metrics.psnr(render_gaussians(r.gaussians), image))
            print(
                f"| {name} | {r.gaussians.num_live():,} | {iters} | {r.seconds:.2f} | "
                f"{r.info['t_total']:.2f} | {r.info.get('t_solve', 0.0):.2f} | {psnr:.2f} |",
                flush=True,
            )
    print(f"load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
