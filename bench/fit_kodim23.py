"""Issue benchmark: fit kodim23 with 40,000 random-init Gaussians for 2,000 steps on this CPU.

Reports the PSNR reached, the wall time and writes the PSNR-vs-time curve. Measure peak memory
with ``/usr/bin/time -v``. Exact command used for the committed results:

    /usr/bin/time -v python bench/fit_kodim23.py --out bench/results/fit_kodim23       # loaded machine
    /usr/bin/time -v python bench/fit_kodim23.py --out bench/results/fit_kodim23_idle  # idle machine
    /usr/bin/time -v python bench/fit_kodim23.py --out bench/results/fit_kodim23_cells # idle, 8×8 cells
    /usr/bin/time -v python bench/fit_kodim23.py --out bench/results/fit_kodim23_layout # idle, new layout
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

import jax
import matplotlib
import numpy as np
from PIL import Image

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from igi_jax.fit import FitConfig, fit  # noqa: E402
from igi_jax.init import initialize  # noqa: E402

KODAK = pathlib.Path(__file__).resolve().parents[2] / "shared" / "datasets" / "kodak"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default=str(KODAK / "kodim23.png"))
    ap.add_argument("--gaussians", type=int, default=40_000)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--init", default="random-gi")
    ap.add_argument("--out", default="bench/results/fit_kodim23")
    args = ap.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    image = np.asarray(Image.open(args.image).convert("RGB"), np.float32) / 255.0
    t0 = time.perf_counter()
    init = initialize(args.init, image, key=jax.random.key(0), num_gaussians=args.gaussians)
    res = fit(init.gaussians, image, FitConfig(steps=args.steps, log_every=50),
              init_seconds=init.seconds, callback=lambda h: print(h, flush=True))
    wall = time.perf_counter() - t0
    summary = {"image": pathlib.Path(args.image).name, "init": args.init,
               "gaussians": args.gaussians, "steps": res.steps, "final_psnr": res.history[-1]["psnr"],
               "init_seconds": res.init_seconds, "compile_seconds": res.compile_seconds,
               "fit_seconds": res.fit_seconds, "wall_seconds": wall,
               "seconds_per_step": res.fit_seconds / max(res.steps, 1), "capacity": res.capacity,
               "jax": jax.__version__, "history": res.history}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    hist = res.history
    plt.figure(figsize=(6, 4))
    plt.plot([h["seconds"] for h in hist], [h["psnr"] for h in hist], marker=".")
    plt.xlabel("time incl. init (s), 2-core CPU")
    plt.ylabel("PSNR (dB)")
    plt.title(f"{summary['image']}, {args.gaussians:,} G, {args.init} init, Adan 1e-3")
    plt.grid(alpha=0.3)
    plt.tight_layout()
    plt.savefig(out / "psnr_vs_time.png", dpi=120)
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}, indent=1))


if __name__ == "__main__":
    main()
