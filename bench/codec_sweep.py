"""The quantisers' sweep on training photos (never Kodak): codebook size and stages, covariance
bits and the position grid at matched rates, each with the Gaussian count its rate leaves it.

    python bench/codec_sweep.py --out bench/results/codec_sweep.md
    python bench/codec_sweep.py --vq rate --subpixel 1 2 3 --fill --bpp 0.25 1.0
    python bench/codec_sweep.py --vq rate --fill --init net --bpp 0.5 --fit plain shipped --lr-scale 1 2

Quad-tree init (or ``--init net``: the shipped second net), ``--steps`` fit + ``--qat-steps``
quantisation-aware steps (``--fit``'s settings, rates × ``--lr-scale``, halved every
``--decay-every``), photos read at ``--max-side`` (the training photos are ~1,250 px wide; 640 px
is about Kodak's size). Prints the decoded PSNR and real bpp of every setting, and the mean per
rate.
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import sys

import numpy as np

from configs.experiments.eval_kodak_v2 import WEIGHTS
from igi_jax import io, memory
from igi_jax.codec import compress as c_lib
from igi_jax.codec import quantize as q_lib
from igi_jax.experiments.config import datasets_root
from igi_jax.experiments.store import code_version
from igi_jax.fit_config import FitConfig
from igi_jax.one_image import FitOptions, load_config

INIT_TEXT = {"quadtree": "quad-tree init", "net": "the shipped second net's init"}
# The fit's settings: ``shipped`` is configs/fit_default.py (what ``igi compress`` fits with: rates
# × 3 per group, a 10-step warm-up), ``plain`` is FitConfig()'s (× 1, no warm-up).
FITS = {"shipped": lambda: load_config(None)[0].fit, "plain": FitConfig}
SETTINGS = ("2x8", "2x32", "2x256", "1x256")  # stages x codebook entries


def _vq(text: str, bpp: float, pixels: int) -> tuple[int, int]:
    """``STAGESxENTRIES``, or ``rate``: the codec's choice for the rate (:func:`quant_for_bpp`)."""
    if text == "rate":
        q = c_lib.quant_for_bpp(bpp, pixels)
        return q.stages, q.codebook
    stages, _, k = text.partition("x")
    return int(stages), int(k)


def _fit(spec: tuple[str, float], steps: int, decay_every: int) -> FitConfig:
    """``FITS[name]`` with its rate × ``scale``, ``steps`` steps, halved every ``decay_every``."""
    name, scale = spec
    base = FITS[name]()
    return dataclasses.replace(base, steps=steps, log_every=100, decay_every=decay_every, lr=base.lr * scale)


def _bits_text(bits: tuple[int, float]) -> str:
    return f"{bits[0]}" + (f", asinh(x / {bits[1]:g} px)" if bits[1] else "")


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
        "--shape-knee", nargs="+", type=float, default=[0.0], help="covariances companded (px; 0: linear)"
    )
    ap.add_argument(
        "--subpixel", nargs="+", type=int, default=[None], help="position grids 2^-P px (default: by rate)"
    )
    ap.add_argument("--init", choices=("quadtree", "net"), default="quadtree")
    ap.add_argument(
        "--decay-every", nargs="+", type=int, default=[FitConfig.decay_every], help="halve the rates every N"
    )
    ap.add_argument(
        "--fit", nargs="+", choices=sorted(FITS), default=["shipped"], help="the fit's settings (see FITS)"
    )
    ap.add_argument("--lr-scale", nargs="+", type=float, default=[1.0], help="factors on the fit's rate")
    ap.add_argument("--fill", action="store_true", help="fill the budget (CompressOptions.budget_bytes)")
    ap.add_argument("--out")
    args = ap.parse_args()
    settings = [
        (v, b, p, d, (f, x))
        for v in args.vq
        for b in [(bits, knee) for bits in args.shape_bits for knee in args.shape_knee]
        for p in args.subpixel
        for d in args.decay_every
        for f in args.fit
        for x in args.lr_scale
    ]
    version = code_version(exclude="bench/results")  # the code that runs, whatever is committed during it
    folder = datasets_root() / "photos"
    if not folder.is_dir():
        print(f"skip: {folder} not found")
        return
    rows = []
    for photo in args.photos:
        path = folder / f"{photo}.png"
        for bpp in args.bpp:
            for vq, bits, sub, decay, fit_spec in settings:
                h, w = memory.scaled_size(*io.image_size(path), args.max_side)
                stages, k = _vq(vq, bpp, h * w)
                grid = c_lib.quant_for_bpp(bpp, h * w).xy_subpixel if sub is None else sub
                knee = bits[1] or None
                quant = q_lib.QuantConfig(
                    stages=stages, codebook=k, shape_bits=bits[0], shape_knee=knee, xy_subpixel=grid
                )
                n = c_lib.count_for_bpp(bpp, h, w, quant)
                fit = FitOptions(
                    init=args.init,
                    kind="cholesky",
                    num_gaussians=n,
                    weights=WEIGHTS if args.init == "net" else None,
                    fit=_fit(fit_spec, args.steps, decay),
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
                        decay,
                        fit_spec,
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
        f"Training photos {', '.join(args.photos)} at {args.max_side} px, {INIT_TEXT[args.init]}, "
        f"{args.steps} fit + "
        f"{args.qat_steps} quantisation-aware steps"
        f"{', the budget filled' if args.fill else ''}; code "
        f"{version}. Cells: mean over the photos.",
        "",
        "| target bpp | colour VQ | covariances | position grid | rates halve every | fit × lr | Gaussians "
        "| real bpp | decoded PSNR | unquantised PSNR |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for bpp in args.bpp:
        for vq, bits, sub, decay, fit_spec in settings:
            same = [r[7:] for r in rows if r[1] == bpp and r[2:7] == (vq, bits, sub, decay, fit_spec)]
            sel = np.asarray(same, np.float64)
            m = sel.mean(axis=0)
            lines.append(
                f"| {bpp:.2f} | {vq.replace('x', ' × ')} | {_bits_text(bits)} | {_grid_text(sub)} "
                f"| {decay:,} steps | {fit_spec[0]} × {fit_spec[1]:g} "
                f"| {m[0]:,.0f} | {m[1]:.3f} | {m[2]:.2f} | {m[3]:.2f} |"
            )
    print("\n".join(lines))
    if args.out:
        pathlib.Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
