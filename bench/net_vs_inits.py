"""The shipped network against the non-learned inits (issue 16's protocol), via the experiment runner.

    python bench/net_vs_inits.py --set kodak   [--limit N]   # 24 Kodak images, k = 3 and 4
    python bench/net_vs_inits.py --set heldout               # the 5 held-out photos at ×4

Rows: ``net``, ``net+solve`` and ``quadtree+solve`` at 0 / 200 / 1,000 steps, and ``random`` with
the net's count at 200 / 2,000 / 10,000 steps (``--quick``: 0 / 200 only). Results go to
``bench/results/net_vs_inits_<set>/`` (``results.json``, ``report.md``, plots), resumable.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from igi_jax.data.samples import VAL_PHOTOS, downscale
from igi_jax.experiments import cli


def heldout_folder(root: Path, scale: int, out: Path) -> Path:
    """The held-out photos at ×scale, written as PNGs into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    for stem in VAL_PHOTOS:
        img = downscale(root / "photos" / f"{stem}.png", scale)
        Image.fromarray(np.round(img * 255).astype(np.uint8)).save(out / f"{stem}_x{scale}.png")
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--set", choices=("kodak", "heldout"), default="kodak")
    p.add_argument("--datasets", default="../shared/datasets")
    p.add_argument("--limit", type=int)
    p.add_argument("--kernel-size", default="3,4")
    p.add_argument("--quick", action="store_true", help="budgets 0 / 200 only")
    args = p.parse_args()
    root = Path(args.datasets)
    out = Path(f"bench/results/net_vs_inits_{args.set}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = root / "kodak" if args.set == "kodak" else heldout_folder(root, 4, Path(tmp) / "heldout")
        base = ["--dataset", str(folder), "--kernel-size", args.kernel_size, "--out", str(out)]
        if args.limit:
            base += ["--limit", str(args.limit)]
        learned = "0,200" if args.quick else "0,200,1000"
        rand = "200" if args.quick else "200,2000,10000"
        cli.main(base + ["--inits", "net,net+solve,quadtree+solve", "--steps", learned])
        cli.main(base[:-2] + ["--out", str(out) + "_random", "--inits", "random", "--steps", rand])


if __name__ == "__main__":
    main()
