"""Does a learning-rate warm-up help the fine-tuning of a good init? (training photos, never Kodak)

On Kodak the first Adan step of the default fit (lr 1e-3 × 3) knocks the net init back by 6-8 dB
(kodim01: 24.5 → 18.4 dB at step 1, back above the init by step 10), because bias-corrected Adan
moves every parameter by about the full rate on its first steps. This runs the shipped fit config
with ``FitConfig.warmup_steps`` = each of ``--warmup`` from the net + colour solve init (k = 3) and
the quad-tree + colour solve init, and prints PSNR at a few early steps and at ``--steps`` (and
the mean over photos). Photos are resized to ``--width`` (LANCZOS); they are training photos, not the
held-out ones (``igi_jax.data.samples.VAL_PHOTOS``).

    python bench/fit_warmup.py --photos 002,013,027 --width 768 --warmup 0,10,30 \
        --out bench/results/fit_warmup.md
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from configs import fit_default  # noqa: E402
from igi_jax import io  # noqa: E402
from igi_jax.data.samples import VAL_PHOTOS  # noqa: E402
from igi_jax.experiments.config import shipped_weights  # noqa: E402
from igi_jax.fit import fit  # noqa: E402
from igi_jax.init import initialize_warm  # noqa: E402

PHOTOS = ROOT.parent / "shared" / "datasets" / "photos"
MARKS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


def load_photo(name: str, width: int) -> np.ndarray:
    im = Image.open(PHOTOS / f"{name}.png").convert("RGB")
    h = round(im.height * width / im.width)
    return np.asarray(im.resize((width, h), Image.LANCZOS), np.float32) / 255.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", default="002,013,027")
    ap.add_argument("--width", type=int, default=768)
    ap.add_argument("--warmup", default="0,10,30")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--inits", default="net+solve,quadtree+solve")
    ap.add_argument("--out", type=Path, default=None, help="also write the Markdown table here")
    args = ap.parse_args(argv)
    photos = args.photos.split(",")
    held_out = sorted(set(photos) & set(VAL_PHOTOS))
    if held_out:
        raise SystemExit(f"photos {held_out} are held out from training: not for tuning")
    warmups = [int(w) for w in args.warmup.split(",")]
    weights = shipped_weights()
    steps = tuple(sorted({s for s in MARKS if s <= args.steps} | {args.steps}))
    base = dataclasses.replace(fit_default.get_config(), steps=args.steps, log_every=100)
    rows = []
    for name in photos:
        image = load_photo(name, args.width)
        for init_name in args.inits.split(","):
            net = init_name.split("+")[0] == "net"
            init = initialize_warm(init_name, image, **({"weights": weights, "k": 3} if net else {}))
            for w in warmups:
                res = fit(
                    init.gaussians,
                    image,
                    dataclasses.replace(base, warmup_steps=w),
                    snapshots=frozenset(steps),
                )
                at = {h["step"]: h["psnr"] for h in res.history}
                rows.append(
                    {
                        "photo": name,
                        "init": init_name,
                        "warmup": w,
                        "gaussians": init.gaussians.num_live(),
                        "psnr": [at[s] for s in steps],
                        "load": os.getloadavg()[0],
                    }
                )
                print(
                    f"{name} {init_name} warmup {w}: " + " ".join(f"{p:.2f}" for p in rows[-1]["psnr"]),
                    flush=True,
                )
    head = (
        "| photo | init | G | warm-up | "
        + " | ".join(f"step {s}" for s in steps)
        + " | load |\n"
        + "|---" * (5 + len(steps))
        + "|\n"
    )
    lines = [
        f"| {r['photo']} | {r['init']} | {r['gaussians']:,} | {r['warmup']} | "
        + " | ".join(f"{p:.2f}" for p in r["psnr"])
        + f" | {r['load']:.1f} |"
        for r in rows
    ]
    means = []
    for init_name in args.inits.split(","):
        for w in warmups:
            sel = [r["psnr"] for r in rows if r["init"] == init_name and r["warmup"] == w]
            means.append(
                f"| mean of {len(sel)} | {init_name} | – | {w} | "
                + " | ".join(f"{p:.2f}" for p in np.mean(sel, axis=0))
                + " | – |"
            )
    cmd = "python bench/fit_warmup.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = (
        f"# Learning-rate warm-up of the fine-tuning (photos, width {args.width})\n\n"
        f"PSNR (dB) of the shipped fit config (`configs/fit_default.py`) with `warmup_steps` = "
        f"the warm-up. Made with `{cmd}`.\n\n" + head + "\n".join(lines + means) + "\n"
    )
    print(text)
    if args.out:
        io.atomic_write(args.out, lambda f: f.write(text.encode()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
