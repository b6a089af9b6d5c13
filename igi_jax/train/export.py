"""Export a training run's best (or latest) checkpoint as a single-file weights ``.npz``.

    python -m igi_jax.train.export --workdir runs/small --out igi_jax/net/weights/small.npz \
        [--latest | --step N]

The file (:func:`igi_jax.net.save_weights`) records the config, the step, the validation PSNR of
that checkpoint and the run's config in its header.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from igi_jax.init.choices import MAX_SHRINK
from igi_jax.net.weights import save_weights
from igi_jax.train import checkpoint
from igi_jax.train.config import TrainConfig
from igi_jax.train.step import Stepper, net_config


def export(
    workdir: str | Path,
    out: str | Path,
    *,
    best: bool = True,
    step: int | None = None,
    finetune_shrink: float | None = None,
) -> dict:
    """Write ``out`` from ``workdir``'s checkpoint at ``step``, else its best (by validation PSNR)
    or latest. ``finetune_shrink``: the std-dev factor ``igi fit`` applies when it fine-tunes from
    this net (measure it with ``bench/net_shrink.py``; unset, the fit uses
    :data:`igi_jax.init.choices.NET_FINETUNE_SHRINK`)."""
    if finetune_shrink is not None and not (0 < finetune_shrink <= MAX_SHRINK):
        raise ValueError(f"--finetune-shrink must be in (0, {MAX_SHRINK:g}], got {finetune_shrink}")
    mgr = checkpoint.manager(Path(workdir) / "checkpoints")
    if step is not None:
        if step not in mgr.all_steps():
            kept = sorted(mgr.all_steps())
            mgr.close()
            raise ValueError(f"{workdir}: no checkpoint at step {step} (kept: {kept})")
    else:
        step = mgr.best_step() if best else mgr.latest_step()
    if step is None:
        raise ValueError(f"{workdir}: no {'validated ' if best else ''}checkpoint to export")
    ocp_args = checkpoint.ocp.args
    meta = mgr.restore(step, args=ocp_args.Composite(meta=ocp_args.JsonRestore()))["meta"]
    cfg = TrainConfig.from_dict(meta["config"])
    stepper = Stepper(cfg.resolved())  # relative init_weights: to the repository root
    abstract = {"train": stepper.abstract_state, "pending": stepper.abstract_prediction()}
    restored, _, _ = checkpoint.restore(mgr, step, abstract)
    mgr.close()
    record = meta.get("record", {})
    info = {
        "step": step,
        "val_psnr": record.get("val_psnr"),
        "val_gaussians": record.get("val_gaussians"),
        "train_config": cfg.to_dict(),
        **({"finetune_shrink": finetune_shrink} if finetune_shrink is not None else {}),
    }
    save_weights(out, stepper.model(restored["train"]), net_config(cfg), meta=info)
    return info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m igi_jax.train.export", description=__doc__.splitlines()[0])
    p.add_argument("--workdir", required=True)
    p.add_argument("--out", required=True)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--latest", action="store_true", help="the latest checkpoint instead of the best")
    which.add_argument("--step", type=int, help="the checkpoint at this step (it must still be kept)")
    p.add_argument(
        "--finetune-shrink",
        type=float,
        help="std-dev factor for fine-tuning from this net, as measured by bench/net_shrink.py",
    )
    args = p.parse_args(argv)
    try:
        info = export(
            args.workdir, args.out, best=not args.latest, step=args.step, finetune_shrink=args.finetune_shrink
        )
    except ValueError as e:
        print(f"export: error: {e}", file=sys.stderr)
        return 2
    print(f"export: step {info['step']} (val PSNR {info['val_psnr']}) → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
