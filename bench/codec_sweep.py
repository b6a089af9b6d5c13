"""The quantisers' sweep on training photos (never Kodak): codebook size and stages, covariance
bits and the position grid at matched rates, each with the Gaussian count its rate leaves it.

    python bench/codec_sweep.py --out bench/results/codec_sweep.md
    python bench/codec_sweep.py --vq rate --subpixel 1 2 3 --fill --bpp 0.25 1.0

Quad-tree init, ``--steps`` fit + ``--qat-steps`` quantisation-aware steps, photos read at
``--max-side`` (the training photos are ~1,250 px wide; 640 px is about Kodak's size). Prints the
decoded PSNR and real bpp of every setting, and the mean per rate.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

from igi_jax import io, memory
from igi_jax.codec import compress as c_lib
from igi_jax.codec import quantize as q_lib
from igi_jax.experiments.config import datasets_root
from igi_jax.experiments.store import code_version
from igi_jax.fit_config import FitConfig
from igi_jax.one_image import FitOptions

SETTINGS = ("2x8", "2x32", "2x256", "1x256")  # stages x codebook entries


def _vq(text: str, bpp: float, pixels: int) -> tuple[int, int]:
    """``STAGESxENTRIES``, or ``rate``: the codec's choice for the rate (:func:`quant_for_bpp`)."""
    if text == "rate":
        q = c_lib.quant_for_bpp(bpp, pixels)
        return q.stages, q.codebook
    stages, _, k = text.partition("x")
    return int(stages), int(k)


def _grid_text(sub: int | None) -> str:
    return "rate" if sub is None else f"1/{1 << sub} px"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", nargs="+", default=["001", "002", "003"])
    ap.add_argument("--bpp", nargs="+", type=float, default=[0.5, 1.0])
    ap.add_argument("--max-side", type=int, default=640)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--qat-steps", type=int, default=300)
    ap.add_argument("--vq", nargs="+", default=list(SETTINGS), help="colour VQs, STAGESxENTRIES or rate")
    ap.add_argument("--shape-bits", nargs="+", type=int, default=[6])
    ap.add_argument(
        "--subpixel", nargs="+", type=int, default=[None], help="position grids 2^-P px (default: by rate)"
    )
    ap.add_argument("--fill", action="store_true", help="fill the budget (CompressOptions.budget_bytes)")
    ap.add_argument("--out")
    args = ap.parse_args()
    settings = [(v, b, p) for v in args.vq for b in args.shape_bits for p in args.subpixel]
    folder = datasets_root() / "photos"
    if not folder.is_dir():
        print(f"skip: {folder} not found")
        return
    rows = []
    for photo in args.photos:
        path = folder / f"{photo}.png"
        for bpp in args.bpp:
            for vq, bits, sub in settings:
                h, w = memory.scaled_size(*io.image_size(path), args.max_side)
                stages, k = _vq(vq, bpp, h * w)
                grid = c_lib.quant_for_bpp(bpp, h * w).xy_subpixel if sub is None else sub
                quant = q_lib.QuantConfig(stages=stages, codebook=k, shape_bits=bits, xy_subpixel=grid)
                n = c_lib.count_for_bpp(bpp, h, w, quant)
                fit = FitOptions(
                    init="quadtree",
                    kind="cholesky",
                    num_gaussians=n,
                    fit=FitConfig(steps=args.steps, log_every=100),
                )
                budget = c_lib.budget_for_bpp(bpp, h, w) if args.fill else None
                opts = c_lib.CompressOptions(
                    fit=fit, quant=quant, qat_steps=args.qat_steps, budget_bytes=budget
                )
                info = c_lib.compress_image(path, opts, max_side=args.max_side).info
                rows.append(
                    (
                        photo,
                        bpp,
                        vq,
                        bits,
                        sub,
                        info["gaussians"],
                        info["bpp"],
                        info["psnr"],
                        info["psnr_unquantized"],
                    )
                )
                print(rows[-1], flush=True)
    lines = [
        "# `python bench/codec_sweep.py " + " ".join(sys.argv[1:]) + "`",
        "",
        f"Training photos {', '.join(args.photos)} at {args.max_side} px, quad-tree init, {args.steps} fit + "
        f"{args.qat_steps} quantisation-aware steps"
        f"{', the budget filled' if args.fill else ''}; code "
        f"{code_version(exclude='bench/results')}. Cells: mean over the photos.",
        "",
        "| target bpp | colour VQ | cov. bits | position grid | Gaussians | real bpp | decoded PSNR "
        "| unquantised PSNR |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for bpp in args.bpp:
        for vq, bits, sub in settings:
            sel = np.asarray([r[5:] for r in rows if r[1] == bpp and r[2:5] == (vq, bits, sub)], np.float64)
            m = sel.mean(axis=0)
            lines.append(
                f"| {bpp:.2f} | {vq.replace('x', ' × ')} | {bits} | {_grid_text(sub)} | {m[0]:,.0f} "
                f"| {m[1]:.3f} | {m[2]:.2f} | {m[3]:.2f} |"
            )
    print("\n".join(lines))
    if args.out:
        pathlib.Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
