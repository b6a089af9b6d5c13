"""evaluate.py: every evaluation through one runner (igi_jax.experiments.runner.Runner).

    evaluate.py --config configs/experiments/NAME.py [--stop-after DURATION] [--out DIR] [overrides]
        a paper experiment, as configured (``igi_jax.experiments.config.Experiment``);
    evaluate.py --dataset DIR [--inits net,net+solve,quadtree+solve,random] [--kernel-size 3,4]
                [--steps 0,200,2000] [--seconds 2,10,20] [--baseline torch] [--weights FILE]
                [--limit N] [--only NAMES] [--downscale F] [--fit-config FILE] --out REPORT
        an ad-hoc experiment from flags (the same dataclass; e.g. ``--inits quadtree+solve
        --steps 500`` fits and measures a folder);
    evaluate.py --fits DIR [--out DIR]
        re-render saved fits (``igi fit`` outputs) and measure them (:mod:`igi_jax.evaluate`).

An experiment writes ``REPORT/results.json`` (resumable: a second run with the same settings skips
finished entries), ``REPORT/report.md`` (means and per-image tables) and the plots
(``psnr_vs_time.png``, ``psnr_vs_time_images.png``, ``grid.png``). Inits: :mod:`igi_jax.init`.
``--stop-after`` ends a run cleanly between entries, with exit code 3 while entries are left, so
that a job with a time limit writes its report and a rerun resumes. A run needs a clean checkout
(its results name their commit) unless ``--allow-dirty``.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

from igi_jax import cli, evaluate, interrupt, io, one_image
from igi_jax.experiments import plots, rd_report, report, tables
from igi_jax.experiments.config import REPO, Experiment, load_experiment, shipped_weights
from igi_jax.experiments.rd import RateDistortion, RDRunner
from igi_jax.experiments.runner import Runner
from igi_jax.init import BASES
from igi_jax.render.api import BACKENDS

DEFAULT_OUT = "out/experiments"


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
    p = cli.Parser(prog="evaluate.py", description=__doc__.splitlines()[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="experiment config (configs/experiments/*.py)")
    source.add_argument("--dataset", type=Path, help="folder of images (an ad-hoc experiment)")
    source.add_argument("--fits", type=Path, help="folder of saved fits to re-measure")
    p.add_argument(
        "--inits", help=f"comma-separated init specs (bases {', '.join(BASES)}, each optionally +solve)"
    )
    p.add_argument("--kernel-size", help="dithering cells of the net inits, e.g. 3,4")
    p.add_argument("--steps", help="step budgets, e.g. 0,200,2000 (default, unless --seconds)")
    p.add_argument("--seconds", help="wall-clock budgets, init included, e.g. 2,10,20")
    p.add_argument("--baseline", choices=("torch",), help="add the PyTorch GaussianImage rows")
    p.add_argument("--weights", type=Path, help="network weights (default: the shipped ones)")
    p.add_argument("--limit", type=int, help="only the first N images (sorted by name)")
    p.add_argument("--only", help="only these images, by name without extension, e.g. 043,044")
    p.add_argument("--downscale", type=int, help="box-downscale every image by F")
    p.add_argument("--fit-config", type=Path, help="fit config (default configs/fit_default.py)")
    p.add_argument("--backend", choices=BACKENDS, help="render backend (default auto)")
    p.add_argument("--fps-repeats", type=int, help="renders timed for the FPS (default 50)")
    p.add_argument("--grid-images", type=int, help="images kept for the grid plot (default 3)")
    p.add_argument("--seed", type=int, help="random-init seed")
    p.add_argument("--torch-threads", type=int, help="PyTorch threads (default 1; 0 = its default)")
    p.add_argument(
        "--stop-after",
        metavar="DURATION",
        help="start no new entry after this long (e.g. "
        "5400, 90m, 1.5h: a job's time limit less one entry); exit code 3 while entries are "
        "left, so rerunning resumes",
    )
    p.add_argument("--allow-dirty", action="store_true", help="run from a checkout with uncommitted changes")
    p.add_argument("--out", type=Path, help=f"report folder (default: the config's, else {DEFAULT_OUT})")
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


def experiment_from_args(args) -> Experiment | RateDistortion:
    """The :class:`Experiment` of ``--config`` (or the defaults, for ``--dataset``), with every
    flag given overriding its field."""
    if args.config is not None:
        base = load_experiment(args.config)
        if isinstance(base, RateDistortion):
            return _rd_from_args(base, args)
    else:
        default_inits = Experiment.inits if _shipped_or(args.weights) else ("quadtree+solve", "random")
        base = Experiment(dataset=str(args.dataset), inits=default_inits, out=DEFAULT_OUT)
    changes = {
        "inits": args.inits and _list(str, args.inits),
        "kernel_sizes": args.kernel_size and _list(int, args.kernel_size),
        "steps": args.steps and _list(int, args.steps),
        "seconds": args.seconds and _list(float, args.seconds),
        "baseline": args.baseline,
        "weights": args.weights and str(args.weights),
        "limit": args.limit,
        "only": args.only and _list(str, args.only),
        "downscale": args.downscale,
        "fit": args.fit_config and one_image.load_config(args.fit_config)[0].fit,
        "backend": args.backend,
        "fps_repeats": args.fps_repeats,
        "grid_images": args.grid_images,
        "seed": args.seed,
        "torch_threads": args.torch_threads,
        "out": args.out and str(args.out.absolute()),
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    if args.steps is None and args.seconds is not None and args.config is None:
        changes["steps"] = ()  # --seconds alone: no step budgets
    if args.torch_threads == 0:  # PyTorch's own default
        changes["torch_threads"] = None
    try:
        return dataclasses.replace(base, **changes)
    except ValueError as e:
        raise io.InputError(str(e)) from None


def _rd_from_args(base: RateDistortion, args) -> RateDistortion:
    """A rate–distortion config with ``--limit`` / ``--only`` / ``--out`` applied (no other flag
    means anything there)."""
    given = [
        f"--{k.replace('_', '-')}"
        for k, v in vars(args).items()
        if v not in (None, False) and k not in ("config", "limit", "only", "out", "stop_after", "allow_dirty")
    ]
    if given:
        raise io.InputError(
            f"a rate–distortion config takes --limit, --only and --out, not {', '.join(given)}"
        )
    changes = {"limit": args.limit, "only": args.only and _list(str, args.only)}
    changes["out"] = args.out and str(args.out.absolute())
    try:
        return dataclasses.replace(base, **{k: v for k, v in changes.items() if v is not None})
    except ValueError as e:
        raise io.InputError(str(e)) from None


def _shipped_or(weights: Path | None) -> bool:
    """Whether a network is at hand: ``weights`` given, or the shipped ones installed."""
    return weights is not None or shipped_weights().exists()


def _command(argv: list[str]) -> list[str]:
    """The command to record: ``argv`` without ``--stop-after``, paths inside the repository made
    relative to it (a result holds no absolute path)."""
    out = []
    for a in _results_argv(argv):
        p = Path(a)
        if p.is_absolute() and p.resolve().is_relative_to(REPO):
            a = p.resolve().relative_to(REPO).as_posix()
        out.append(a)
    return ["evaluate.py", *out]


def run_experiment(
    exp: Experiment | RateDistortion, argv: list[str], *, stop_after: str | None, allow_dirty: bool
) -> int:
    """Run ``exp`` (resuming), write its report and plots; returns the exit code."""
    seconds = duration(stop_after) if stop_after is not None else None
    if isinstance(exp, RateDistortion):
        runner = RDRunner(exp, command=_command(argv), stop_after=seconds, allow_dirty=allow_dirty)
    else:
        runner = Runner(exp, command=_command(argv), stop_after=seconds, allow_dirty=allow_dirty)
    out = runner.out
    try:
        data = runner.run()
    except KeyboardInterrupt as e:
        name, code = interrupt.describe(e)
        print(
            f"evaluate.py: interrupted ({name}); the {len(runner.store.entries)} finished entries are in "
            f"{out / 'results.json'}; run the same command again to resume",
            file=sys.stderr,
        )
        return code
    if isinstance(exp, RateDistortion):
        written = rd_report.write(out, data, title=f"Rate–distortion: {exp.name}")
        print(rd_report.markdown(data))
    else:
        text = report.markdown(data)
        io.atomic_write(out / "report.md", lambda f: f.write(text.encode()))
        written = plots.write_all(out)
        print(tables.means_table(data))
    print(
        f"{runner.fitted} entries computed, {len(data['entries']) - runner.fitted} reused; wrote "
        f"{out / 'results.json'}, {out / 'report.md'}, {', '.join(p.name for p in written)}"
    )
    if runner.failed:  # one line per image, after the others' results: the batch went on
        for reason in runner.failed.values():
            print(f"evaluate.py: error: {reason}; it has no entries", file=sys.stderr)
        return 2
    if runner.left:
        print(
            f"evaluate.py: stopped after {stop_after} (--stop-after) with {runner.left} entries left; "
            "run the same command again to resume",
            file=sys.stderr,
        )
        return 3
    return 0


def measure_fits(args) -> int:
    """``--fits DIR``: re-measure saved fits; writes ``eval.json`` and ``eval.md``."""
    given = [
        k for k, v in vars(args).items() if v not in (None, False) and k not in ("fits", "out", "backend")
    ]
    if given:
        raise io.InputError(f"--fits takes only --out and --backend, not {', '.join(sorted(given))}")
    result = evaluate.measure_fits(args.fits, backend=args.backend or "auto")
    paths = evaluate.write_report(args.out or args.fits, result, stem="eval")
    print(evaluate.markdown_table(result))
    print(f"wrote {', '.join(map(str, paths))}")
    return 1 if result["failed"] else 0


def run(argv: list[str]) -> int:
    """Parse ``argv`` and evaluate; returns the exit code."""
    args = parser().parse_args(argv)
    if args.fits is not None:
        return measure_fits(args)
    if args.dataset is not None and not args.dataset.is_dir():
        raise io.InputError(f"{args.dataset}: not a directory")
    exp = experiment_from_args(args)
    return run_experiment(exp, argv, stop_after=args.stop_after, allow_dirty=args.allow_dirty)


def main(argv: list[str] | None = None, *, persistent_cache: bool | None = None) -> int:
    """Entry point; the on-disk compilation cache is on when ``persistent_cache`` (``None``: when
    ``argv`` is not given, as ``igi``)."""
    args = sys.argv[1:] if argv is None else list(argv)
    cli.use_persistent_cache(argv is None if persistent_cache is None else persistent_cache)
    return cli.guarded("evaluate.py", lambda: run(args))
