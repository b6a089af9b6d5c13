"""Does the label fit length limit the long fine-tune? An oracle test on the held-out photos.

    python bench/label_length.py --weights runs/v2_long_edge48/step2000.npz \
        --out bench/results/label_length.md

The network is trained to predict a pseudo-PPM label made from a fit of ``prepare_steps`` (250)
steps (:func:`igi_jax.data.prepare.fit_sample`). A network that learnt its labels perfectly would
dither the label itself, so the label made from L steps bounds what training on L-step labels can
give. For each held-out photo (×4, never Kodak) this replaces the net's PPM by the label of
L ∈ ``--label-steps`` (stored and read back as the cache does, 8-bit at 1/2 resolution), scaled to
the net's own point count (:func:`igi_jax.init.ablations.match_count`, so counts are equal), and
keeps everything else of the net init: its fields make the Gaussians, then the colour solve and
the default fit. Rows: the net's own PPM and each label; cells: mean PSNR at 0 / 200 / 2,000
steps and the paired difference to the 250-step label. If the longer label is not ahead at 2,000
steps, the 250-step labels do not limit the long fine-tune.
"""

from __future__ import annotations

import argparse
import dataclasses
import io as _io
import sys
import time

import jax
import numpy as np

from igi_jax import net
from igi_jax.data import prepare
from igi_jax.data.samples import VAL_PHOTOS, downscale
from igi_jax.experiments.config import datasets_root
from igi_jax.experiments.store import code_version
from igi_jax.fit import fit
from igi_jax.gaussians import Gaussians
from igi_jax.init import SOLVE_ITERS, color_solve
from igi_jax.init.ablations import ablation_init
from igi_jax.net.inference import gaussians_for_image
from igi_jax.one_image import load_config

K = 3


def label(image: np.ndarray, steps: int, downsample: int) -> np.ndarray:
    """The pseudo-PPM of a ``steps``-step fit, through the cache's 8-bit PNG round trip."""
    ppm, _ = prepare.fit_sample(image, steps)
    buf = _io.BytesIO()
    prepare.encode_ppm(ppm, downsample).save(buf, format="PNG")
    return prepare.decode_ppm(buf, *image.shape[:2])


def init_from_ppm(model, image: np.ndarray, ppm: np.ndarray | None) -> tuple[Gaussians, int]:
    """The net init (+ colour solve) of ``image``, dithering ``ppm`` (scaled to the net's own point
    count, as the grad-dither ablation scales its map) instead of the net's PPM; ``None``: the net's own."""
    if ppm is None:
        g = gaussians_for_image(model, image, K)[0]
    else:
        g = ablation_init("grad-dither", model, image, K, ppm=ppm)[0]
    g = color_solve.solve_colors_with_info(g, image, iters=SOLVE_ITERS)[0]
    return g, int(g.num_live())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--label-steps", nargs="+", type=int, default=[250, 1000])
    ap.add_argument("--photos", nargs="+", default=list(VAL_PHOTOS))
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    model = net.load_weights(args.weights)
    fit_cfg = dataclasses.replace(load_config()[0].fit, steps=args.steps, log_every=200)
    rows = ["net", *(f"label {n}" for n in args.label_steps)]
    psnr: dict[str, list[list[float]]] = {r: [] for r in rows}
    counts: dict[str, list[int]] = {r: [] for r in rows}
    t0 = time.perf_counter()
    for stem in args.photos:
        image = downscale(datasets_root() / "photos" / f"{stem}.png", args.scale)
        maps = {"net": None, **{f"label {n}": label(image, n, 2) for n in args.label_steps}}
        for row, ppm in maps.items():
            g, n = init_from_ppm(model, image, ppm)
            hist = {h["step"]: h["psnr"] for h in fit(g, image, fit_cfg).history}
            psnr[row].append([hist[0], hist[200], hist[args.steps]])
            counts[row].append(n)
            print(
                f"{stem} {row:>10}: {n:,} Gaussians, PSNR {hist[0]:.2f} / {hist[200]:.2f} / "
                f"{hist[args.steps]:.2f}",
                flush=True,
            )
    ref = np.asarray(psnr[f"label {args.label_steps[0]}"])
    lines = [
        f"# Label fit length: the label itself as the PPM (oracle), held-out photos ×{args.scale}",
        "",
        f"`python bench/label_length.py {' '.join(argv if argv is not None else sys.argv[1:])}` "
        f"(code {code_version()}, "
        f"{len(args.photos)} photos: {', '.join(args.photos)}; {time.perf_counter() - t0:.0f} s on "
        f"{jax.devices()[0].platform}). Fields: the net's; counts matched to the net's own PPM; "
        f"colour solve; the default fit. Cells: mean PSNR (dB), then the paired difference to the "
        f"{args.label_steps[0]}-step label and the photos ahead.",
        "",
        f"| PPM | Gaussians | 0 steps | 200 steps | {args.steps} steps |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        p = np.asarray(psnr[row])
        cells = []
        for j in range(3):
            d = p[:, j] - ref[:, j]
            cells.append(f"{p[:, j].mean():.2f} ({d.mean():+.2f}, {(d > 0).sum()}/{len(d)})")
        lines.append(f"| {row} | {np.mean(counts[row]):,.0f} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
