"""The codec's fill margin (``compress.FILL_MARGIN``) A/B on the held-out photos (never Kodak):
each photo, rate and margin encoded at 640 px with the ``fast`` budget (1,000 + 300 steps) or
``--steps`` + ``--qat-steps``.

    python bench/codec_fill_margin.py --margins 0.94 0.99 --bpp 0.25 0.5 --init net
    python bench/codec_fill_margin.py --margins 0.94 0.99 --bpp 0.12 0.5 --init quadtree
    python bench/codec_fill_margin.py --margins 0.99 1.04 --bpp 0.5 --steps 4000 --qat-steps 1000
    python bench/codec_fill_margin.py --margins 0.99 1.04 --trim-from 1 0.5 --bpp 0.5 --steps 4000 \
        --qat-steps 1000

``--trim-from``: the share of the quantisation-aware steps from which a file past its budget is
trimmed between blocks (``compress.QAT_TRIM_FROM``; 1: only after the last step). Prints one JSON
row per encode (real bpp, decoded PSNR, count, Gaussians trimmed before / during / after the
quantisation-aware steps), then the mean change in PSNR per rate from the first setting.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from configs.experiments.eval_kodak_v2 import WEIGHTS
from igi_jax import io, memory
from igi_jax.codec import compress as c_lib
from igi_jax.data.samples import VAL_PHOTOS
from igi_jax.experiments.config import datasets_root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--margins", nargs="+", type=float, default=[0.94, 0.99])
    ap.add_argument("--bpp", nargs="+", type=float, default=[0.25, 0.5])
    ap.add_argument("--init", choices=("net", "quadtree"), default="net")
    ap.add_argument("--max-side", type=int, default=640)
    ap.add_argument("--steps", type=int, default=1000, help="fit steps (fast: 1,000; long: 4,000)")
    ap.add_argument("--qat-steps", type=int, default=300, help="quantised steps (fast: 300; long: 1,000)")
    ap.add_argument("--trim-from", nargs="+", type=float, default=[c_lib.QAT_TRIM_FROM])
    args = ap.parse_args()
    folder = datasets_root() / "photos"
    if not folder.is_dir():
        print(f"skip: {folder} not found")
        return
    settings = [(m, t) for m in args.margins for t in args.trim_from]
    rows = []
    for photo in VAL_PHOTOS:
        path = folder / f"{photo}.png"
        h, w = memory.scaled_size(*io.image_size(path), args.max_side)
        for bpp in args.bpp:
            quant = c_lib.quant_for_bpp(bpp, h * w)
            fit = c_lib.default_fit().replace(  # igi compress's fit
                init=args.init,
                weights=WEIGHTS if args.init == "net" else None,
                num_gaussians=c_lib.count_for_bpp(bpp, h, w, quant),
                steps=args.steps,
            )
            for margin, trim_from in settings:
                c_lib.FILL_MARGIN, c_lib.QAT_TRIM_FROM = margin, trim_from
                opts = c_lib.CompressOptions(
                    fit=fit,
                    quant=quant,
                    qat_steps=args.qat_steps,
                    budget_bytes=c_lib.budget_for_bpp(bpp, h, w),
                )
                info = c_lib.compress_image(path, opts, max_side=args.max_side).info
                keys = (
                    "bpp",
                    "psnr",
                    "gaussians",
                    "count_filled",
                    "trimmed_before_qat",
                    "trimmed_during_qat",
                    "trimmed",
                )
                rows.append(
                    {
                        "photo": photo,
                        "init": args.init,
                        "target_bpp": bpp,
                        "margin": margin,
                        "trim_from": trim_from,
                    }
                )
                rows[-1].update({k: info[k] for k in keys})
                print(json.dumps(rows[-1]), flush=True)
    first = settings[0]
    for bpp in args.bpp:
        for setting in settings[1:]:
            pairs = [
                (a["psnr"], b["psnr"])
                for a in rows
                for b in rows
                if a["photo"] == b["photo"]
                and a["target_bpp"] == b["target_bpp"] == bpp
                and (a["margin"], a["trim_from"]) == first
                and (b["margin"], b["trim_from"]) == setting
            ]
            d = np.asarray([b - a for a, b in pairs])
            print(
                f"{bpp} bpp, (margin, trim from) {first} -> {setting}: {d.mean():+.3f} dB, "
                f"{int((d > 0).sum())}/{d.size} ahead"
            )


if __name__ == "__main__":
    main()
