"""Fit every image in a folder with a config: the training entry point, for now.

The Instant-GI network and its pretraining do not exist yet, so "training" is what the paper's
baselines do, per-image GaussianImage fitting (the fits are also the future pseudo-label source):

    python train.py --config configs/fit_default.py --images DIR --out DIR [--limit N]

writes ``DIR/<image>/`` (``gaussians.npz``, ``render.png``, ``metrics.json``,
``psnr_vs_time.png``, as ``igi fit``) and ``DIR/train.json`` + ``DIR/train.md`` (per-image
PSNR / MS-SSIM and the mean). Exit code 1 if any image failed, 2 for bad arguments.
"""

from __future__ import annotations

import sys

from igi_jax import cli, evaluate, pipeline


def main(argv: list[str] | None = None) -> int:
    parser = cli.Parser(prog="train.py", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="config file with get_config()")
    parser.add_argument("--images", required=True, help="folder of images to fit")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--limit", type=int, help="fit only the first N images (sorted by name)")

    def run() -> int:
        args = parser.parse_args(argv)
        options, notes = pipeline.load_config(args.config)
        for note in notes:
            print(f"train.py: note: {note}", file=sys.stderr)
        report = evaluate.fit_images(args.images, options, out_dir=args.out, limit=args.limit)
        paths = evaluate.write_report(args.out, report, stem="train")
        print(evaluate.markdown_table(report))
        print(f"wrote {', '.join(map(str, paths))}")
        return 1 if report["failed"] else 0

    return cli.guarded("train.py", run)


if __name__ == "__main__":
    sys.exit(main())
