"""Export a training run's best (or latest) checkpoint as a single-file weights ``.npz``.

    python -m igi_jax.train.export --workdir runs/small --out igi_jax/net/weights/small.npz \
        [--latest | --step N] [--finetune-shrink F] [--ppm-scale S]
    python -m igi_jax.train.export --weights IN.npz --out OUT.npz [--finetune-shrink F] [--ppm-scale S]

The file (:func:`igi_jax.net.save_weights`) records the config, the step, the validation PSNR of
that checkpoint and the run's config in its header, and the two inference settings measured for
this net: its fine-tune shrink and its PPM scale. ``--weights`` re-writes an exported file with
those settings (the same arrays, the rest of its header kept), for a step whose checkpoint is gone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from igi_jax.init.choices import MAX_SHRINK, check_ppm_scale
from igi_jax.io import InputError
from igi_jax.net.weights import load_weights, read_header, save_weights
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
    ppm_scale: float | None = None,
) -> dict:
    """Write ``out`` from ``workdir``'s checkpoint at ``step``, else its best (by validation PSNR)
    or latest. ``finetune_shrink``: the std-dev factor ``igi fit`` applies when it fine-tunes from
    this net (measure it with ``bench/net_shrink.py``; unset, the fit uses
    :data:`igi_jax.init.choices.NET_FINETUNE_SHRINK`). ``ppm_scale``: the factor on its PPM before
    dithering, applied by every ``net`` init (unset: 1)."""
    settings = _settings(finetune_shrink, ppm_scale)
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
        **settings,
    }
    save_weights(out, stepper.model(restored["train"]), net_config(cfg), meta=info)
    return info


def restamp(
    weights: str | Path,
    out: str | Path,
    *,
    finetune_shrink: float | None = None,
    ppm_scale: float | None = None,
) -> dict:
    """Write ``out``: ``weights``' arrays and header, with these inference settings set (the others
    kept). Returns the new header's ``meta``."""
    settings = _settings(finetune_shrink, ppm_scale)
    if not settings:
        raise ValueError("give --finetune-shrink and/or --ppm-scale to re-write a weights file")
    meta = {**read_header(weights).get("meta", {}), **settings}
    save_weights(out, load_weights(weights), meta=meta)
    return meta


def _settings(finetune_shrink: float | None, ppm_scale: float | None) -> dict:
    if finetune_shrink is not None and not (0 < finetune_shrink <= MAX_SHRINK):
        raise ValueError(f"--finetune-shrink must be in (0, {MAX_SHRINK:g}], got {finetune_shrink}")
    if ppm_scale is not None:
        check_ppm_scale(ppm_scale)
    return {
        **({"finetune_shrink": finetune_shrink} if finetune_shrink is not None else {}),
        **({"ppm_scale": ppm_scale} if ppm_scale is not None else {}),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m igi_jax.train.export", description=__doc__.splitlines()[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--workdir", help="a training run's folder (its checkpoints)")
    source.add_argument("--weights", help="an exported weights file to re-write with new settings")
    p.add_argument("--out", required=True)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--latest", action="store_true", help="the latest checkpoint instead of the best")
    which.add_argument("--step", type=int, help="the checkpoint at this step (it must still be kept)")
    p.add_argument(
        "--finetune-shrink",
        type=float,
        help="std-dev factor for fine-tuning from this net, as measured by bench/net_shrink.py",
    )
    p.add_argument("--ppm-scale", type=float, help="factor on this net's PPM before dithering (its count)")
    args = p.parse_args(argv)
    settings = {"finetune_shrink": args.finetune_shrink, "ppm_scale": args.ppm_scale}
    try:
        if args.weights is not None:
            if args.latest or args.step is not None:
                raise ValueError("--latest and --step choose a checkpoint of --workdir, not of --weights")
            info = restamp(args.weights, args.out, **settings)
        else:
            info = export(args.workdir, args.out, best=not args.latest, step=args.step, **settings)
    except (ValueError, InputError, FileNotFoundError) as e:
        print(f"export: error: {e}", file=sys.stderr)
        return 2
    print(f"export: step {info.get('step')} (val PSNR {info.get('val_psnr')}) → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
