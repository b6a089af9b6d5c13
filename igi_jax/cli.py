"""The ``igi`` command line: fit an image, re-render a fit at any resolution, inspect a fit.

    igi fit IMAGE [--init quadtree|net|random|random-gi] [--steps S | --seconds T] [--out DIR] ...
    igi render GAUSSIANS.npz [--scale 2] [--out PNG]
    igi info GAUSSIANS.npz | FILE.igi
    igi compress IMAGE [--init ...] [--steps S | --seconds T] [--qat-steps Q] [--out FILE.igi]
    igi decompress FILE.igi [--scale 2] [--out PNG]

Errors a user can cause (bad files, bad flags, absurd sizes) print one line
``igi: error: ...`` on stderr and exit with code 2 (1 for operating-system I/O failures); no
traceback, and no outputs: every command writes only at the very end, all-or-nothing
(:func:`igi_jax.io.write_outputs`). Set ``IGI_DEBUG=1`` to get the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

# Only light modules at the top: JAX is imported by the commands that need it, not for --help.
from igi_jax import interrupt
from igi_jax.cli_names import BACKENDS, DEFAULT_INIT, DEFAULT_STEPS, INITS, KINDS, UNLIMITED_STEPS
from igi_jax.errors import FitDivergedError, InputError

if TYPE_CHECKING:
    from igi_jax import one_image

SOLVE_COLORS_ITERS = 20  # `--solve-colors` without a value
# The options' field names as the user typed them, so that an error names the flag.
FLAGS = {
    "num_gaussians": "--gaussians",
    "warmup_steps": "--warmup",
    "solve_colors": "--solve-colors",
    "kernel_size": "--kernel-size",
    "net_shrink": "--net-shrink",
    "log_every": "--log-every",
    "max_side": "--max-side",
    **{k: f"--{k}" for k in ("seed", "lr", "steps", "seconds")},  # the rest: argparse's choices
}


def in_flags(message: str, fields) -> str:
    """``message`` with the option ``fields`` the user set renamed to their flags."""
    names = [f for f in fields if f in FLAGS]
    if not names:
        return message
    return re.sub(rf"\b({'|'.join(map(re.escape, names))})\b", lambda m: FLAGS[m[1]], message)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (raised, so :func:`main` formats it like the rest)."""

    def error(self, message: str):
        raise InputError(f"{message} (see '{self.prog} --help')")


def _count(text: str) -> int:
    try:
        return int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def add_fit_arguments(p: argparse.ArgumentParser) -> None:
    """The flags that decide a fit (init, budget, optimiser, net options), shared by ``fit`` and
    ``compress``; :func:`_fit_options` reads them."""
    p.add_argument(
        "--config", type=Path, help="config file with get_config() (default: configs/fit_default.py)"
    )
    p.add_argument("--init", choices=INITS, help=f"initialisation (default {DEFAULT_INIT})")
    p.add_argument(
        "--gaussians",
        type=_count,
        metavar="N",
        help="number of Gaussians: random inits (default one per 10 pixels) and quadtree (default its own)",
    )
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=_count, help=f"optimiser steps (default {DEFAULT_STEPS})")
    budget.add_argument("--seconds", type=float, help="time budget in seconds, init included")
    p.add_argument(
        "--max-side",
        type=_count,
        metavar="N",
        help="downscale the image on load so that its longer side is at most N pixels",
    )
    p.add_argument("--kind", choices=KINDS, help="covariance parameterization (default rs)")
    p.add_argument("--optimizer", choices=("adan", "adam"))
    p.add_argument("--lr", type=float, help="learning rate (default 1e-3)")
    p.add_argument(
        "--warmup",
        type=int,
        metavar="STEPS",
        help="ramp the learning rate linearly over the first STEPS (0 = none)",
    )
    p.add_argument("--loss", choices=("l2", "l2+dssim"))
    p.add_argument(
        "--solve-colors",
        type=_count,
        nargs="?",
        const=SOLVE_COLORS_ITERS,
        metavar="ITERS",
        help=f"least-squares colours after the init, ITERS CG iterations ({SOLVE_COLORS_ITERS} "
        "if no value; 0 = off; default: the init's own, on after quadtree and net)",
    )
    p.add_argument("--seed", type=int, help="PRNG seed of the random inits (default 0)")
    p.add_argument(
        "--weights",
        type=Path,
        metavar="FILE",
        help="network weights (.npz or orbax dir) for --init net (default: the shipped ones)",
    )
    p.add_argument(
        "--kernel-size",
        type=int,
        choices=(3, 4, 5),
        help="dithering cell size of --init net: 3 (default), 4 or 5 give fewer Gaussians",
    )
    p.add_argument(
        "--net-shrink",
        type=float,
        metavar="F",
        help="--init net: factor on the predicted Gaussian widths (default 0.8 when fitting, "
        "which fine-tunes faster; 1 with --steps 0: the network's own)",
    )
    p.add_argument("--backend", choices=BACKENDS, help="render backend (default auto)")
    p.add_argument("--log-every", type=_count, metavar="K", help="steps between progress updates")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="igi", description="Instant GaussianImage in JAX: fit images with 2D Gaussians.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser(
        "fit",
        help="fit Gaussians to an image",
        description=(
            "Fit an image; writes gaussians.npz, render.png, metrics.json and psnr_vs_time.png to "
            "--out. Defaults come from configs/fit_default.py when it exists, flags override them."
        ),
    )
    p.add_argument("image", type=Path)
    add_fit_arguments(p)
    p.add_argument("--out", type=Path, help="output directory (default out/<image stem>/)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the outputs already in --out (the whole folder: no stale file stays)",
    )
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("render", help="re-render a fit at any resolution")
    p.add_argument("gaussians", type=Path, metavar="GAUSSIANS.npz")
    p.add_argument("--scale", type=float, default=1.0, help="size factor, e.g. 2 or 0.5 (default 1)")
    p.add_argument("--out", type=Path, help="output PNG (default: next to the input, render_x<scale>.png)")
    p.add_argument("--backend", choices=BACKENDS, default="auto")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("info", help="describe a Gaussians file or an .igi file")
    p.add_argument("gaussians", type=Path, metavar="GAUSSIANS.npz|FILE.igi")
    p.set_defaults(func=cmd_info)

    from igi_jax.codec import cli as codec_cli  # light: it imports JAX only when a command runs

    codec_cli.add_parsers(sub, add_fit_arguments)
    return parser


# ---------------------------------------------------------------------------------------------
# fit


def _fit_options(args: argparse.Namespace) -> one_image.FitOptions:
    from igi_jax import one_image

    options, notes = one_image.load_config(args.config)
    for note in notes:
        print(f"igi: note: {note}", file=sys.stderr)
    flags = {
        "init": args.init,
        "num_gaussians": args.gaussians,
        "kind": args.kind,
        "seed": args.seed,
        "solve_colors": args.solve_colors,
        "optimizer": args.optimizer,
        "lr": args.lr,
        "warmup_steps": args.warmup,
        "loss": args.loss,
        "backend": args.backend,
        "weights": None if args.weights is None else str(args.weights),
        "kernel_size": args.kernel_size,
        "net_shrink": args.net_shrink,
    }
    changes = {k: v for k, v in flags.items() if v is not None}
    if args.seconds is not None:
        changes.update(seconds=args.seconds, steps=UNLIMITED_STEPS)
    elif args.steps is not None:
        changes.update(steps=args.steps, seconds=None)
    if args.kernel_size is not None and (args.init or options.init) != "net":
        raise InputError(f"--kernel-size applies to --init net only, not {args.init or options.init!r}")
    try:
        options = options.replace(**changes)
        if args.max_side is not None and args.max_side < 2:
            raise InputError(f"max_side must be at least 2 pixels, got {args.max_side}")
        one_image.check_options(options)
    except InputError as e:
        raise InputError(in_flags(str(e), [*changes, "max_side"])) from None
    if args.log_every is not None:
        log_every = args.log_every
    elif options.fit.seconds is not None:
        log_every = 10  # the budget is checked between blocks: keep them short
    else:  # ~20 progress updates, but no more than the config's interval
        log_every = min(options.fit.log_every, max(10, options.fit.steps // 20))
    try:
        return options.replace(log_every=log_every)
    except InputError as e:
        raise InputError(in_flags(str(e), ["log_every"])) from None


def _check_out_dir(out: Path, shown: Path | None = None) -> None:
    """Fail before a long fit or render, not after, if ``out`` cannot become an output directory;
    the error names ``shown`` (default ``out``), what the user passed as ``--out``."""
    shown = out if shown is None else shown
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {shown}: {out} exists and is not a directory")
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"--out {shown}: cannot create or write in {parent}")


def cmd_fit(args: argparse.Namespace) -> int:
    from igi_jax import io, one_image
    from igi_jax.outdir import OutputDir
    from igi_jax.progress import Progress

    options = _fit_options(args)
    if not args.image.is_file():  # before compiling anything; load_image says what is wrong
        io.load_image(args.image)
    out = args.out if args.out is not None else Path("out") / args.image.stem
    _check_out_dir(out)
    seconds = options.fit.seconds
    progress = Progress(
        options.fit.steps, seconds=seconds, enabled=not args.quiet, label=f"{options.init} init"
    )
    done = {"step": None}  # the last step reported, for the interruption message

    def on_entry(entry) -> None:
        done["step"] = int(entry["step"])
        progress.on_entry(entry)

    with OutputDir(out, overwrite=args.overwrite) as claim:  # claimed before the work, not after
        try:
            run = one_image.fit_image(
                args.image,
                options,
                max_side=args.max_side,
                on_start=progress.on_start,
                on_init=progress.on_init,
                callback=on_entry,
            )
        except KeyboardInterrupt as e:
            e.where = " before the fit's first step" if done["step"] is None else f" at step {done['step']}"
            raise
        finally:
            progress.close()
        written = claim.write(one_image.fit_writers(run))
    s = run.summary()
    ms = f"{s['ms_ssim']:.4f}" if s["ms_ssim"] is not None else "n/a (image too small)"
    print(
        f"PSNR {s['psnr']:.2f} dB, MS-SSIM {ms}; {s['num_gaussians']:,} Gaussians, {s['steps']} steps; "
        f"{s['total_seconds']:.1f} s = init {s['init_seconds']:.1f} + compile {s['compile_seconds']:.1f} "
        f"+ fit {s['fit_seconds']:.1f}"
    )
    print(f"wrote {out}/: {' '.join(p.name for p in written)}")
    return 0


# ---------------------------------------------------------------------------------------------
# render / info


def cmd_render(args: argparse.Namespace) -> int:
    from igi_jax import gaussians_file, io, one_image
    from igi_jax.render import rescale

    one_image.check_backend(args.backend)
    g = gaussians_file.load_gaussians(args.gaussians)
    height, width = rescale.rescaled_size(g.height, g.width, args.scale)  # validate before rendering
    out = args.out if args.out is not None else args.gaussians.parent / f"render_x{args.scale:g}.png"
    if out.is_dir():
        raise InputError(f"--out {out} is a directory; give a .png file name")
    _check_out_dir(out.parent, shown=out)  # before the render, which may take a while
    image = rescale.render_at_scale(g, args.scale, backend=args.backend)
    io.write_outputs(out.parent, {out.name: io.png_writer(np.asarray(image))})
    print(f"wrote {out} ({width}×{height} px, scale {args.scale:g} of {g.width}×{g.height})")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from igi_jax import gaussians_file
    from igi_jax.codec import cli as codec_cli

    if codec_cli.is_igi(args.gaussians):
        return codec_cli.cmd_info(args.gaussians)

    f = gaussians_file.read_gaussians(args.gaussians)
    print("\n".join(gaussians_file.describe(f, args.gaussians)))
    return 0


# ---------------------------------------------------------------------------------------------


def guarded(prog: str, fn: Callable[[], int]) -> int:
    """Run ``fn`` with user errors turned into one line on stderr and an exit code.

    0 ok, 1 operating-system I/O failure, 2 usage/input error or a diverged fit, 130 SIGINT
    (Ctrl-C), 143 SIGTERM (both unwind, so the output lock and temp files are removed).
    ``IGI_DEBUG=1`` re-raises instead (for a traceback). Only :class:`~igi_jax.errors.InputError`,
    :class:`~igi_jax.errors.FitDivergedError` and ``OSError`` are user errors; any other exception
    (a plain ``ValueError`` included) is a bug and propagates with its traceback.
    """
    try:
        with interrupt.signals_raise():
            return fn()
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else 0
    except KeyboardInterrupt as e:
        name, code = interrupt.describe(e)
        where = getattr(e, "where", "")  # set by the command that knows (igi fit: the step)
        print(f"{prog}: interrupted ({name}){where}; nothing was written", file=sys.stderr)
        return code
    except (InputError, FitDivergedError, OSError) as e:  # any other exception is a bug: traceback
        if os.environ.get("IGI_DEBUG"):
            raise
        message = " ".join(str(e).split("\n")) or type(e).__name__
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 1 if isinstance(e, OSError) else 2


def use_persistent_cache(enabled: bool) -> None:
    """Turn on JAX's on-disk compilation cache (see :mod:`igi_jax.compile_cache`) if ``enabled``."""
    if enabled:
        from igi_jax import compile_cache

        compile_cache.enable_persistent_cache()


def main(argv: list[str] | None = None, *, persistent_cache: bool | None = None) -> int:
    """Run ``igi`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code.

    ``persistent_cache``: use the on-disk compilation cache (``$IGI_JAX_CACHE_DIR``, default
    ``~/.cache/igi-jax/jax``; ``IGI_JAX_CACHE_DIR=0`` turns it off). ``None`` = on for the
    console script (``argv`` not given), off for in-process calls such as the tests.
    """

    def run() -> int:
        args = build_parser().parse_args(argv)
        use_persistent_cache(argv is None if persistent_cache is None else persistent_cache)
        return args.func(args)

    return guarded("igi", run)


if __name__ == "__main__":
    sys.exit(main())
