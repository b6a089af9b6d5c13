"""Encode time of ``igi compress``, cold and warm: how much of an encode is compilation.

    python bench/codec_encode_time.py --out bench/results/codec_encode_time.md

Encodes training photos (never Kodak), centre-cropped to Kodak's 768×512, one after another in
one process at each ``--bpp`` (the RD run's order: every rate of an image, then the next image),
with the RD run's fast budget (quad-tree init, 1,000 fit + 300 quantisation-aware steps, the
budget filled). The first image compiles its programs; the later ones reuse what their problem
shape (canvas, count and list buckets, settings) shares with it. Prints every encode's seconds,
its split, the programs it compiled, and the ratio of the first image's encodes to the later
ones'. No persistent compilation cache is used (the library never turns it on).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

import numpy as np
from PIL import Image

from igi_jax import compile_cache
from igi_jax.codec import compress as c_lib
from igi_jax.experiments.config import datasets_root
from igi_jax.experiments.store import code_version

KODAK_SIZE = (768, 512)  # width, height


def _crop(src: pathlib.Path, dst: pathlib.Path) -> None:
    """``src`` scaled so that it covers 768×512, centre-cropped to it, saved as PNG at ``dst``."""
    image = Image.open(src).convert("RGB")
    w, h = KODAK_SIZE
    s = max(w / image.width, h / image.height)
    image = image.resize((round(image.width * s), round(image.height * s)), Image.Resampling.LANCZOS)
    left, top = (image.width - w) // 2, (image.height - h) // 2
    image.crop((left, top, left + w, top + h)).save(dst)


def _encode(path: pathlib.Path, bpp: float, steps: int, qat_steps: int) -> dict:
    quant = c_lib.quant_for_bpp(bpp, KODAK_SIZE[0] * KODAK_SIZE[1])
    h, w = KODAK_SIZE[1], KODAK_SIZE[0]
    fit = c_lib.default_fit().replace(  # igi compress's fit
        init="quadtree", num_gaussians=c_lib.count_for_bpp(bpp, h, w, quant), steps=steps
    )
    options = c_lib.CompressOptions(
        fit=fit, quant=quant, qat_steps=qat_steps, budget_bytes=c_lib.budget_for_bpp(bpp, h, w)
    )
    misses = dict(compile_cache.MISSES)
    t0 = time.perf_counter()
    info = c_lib.compress_image(path, options).info
    wall = time.perf_counter() - t0
    compiled = {k: v - misses.get(k, 0) for k, v in compile_cache.MISSES.items() if v - misses.get(k, 0)}
    return {**info, "wall": wall, "compiled": compiled}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", nargs="+", default=["003", "006", "007", "009"])
    ap.add_argument("--bpp", nargs="+", type=float, default=[0.12, 0.5])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--qat-steps", type=int, default=300)
    ap.add_argument("--out")
    args = ap.parse_args()
    folder = datasets_root() / "photos"
    lines = [
        f"# Encode time, cold and warm (code {code_version()}, {os.cpu_count()} CPUs)",
        "",
        f"`python bench/codec_encode_time.py {' '.join(sys.argv[1:])}`: training photos centre-cropped to "
        f"768×512, quad-tree init, {args.steps} + {args.qat_steps} steps, budget filled, one process.",
        "",
        "| photo | target bpp | bpp | Gaussians | PSNR dB | encode s | fit s | programs compiled | load |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    first, later = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i, photo in enumerate(args.photos):
            path = pathlib.Path(tmp) / f"{photo}.png"
            _crop(folder / f"{photo}.png", path)
            for bpp in args.bpp:
                r = _encode(path, bpp, args.steps, args.qat_steps)
                (first if i == 0 else later).append(r["encode_seconds"])
                compiled = ", ".join(f"{k} {v}" for k, v in sorted(r["compiled"].items())) or "none"
                lines.append(
                    f"| {photo} | {bpp:g} | {r['bpp']:.3f} | {r['gaussians']} | {r['psnr']:.2f} | "
                    f"{r['encode_seconds']:.1f} | {r['fit_seconds']:.1f} | {compiled} | "
                    f"{os.getloadavg()[0]:.1f} |"
                )
                print(lines[-1], flush=True)
    lines += [
        "",
        f"First photo's encodes: {statistics.mean(first):.1f} s on the mean; later photos': "
        f"{statistics.mean(later):.1f} s (ratio {statistics.mean(first) / statistics.mean(later):.2f}×, "
        f"median later {np.median(later):.1f} s).",
    ]
    print(lines[-1])
    if args.out:
        pathlib.Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
