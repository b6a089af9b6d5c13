"""The shipped network against the non-learned inits on the held-out photos at ×4 (issue 16), through
the experiment runner. (The Kodak runs of issue 16 are configs: ``configs/experiments/net_vs_inits_*``.)

    python bench/net_vs_inits.py [--quick]      # --quick: random at 200 steps only

The runner takes a folder, and these images are derived (``igi_jax.data.samples.downscale``, ×4,
not the runner's box filter), so they are written once to ``out/net_vs_inits/heldout_x4/`` (the
path the results record, relative to the repository). Rows: ``net``, ``net+solve`` and
``quadtree+solve`` at steps 0 / 200 into ``bench/results/net_vs_inits_heldout/``, and ``random``
with the net's count into ``..._random`` (200 steps; 200 / 2,000 / 10,000 without ``--quick``).
The committed results predate the fit's warm-up: with today's default fit config the runner
refuses to resume them (other settings), so a rerun needs another ``--out`` or the old config.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from igi_jax.data.samples import VAL_PHOTOS, downscale
from igi_jax.experiments import cli
from igi_jax.experiments.config import REPO, datasets_root

FOLDER = "out/net_vs_inits/heldout_x4"


def heldout_folder(root: Path, scale: int, out: Path) -> Path:
    """The held-out photos at ×scale, written as PNGs into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    for stem in VAL_PHOTOS:
        if not (out / f"{stem}_x{scale}.png").exists():
            img = downscale(root / "photos" / f"{stem}.png", scale)
            Image.fromarray(np.round(img * 255).astype(np.uint8)).save(out / f"{stem}_x{scale}.png")
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="random at 200 steps only")
    args = p.parse_args()
    heldout_folder(datasets_root(), 4, REPO / FOLDER)
    out = "bench/results/net_vs_inits_heldout"
    base = ["--dataset", str(REPO / FOLDER), "--kernel-size", "3"]
    cli.main(base + ["--out", out, "--inits", "net,net+solve,quadtree+solve", "--steps", "0,200"])
    rand = "200" if args.quick else "200,2000,10000"
    cli.main(base + ["--out", out + "_random", "--inits", "random", "--steps", rand])


if __name__ == "__main__":
    main()
