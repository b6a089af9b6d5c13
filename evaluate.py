"""Measure fits: PSNR / MS-SSIM per image and the mean, as JSON and a Markdown table.

    python evaluate.py --fits DIR [--out DIR]
        re-render every DIR/*/gaussians.npz (or DIR/gaussians.npz) and compare it with the image
        named in its metrics.json; writes eval.json + eval.md to --out (default DIR).
    python evaluate.py --images DIR [--init quadtree] [--steps N] [--config FILE] [--out DIR]
        fit every image in DIR first (nothing saved but the report; default --out out/eval).
    python evaluate.py --dataset DIR [--inits net,net+solve,quadtree+solve,random] [--kernel-size 3,4]
                       [--steps 0,200,2000 | --seconds 2,10,20] [--baseline torch] --out REPORT
        the paper's experiments, resumable (igi_jax/experiments; --dataset --help for every flag).

Exit code 1 if any image failed, 2 for bad arguments.
"""

from __future__ import annotations

import sys
from pathlib import Path

from igi_jax import cli, evaluate, pipeline
from igi_jax.init import INITS
from igi_jax.render.api import BACKENDS


def main(argv: list[str] | None = None, *, persistent_cache: bool | None = None) -> int:
    """Run with ``argv`` (default ``sys.argv[1:]``); the on-disk compilation cache is on when
    ``persistent_cache`` (``None``: when ``argv`` is not given; see ``igi_jax.cli.main``)."""
    if any(a == "--dataset" or a.startswith("--dataset=") for a in (sys.argv[1:] if argv is None else argv)):
        from igi_jax.experiments import cli as experiments_cli  # its own flags (--steps is a list)

        return experiments_cli.main(argv, persistent_cache=persistent_cache)
    parser = cli.Parser(prog="evaluate.py", description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--fits", type=Path, help="folder of fits (from igi fit or train.py)")
    source.add_argument("--images", type=Path, help="folder of images to fit and measure")
    source.add_argument(
        "--dataset",
        type=Path,
        help="the paper's experiments on a folder of images (see 'evaluate.py --dataset DIR --help')",
    )
    parser.add_argument(
        "--config", type=Path, help="with --images: fit config (default configs/fit_default.py)"
    )
    parser.add_argument("--init", choices=INITS, help="with --images: initialisation")
    parser.add_argument("--steps", type=int, help="with --images: optimiser steps")
    parser.add_argument("--backend", choices=BACKENDS, help="render backend (default auto)")
    parser.add_argument("--out", type=Path, help="report folder")
    parser.add_argument("--limit", type=int, help="with --images: only the first N images")
    parser.add_argument(
        "--max-side",
        type=int,
        metavar="N",
        help="with --images: downscale each image so its longer side is at most N px",
    )

    def run() -> int:
        args = parser.parse_args(argv)
        cli.use_persistent_cache(argv is None if persistent_cache is None else persistent_cache)
        if args.fits is not None:
            if any(v is not None for v in (args.config, args.init, args.steps, args.limit, args.max_side)):
                parser.error("--config/--init/--steps/--limit/--max-side apply to --images only")
            report = evaluate.measure_fits(args.fits, backend=args.backend or "auto")
            out = args.out or args.fits
        else:
            options, _ = pipeline.load_config(args.config)
            changes = {"init": args.init, "steps": args.steps, "backend": args.backend}
            options = options.replace(**{k: v for k, v in changes.items() if v is not None})
            if args.limit is not None and args.limit < 1:
                parser.error(f"--limit must be ≥ 1, got {args.limit}")
            report = evaluate.fit_images(args.images, options, limit=args.limit, max_side=args.max_side)
            out = args.out or Path("out/eval")
        paths = evaluate.write_report(out, report, stem="eval")
        print(evaluate.markdown_table(report))
        print(f"wrote {', '.join(map(str, paths))}")
        return 1 if report["failed"] else 0

    return cli.guarded("evaluate.py", run)


if __name__ == "__main__":
    sys.exit(main())
