"""A first look at the codec's rate–distortion against JPEG, on a few Kodak images (not issue 34's
experiment, which belongs in the experiments runner with all five codecs and 24 images).

For each image and target bpp: ``igi compress`` (quad-tree init at the count :func:`count_for_bpp`
gives, ``--steps`` fit steps, ``--qat-steps`` quantisation-aware steps), and JPEG (Pillow, 4:2:0)
at the quality whose file is closest to our file's real size, side by side in one run. PSNR of
the decoded images; GaussianImage's published Kodak curve (read off its figure, ±0.2 dB) is
interpolated at our rate for reference.

    python bench/codec_preview.py --images kodim01 kodim05 kodim15 kodim23 --bpp 0.25 0.5 1.0 \
        --out bench/results/codec_preview.md
"""

from __future__ import annotations

import argparse
import io as pyio
import pathlib
import sys
import time

import numpy as np
from PIL import Image

from igi_jax.codec import compress as c_lib
from igi_jax.codec import quantize as q_lib
from igi_jax.experiments.store import code_version

KODAK = pathlib.Path(__file__).resolve().parents[2] / "shared" / "datasets" / "kodak"
# GaussianImage (ECCV'24), Kodak, read off its figure (issue 34): (bpp, PSNR dB).
GAUSSIANIMAGE = [(0.12, 24.7), (0.43, 27.4), (0.71, 28.7), (1.00, 29.7), (1.28, 30.5)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.clip(a, 0, 1) - b) ** 2))
    return -10 * np.log10(mse)


def jpeg_at(image: np.ndarray, target_bytes: int) -> tuple[int, float, int]:
    """(quality, PSNR, bytes) of the JPEG whose size is closest to ``target_bytes``."""
    pil = Image.fromarray((image * 255).round().astype(np.uint8))
    best = None
    for q in range(1, 96):
        buf = pyio.BytesIO()
        pil.save(buf, "JPEG", quality=q)
        size = buf.tell()
        if best is None or abs(size - target_bytes) < abs(best[2] - target_bytes):
            decoded = np.asarray(Image.open(pyio.BytesIO(buf.getvalue())), np.float32) / 255
            best = (q, psnr(decoded, image), size)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", nargs="+", default=["kodim01", "kodim05", "kodim15", "kodim23"])
    ap.add_argument("--bpp", nargs="+", type=float, default=[0.25, 0.5, 1.0])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--qat-steps", type=int, default=300)
    ap.add_argument("--out")
    args = ap.parse_args()
    if not KODAK.is_dir():
        print(f"skip: {KODAK} not found")
        return
    quant = q_lib.QuantConfig()
    rows = []
    for name in args.images:
        path = KODAK / f"{name}.png"
        for bpp in args.bpp:
            image = np.asarray(Image.open(path).convert("RGB"), np.float32) / 255
            h, w = image.shape[:2]
            n = c_lib.count_for_bpp(bpp, h, w, quant)
            fit = c_lib.default_fit().replace(init="quadtree", num_gaussians=n, steps=args.steps)
            t = time.perf_counter()
            run = c_lib.compress_image(
                path, c_lib.CompressOptions(fit=fit, quant=quant, qat_steps=args.qat_steps)
            )
            seconds = time.perf_counter() - t
            q, jpeg_psnr, jpeg_bytes = jpeg_at(image, run.info["bytes"])
            ours_bpp = run.info["bpp"]
            gi = float(np.interp(ours_bpp, *zip(*GAUSSIANIMAGE, strict=True)))
            rows.append(
                (
                    name,
                    bpp,
                    n,
                    ours_bpp,
                    run.info["psnr"],
                    seconds,
                    8 * jpeg_bytes / (h * w),
                    q,
                    jpeg_psnr,
                    gi,
                )
            )
            print(rows[-1], flush=True)
    lines = [
        "# `python bench/codec_preview.py " + " ".join(sys.argv[1:]) + "`",
        "",
        f"Kodak, quad-tree init at the count for each target, {args.steps} fit + {args.qat_steps} "
        f"quantisation-aware steps, 2 CPU cores; code {code_version(exclude='bench/results')}. "
        "GaussianImage: its published curve interpolated at our rate (it is outside 0.12–1.28 bpp "
        "only by extrapolation).",
        "",
        "| image | target bpp | Gaussians | ours bpp | ours PSNR | encode s | JPEG bpp | JPEG q "
        "| JPEG PSNR | GaussianImage PSNR (published, at our bpp) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r[0]} | {r[1]:.2f} | {r[2]:,} | {r[3]:.3f} | {r[4]:.2f} | {r[5]:.1f} | {r[6]:.3f} "
            f"| {r[7]} | {r[8]:.2f} | {r[9]:.2f} |"
        )
    for bpp in args.bpp:
        m = np.mean([r[3:] for r in rows if r[1] == bpp], axis=0)  # from "ours bpp" on
        lines.append(
            f"| **mean** | {bpp:.2f} | | {m[0]:.3f} | {m[1]:.2f} | {m[2]:.1f} | {m[3]:.3f} | | {m[5]:.2f} "
            f"| {m[6]:.2f} |"
        )
    print("\n".join(lines))
    if args.out:
        pathlib.Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
