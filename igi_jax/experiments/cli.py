"""``evaluate.py --dataset DIR ...`` (also ``python -m igi_jax.experiments ...``): the paper's
experiments as one resumable command.

    evaluate.py --dataset DIR [--inits net,net+solve,quadtree+solve,random] [--kernel-size 3,4]
                [--steps 0,200,2000] [--seconds 2,10,20] [--baseline torch] [--weights FILE]
                [--limit N] [--only NAMES] [--downscale F] [--config FILE] [--stop-after DURATION]
                --out REPORT

Writes ``REPORT/results.json`` (resumable: a second run with the same settings skips finished
entries), ``REPORT/report.md`` (means and per-image tables) and the plots (``psnr_vs_time.png``,
``psnr_vs_time_images.png``, ``grid.png``). Inits: see :mod:`igi_jax.experiments.inits`.
``--stop-after`` ends a run cleanly between entries, with exit code 3 while entries are left, so
that a job with a time limit writes its report and a rerun resumes.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from igi_jax import cli, io, pipeline
from igi_jax.experiments import inits as inits_lib
from igi_jax.experiments import plots, report
from igi_jax.experiments.runner import Experiment, Runner

DEFAULT_INITS = ("net", "net+solve", "quadtree+solve", "random")
DEFAULT_OUT = Path("out/experiments")


def shipped_weights() -> Path:
    """Where the package's trained ``small`` weights live (they may not exist yet)."""
    import igi_jax.net

    return Path(igi_jax.net.__file__).parent / "weights" / "small.npz"


def _list(kind: type, text: str) -> tuple:
    try:
        values = tuple(kind(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise io.InputError(f"expected a comma-separated list of {kind.__name__}s, got {text!r}") from None
    if not values:
        raise io.InputError(f"empty list {text!r}")
    repeated = sorted({str(v) for v in values if values.count(v) > 1})
    if repeated:  # a repeated budget would be fitted twice and averaged under one label
        raise io.InputError(f"{text!r} lists {', '.join(repeated)} more than once")
    return values


def parser() -> cli.Parser:
    p = cli.Parser(prog="evaluate.py --dataset", description=__doc__.splitlines()[0])
    p.add_argument("--dataset", type=Path, required=True, help="folder of images")
    p.add_argument(
        "--inits",
        help=f"comma-separated init specs (default {','.join(DEFAULT_INITS)}; "
        f"bases {', '.join(inits_lib.BASES)}, each optionally +solve)",
    )
    p.add_argument("--kernel-size", default="3", help="dithering cells of the net inits, e.g. 3,4")
    p.add_argument("--steps", help="step budgets, e.g. 0,200,2000 (default, unless --seconds)")
    p.add_argument("--seconds", help="wall-clock budgets, init included, e.g. 2,10,20")
    p.add_argument("--baseline", choices=("torch",), help="add the PyTorch GaussianImage rows")
    p.add_argument("--weights", type=Path, help=f"network weights (default {shipped_weights()})")
    p.add_argument("--limit", type=int, help="only the first N images (sorted by name)")
    p.add_argument("--only", help="only these images, by name without extension, e.g. 043,044")
    p.add_argument("--downscale", type=int, default=1, help="box-downscale every image by F")
    p.add_argument("--config", type=Path, help="fit config (default configs/fit_default.py)")
    p.add_argument("--backend", help="render backend (default auto)")
    p.add_argument("--fps-repeats", type=int, default=50, help="renders timed for the FPS")
    p.add_argument("--grid-images", type=int, default=3, help="images kept for the grid plot")
    p.add_argument("--seed", type=int, default=0, help="random-init seed")
    p.add_argument("--torch-threads", type=int, default=1, help="PyTorch threads (0 = its default)")
    p.add_argument(
        "--stop-after",
        metavar="DURATION",
        help="start no new entry after this long (e.g. "
        "5400, 90m, 1.5h: a job's time limit less one entry); exit code 3 while entries are "
        "left, so rerunning resumes",
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"report folder (default {DEFAULT_OUT})")
    return p


def duration(text: str) -> float:
    """Seconds in ``"5400"``, ``"90s"``, ``"90m"`` or ``"1.5h"``."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([smh]?)\s*", text)
    if m is None:
        raise io.InputError(f"--stop-after: expected a duration such as 5400, 90m or 1.5h, got {text!r}")
    return float(m[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[m[2]]


def _results_argv(argv: list[str]) -> list[str]:
    """``argv`` without ``--stop-after``, which changes when a run stops, not its results (the
    command is printed in the report; resumed runs then show one command)."""
    out, skip = [], False
    for a in argv:
        name = a.split("=", 1)[0]
        if skip:
            skip = False
        elif len(name) >= len("--sto") and "--stop-after".startswith(name):  # argparse takes prefixes
            skip = "=" not in a
        else:
            out.append(a)
    return out


def experiment_from_args(args) -> Experiment:
    """Build the :class:`Experiment` (validated) from parsed arguments."""
    weights = args.weights
    if weights is None and shipped_weights().exists():
        weights = shipped_weights()
    inits = (
        _list(str, args.inits)
        if args.inits
        else (DEFAULT_INITS if weights is not None else ("quadtree+solve", "random"))
    )
    try:
        specs = [inits_lib.parse_spec(s) for s in inits]
    except ValueError as e:
        raise io.InputError(str(e)) from None
    if any(s.uses_net for s in specs) and weights is None:
        raise io.InputError(
            f"inits {', '.join(s.name for s in specs if s.uses_net)} need network weights: "
            f"pass --weights FILE ({shipped_weights()} does not exist yet)"
        )
    if weights is not None and not Path(weights).is_file():
        raise io.InputError(f"weights file not found: {weights}")
    options, _ = pipeline.load_config(args.config)
    fit_cfg = (
        options.fit
        if args.backend is None
        else options.fit.__class__(**{**options.fit.__dict__, "backend": args.backend})
    )
    steps = _list(int, args.steps) if args.steps else (() if args.seconds else (0, 200, 2000))
    seconds = _list(float, args.seconds) if args.seconds else ()
    ks = _list(int, args.kernel_size)
    if any(k not in (3, 4, 5) for k in ks):
        raise io.InputError(f"--kernel-size values must be 3, 4 or 5, got {args.kernel_size}")
    if args.limit is not None and args.limit < 1:
        raise io.InputError(f"--limit must be ≥ 1, got {args.limit}")
    try:
        return Experiment(
            dataset=args.dataset,
            inits=tuple(s.name for s in specs),
            kernel_sizes=ks,
            steps=steps,
            seconds=seconds,
            fit=fit_cfg,
            weights=weights,
            baseline=args.baseline,
            downscale=args.downscale,
            limit=args.limit,
            only=_list(str, args.only) if args.only else None,
            fps_repeats=args.fps_repeats,
            grid_images=args.grid_images,
            seed=args.seed,
            backend=fit_cfg.backend,
            torch_threads=args.torch_threads or None,
        )
    except ValueError as e:
        raise io.InputError(str(e)) from None


def run(argv: list[str]) -> int:
    """Parse ``argv``, run (resuming), write the report and plots; returns the exit code."""
    args = parser().parse_args(argv)
    exp = experiment_from_args(args)
    if not args.dataset.is_dir():
        raise io.InputError(f"{args.dataset}: not a directory")
    stop_after = duration(args.stop_after) if args.stop_after is not None else None
    runner = Runner(exp, args.out, command=["evaluate.py", *_results_argv(argv)], stop_after=stop_after)
    try:
        data = runner.run()
    except KeyboardInterrupt:
        print(
            f"evaluate.py: interrupted; the {len(runner.store.entries)} finished entries are in "
            f"{args.out / 'results.json'}; run the same command again to resume",
            file=sys.stderr,
        )
        return 130
    text = report.markdown(data)
    io.atomic_write(args.out / "report.md", lambda f: f.write(text.encode()))
    written = plots.write_all(args.out)
    print(report.means_table(data))
    print(
        f"{runner.fitted} entries computed, {len(data['entries']) - runner.fitted} reused; wrote "
        f"{args.out / 'results.json'}, {args.out / 'report.md'}, {', '.join(p.name for p in written)}"
    )
    if runner.left:
        print(
            f"evaluate.py: stopped after {args.stop_after} (--stop-after) with {runner.left} entries left; "
            "run the same command again to resume",
            file=sys.stderr,
        )
        return 3
    return 0


def main(argv: list[str] | None = None, *, persistent_cache: bool | None = None) -> int:
    """Entry point; the on-disk compilation cache is on when ``persistent_cache`` (``None``: when
    ``argv`` is not given, as ``igi``)."""
    args = sys.argv[1:] if argv is None else list(argv)
    cli.use_persistent_cache(argv is None if persistent_cache is None else persistent_cache)
    return cli.guarded("evaluate.py", lambda: run(args))
