"""How long must a pseudo-PPM fit be? Label change between N and 2N fit steps, on training photos.

    python bench/pseudo_ppm_steps.py [--photos 001] [--scale 2] [--steps 0,125,250,500,1000]

For each photo (a training photo, never Kodak or a held-out one) at a ×scale downscale: fit from
the quad-tree init for each N (separate fits, same init), make the pseudo-PPM, and report the
mean |PPM(N) − PPM(2N)| and the fit PSNR. Writes bench/results/pseudo_ppm_steps.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from igi_jax.data.prepare import fit_sample
from igi_jax.data.samples import downscale


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--photos", default="001")
    p.add_argument("--scale", type=int, default=2)
    p.add_argument("--steps", default="0,125,250,500,1000")
    p.add_argument("--root", default="../shared/datasets/photos")
    p.add_argument("--out", default="bench/results/pseudo_ppm_steps.md")
    args = p.parse_args()
    steps = [int(s) for s in args.steps.split(",")]
    lines = [
        "# Pseudo-PPM change between N and 2N fit steps",
        "",
        f"`python bench/pseudo_ppm_steps.py --photos {args.photos} --scale {args.scale} "
        f"--steps {args.steps}`",
        "",
        "| photo | size | N | PSNR after N (dB) | fit s | mean abs PPM(N) − PPM(next N) | "
        "mean abs PPM(N) − PPM(last) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in args.photos.split(","):
        image = downscale(Path(args.root) / f"{name}.png", args.scale)
        h, w = image.shape[:2]
        ppms, recs = [], []
        for n in steps:
            t = time.perf_counter()
            label, rec = fit_sample(image, n)
            rec["wall"] = time.perf_counter() - t
            ppms.append(label)
            recs.append(rec)
            print(name, n, rec, flush=True)
        for i, n in enumerate(steps):
            nxt = f"{np.abs(ppms[i] - ppms[i + 1]).mean():.4f}" if i + 1 < len(steps) else "–"
            last = f"{np.abs(ppms[i] - ppms[-1]).mean():.4f}"
            lines.append(
                f"| {name} | {w}×{h} | {n} | {recs[i]['psnr_fit']:.2f} | {recs[i]['wall']:.1f} | "
                f"{nxt} | {last} |"
            )
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
