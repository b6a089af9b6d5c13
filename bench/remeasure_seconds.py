"""Re-measure the wall-clock budgets of a ``results.json`` made before the seconds rule changed.

Until commit "fit: cut the last block of a seconds budget", a budget of T seconds ran whole
10-step blocks and stopped at the first block end past T, up to a block late (on Kodak: the 2 s
cells were read at 2.2-3.1 s, later for the inits whose steps are slow). Now the blocks are cut
to the time left (``igi_jax.fit.block_steps``). Such results are refused on resume (their
settings lack ``seconds_blocks``); this script brings them up to date in place: for every JAX
entry it rebuilds the init (deterministic; its Gaussian count is checked), starts the clock at
the entry's recorded init time, as the step budgets did, re-runs the seconds fits and replaces
their records and ``history_seconds``. The step budgets, FPS and wall time are kept (they do
not depend on the rule). Saved atomically after every entry: rerun to go on after a stop.

    python bench/remeasure_seconds.py bench/results/eval_kodak
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from igi_jax import io  # noqa: E402
from igi_jax.experiments import cli, runner, store  # noqa: E402
from igi_jax.experiments import inits as inits_lib  # noqa: E402
from igi_jax.net import load_weights  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="the evaluation folder (holds results.json)")
    args = ap.parse_args(argv)
    path = (args.out / "results.json").resolve()
    data = store.load(path)
    command = data["runs"][0]["command"]
    os.chdir(ROOT)  # the recorded command's relative paths are from the repository root
    exp = cli.experiment_from_args(cli.parser().parse_args(command[1:]))
    want = json.loads(json.dumps(exp.settings()))
    have = {k: v for k, v in data["settings"].items() if k != "seconds_blocks"}
    if {k: v for k, v in want.items() if k != "seconds_blocks"} != have:
        raise SystemExit(f"{path}: its settings differ from its recorded command's: not re-measured")
    if not exp.seconds:
        raise SystemExit(f"{path}: no seconds budgets")
    if any(e["impl"] != "jax" for e in data["entries"]):
        raise SystemExit(f"{path}: has PyTorch rows; only JAX rows can be re-measured here")
    seconds_only = dataclasses.replace(exp, steps=())
    model = load_weights(exp.weights) if exp.weights is not None else None
    paths = {p.stem: p for p in runner.dataset_images(exp)}
    todo = [e for e in data["entries"] if e.get("seconds_blocks") != runner.SECONDS_BLOCKS]
    print(f"{path}: {len(todo)} of {len(data['entries'])} entries to re-measure", flush=True)
    for e in todo:
        t0 = time.perf_counter()
        image = runner.load_dataset_image(paths[e["image"]], exp.downscale)
        spec = inits_lib.parse_spec(e["init"])
        count = e["gaussians"] if spec.base.startswith("random") else None
        init = inits_lib.run_init(
            spec, image, k=e["k"] or 3, model=model, num_gaussians=count, seed=exp.seed, backend=exp.backend
        )
        if init.gaussians.num_live() != e["gaussians"]:
            raise SystemExit(
                f"{e['image']} {e['init']}: the init gave {init.gaussians.num_live()} "
                f"Gaussians, the entry {e['gaussians']}"
            )
        records, extra = runner.fit_budgets(init.gaussians, image, e["init_seconds"], seconds_only)
        e["budgets"] = [r for r in e["budgets"] if "steps" in r["budget"]] + records
        e["history_seconds"] = extra["history_seconds"]
        e["seconds_blocks"] = runner.SECONDS_BLOCKS
        e["seconds_remeasured"] = {"wall_seconds": time.perf_counter() - t0, "loadavg": os.getloadavg()[0]}
        if all(x.get("seconds_blocks") == runner.SECONDS_BLOCKS for x in data["entries"]):
            data["settings"]["seconds_blocks"] = runner.SECONDS_BLOCKS
        io.atomic_write(path, io.json_writer(data))
        first = records[0]
        print(
            f"{e['image']} {e['init']} k={e['k']}: {first['psnr']:.2f} dB at {first['seconds']:.2f} s "
            f"({first['steps']} steps)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
