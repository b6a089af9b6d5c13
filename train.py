"""Pretrain the Instant-GI network: ``train.py --config configs/net_<name>.py --workdir DIR``.

    python train.py --config configs/net_small.py --workdir runs/small [--dataset-root DIR]
                    [--stop-after N] [--quiet]

Resumes from ``DIR/checkpoints`` when it exists (exactly: model, optimizer, step, data order).
Multi-host GPU clusters: set ``JAX_COORDINATOR_ADDRESS`` (host:port), ``JAX_NUM_PROCESSES`` and
``JAX_PROCESS_ID`` on every host (or run under SLURM / Open MPI, which jax detects) and pass
``--distributed``; every host runs the same command and reads its own slice of each batch.
(Per-image folder fitting: ``evaluate.py --dataset DIR --inits quadtree+solve --steps N``.)
Relative paths inside a config are relative to the repository root (the same command works from
any folder); ``--dataset-root`` and ``IGI_DATASETS`` are relative to the current folder.
Ctrl-C (SIGINT) or SIGTERM stops between steps, lets the checkpoint being written finish and
exits 130 / 143 with one line naming the last checkpoint; the same command resumes.
Exit code 2 for bad arguments, a missing input (datasets, label cache, weights) or a checkpoint
folder none of whose checkpoints restores; nothing is written before the inputs are checked.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys


def _interrupt(signum: int, frame) -> None:
    raise KeyboardInterrupt(signum)


def main(argv: list[str] | None = None) -> int:
    # Until the run installs its own handlers (which stop between steps), SIGTERM interrupts like
    # Ctrl-C: nothing is written before then.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _main(argv)
    except KeyboardInterrupt as e:
        print("train.py: interrupted before training started", file=sys.stderr)
        return 128 + (e.args[0] if e.args else signal.SIGINT)


def _main(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(prog="train.py", description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, help="a configs/net_*.py file")
    p.add_argument("--workdir", required=True, help="checkpoints, metrics.jsonl, curves.png")
    p.add_argument("--dataset-root", help="folder with the dataset folders (default: the config's)")
    p.add_argument("--stop-after", type=int, help="stop after this many steps in total (resumable)")
    p.add_argument(
        "--distributed",
        action="store_true",
        help="call jax.distributed.initialize() (multi-host; needs a coordinator)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)

    if args.distributed or os.environ.get("JAX_COORDINATOR_ADDRESS"):
        from igi_jax.train.distributed import initialize

        initialize()  # must precede any other jax call
    from igi_jax import compile_cache
    from igi_jax.train.config import load, with_data
    from igi_jax.train.loop import Interrupted, train_and_evaluate

    compile_cache.enable_persistent_cache()  # a resumed run does not recompile its steps

    try:
        cfg = load(args.config)
        if args.dataset_root:
            cfg = with_data(cfg, dataset_root=os.path.abspath(args.dataset_root))
        if args.stop_after is not None and args.stop_after < 1:
            raise ValueError(f"--stop-after must be ≥ 1, got {args.stop_after}")
        out = train_and_evaluate(cfg, args.workdir, stop_after=args.stop_after, progress=not args.quiet)
    except ValueError as e:
        print(f"train.py: error: {e}", file=sys.stderr)
        return 2
    except Interrupted as e:
        last = "none" if e.checkpoint is None else f"step {e.checkpoint}"
        print(
            f"train.py: interrupted at step {e.step}; resume with the same command (last checkpoint: {last})",
            file=sys.stderr,
        )
        return 128 + e.signum
    print(f"train.py: step {out['step']}: {out['last_metrics']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
