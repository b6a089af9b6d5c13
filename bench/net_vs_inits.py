"""The shipped network against the non-learned inits (issue 16's protocol), via the experiment runner.

    python bench/net_vs_inits.py --set kodak            # 24 Kodak images, k = 3 and 4, steps 0 / 200
    python bench/net_vs_inits.py --set kodak --long     # 4 Kodak images, k = 3, to 1,000 / 10,000
    python bench/net_vs_inits.py --set heldout --quick  # the 5 held-out photos at ×4

Rows: ``net``, ``net+solve`` and ``quadtree+solve`` (the strongest non-learned init), and with
``--long`` also ``random`` with the net's count at 200 / 2,000 / 10,000 steps. ``--long`` runs on
the four images of ``bench/inits.py`` (kodim01/05/15/23): 10,000 steps on all 24 would take
~1 day on 2 CPU cores. Results go to ``bench/results/net_vs_inits_<set>[_long]/`` (``results.json``,
``report.md``, plots; ``..._random`` for the random rows), resumable.
"""

from __future__ import annotations

import argparse
import json
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
        if not (out / f"{stem}_x{scale}.png").exists():
            img = downscale(root / "photos" / f"{stem}.png", scale)
            Image.fromarray(np.round(img * 255).astype(np.uint8)).save(out / f"{stem}_x{scale}.png")
    return out


def work_folder(out: Path, name: str) -> Path:
    """Where the derived image folder lives: the one ``out``'s results were made from (the runner
    resumes only with the same dataset path), else a fixed folder under the temp dir."""
    results = out / "results.json"
    if results.exists():
        return Path(json.loads(results.read_text())["settings"]["dataset"])
    return Path(tempfile.gettempdir()) / "igi-net-vs-inits" / name


LONG_IMAGES = ("kodim01", "kodim05", "kodim15", "kodim23")  # bench/inits.py's four


def linked_folder(root: Path, stems: tuple[str, ...], out: Path) -> Path:
    """A folder of links to ``root/<stem>.png`` (the runner takes a folder)."""
    out.mkdir(parents=True, exist_ok=True)
    for stem in stems:
        if not (out / f"{stem}.png").exists():
            (out / f"{stem}.png").symlink_to((root / f"{stem}.png").resolve())
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--set", choices=("kodak", "heldout"), default="kodak")
    p.add_argument("--datasets", default="../shared/datasets")
    p.add_argument("--limit", type=int)
    p.add_argument("--kernel-size", help="default: 3,4 (3 with --long)")
    p.add_argument("--quick", action="store_true", help="held-out: random at 200 steps only")
    p.add_argument("--long", action="store_true", help="4 images, 0 / 200 / 1,000 and random to 10,000")
    args = p.parse_args()
    root = Path(args.datasets)
    out = Path(f"bench/results/net_vs_inits_{args.set}" + ("_long" if args.long else ""))
    k = args.kernel_size or ("3" if args.long else "3,4")
    if args.set == "heldout":
        folder = heldout_folder(root, 4, work_folder(out, "heldout"))
    elif args.long:
        folder = linked_folder(root / "kodak", LONG_IMAGES, work_folder(out, "kodak4"))
    else:
        folder = root / "kodak"
    base = ["--dataset", str(folder), "--kernel-size", k, "--out", str(out)]
    if args.limit:
        base += ["--limit", str(args.limit)]
    learned = "0,200,1000" if args.long else "0,200"
    cli.main(base + ["--inits", "net,net+solve,quadtree+solve", "--steps", learned])
    if args.long or args.set == "heldout":
        rand = "200" if args.quick else "200,2000,10000"
        cli.main(base[:-2] + ["--out", str(out) + "_random", "--inits", "random", "--steps", rand])


if __name__ == "__main__":
    main()
