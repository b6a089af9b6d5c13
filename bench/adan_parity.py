"""Issue 13's table, re-made: the PyTorch GaussianImage baseline and igi_jax fit the same init.

kodim23 downscaled ×4 (192×128, PIL bicubic), 2,500 Gaussians from GaussianImage's random init
(``random-gi``, RS, seed 0) saved to one ``gaussians.npz`` that both load; Adan, lr 1e-3, no
per-group multipliers, L2 loss, 2,000 steps. PSNR (render clamped to [0, 1]) at steps
0/100/200/500/1000/2000. Rows: the baseline (:mod:`baselines.torch_gi`) and ``igi_jax.fit.fit``
with ``FitConfig(lr=1e-3, lr_groups=(), steps=2000, log_every=100)``, then both again with the
render clamped inside the loss as GaussianImage's forward does (``FitConfig.clamp``).

Run: ``python bench/adan_parity.py`` (~5–10 min on the 2-core CPU) → ``bench/results/adan_parity.md``
and ``.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import sys
import tempfile
import time

import jax
import numpy as np
import torch
from PIL import Image

from baselines import torch_gi
from igi_jax import gaussians_file
from igi_jax.fit import FitConfig, fit
from igi_jax.init import initialize

KODAK = pathlib.Path(__file__).resolve().parents[2] / "shared" / "datasets" / "kodak"
COLUMNS = (0, 100, 200, 500, 1000, 2000)


def _at(history: list[dict[str, float]], step: int) -> float:
    return next(h["psnr"] for h in history if h["step"] == step)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default=str(KODAK / "kodim23.png"))
    ap.add_argument("--gaussians", type=int, default=2500)
    ap.add_argument("--downscale", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (PSNR only here; 1 avoids OpenMP spin-waits on a busy CPU)",
    )
    ap.add_argument("--out", default="bench/results/adan_parity")
    args = ap.parse_args(argv)
    if not pathlib.Path(args.image).exists():
        print(f"skip: {args.image} not found (needs ../shared/datasets/kodak)")
        return 0
    torch.set_num_threads(args.threads)
    with Image.open(args.image) as im:
        im = im.convert("RGB")
        im = im.resize((im.width // args.downscale, im.height // args.downscale), Image.BICUBIC)
    target = np.asarray(im, np.float32) / 255.0
    init = initialize("random-gi", target, key=jax.random.key(args.seed), num_gaussians=args.gaussians)
    cfg = FitConfig(lr=1e-3, lr_groups=(), steps=max(COLUMNS), log_every=100)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = gaussians_file.save_gaussians(
            pathlib.Path(tmp) / "gaussians.npz", init.gaussians, init="random-gi"
        )
        for clamp in (False, True):
            c = dataclasses.replace(cfg, clamp=clamp)
            suffix = ", render clamped in the loss (as GaussianImage's forward)" if clamp else ""
            t = time.perf_counter()
            res = torch_gi.fit(torch_gi.TorchGaussians.load(path), target, c)
            rows.append(
                {
                    "run": f"PyTorch GaussianImage baseline (`baselines/torch_gi.py`){suffix}",
                    "history": res.history,
                    "fit_seconds": res.fit_seconds,
                    "wall_seconds": time.perf_counter() - t,
                }
            )
            print(rows[-1]["run"], [round(_at(res.history, s), 2) for s in COLUMNS], flush=True)
            t = time.perf_counter()
            jres = fit(gaussians_file.load_gaussians(path), target, c)
            rows.append(
                {
                    "run": f"`igi_jax.fit.fit`{suffix}",
                    "history": jres.history,
                    "fit_seconds": jres.fit_seconds,
                    "wall_seconds": time.perf_counter() - t,
                }
            )
            print(rows[-1]["run"], [round(_at(jres.history, s), 2) for s in COLUMNS], flush=True)
    load = os.getloadavg()
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    h, w = target.shape[:2]
    command = " ".join(["python bench/adan_parity.py", *sys.argv[1:]])
    name = pathlib.Path(args.image).name
    lines = [
        f"# Adan parity: PyTorch baseline vs igi_jax (`{command}`)",
        "",
        f"{name} ÷{args.downscale} ({w}×{h}, PIL bicubic), {args.gaussians:,} Gaussians, "
        f"random-gi init (RS, seed {args.seed}) from one npz loaded by both; Adan lr 1e-3, no per-group "
        "multipliers, StepLR ×0.5 / 20,000 steps, L2 loss. PSNR (dB) after N steps:",
        "",
        "| run | " + " | ".join(str(s) for s in COLUMNS) + " | fit s |",
        "|---|" + "---|" * (len(COLUMNS) + 1),
    ]
    for r in rows:
        lines.append(
            f"| {r['run']} | "
            + " | ".join(f"{_at(r['history'], s):.2f}" for s in COLUMNS)
            + f" | {r['fit_seconds']:.0f} |"
        )
    pairs = list(zip(rows[::2], rows[1::2], strict=True))  # (PyTorch, JAX) per loss
    diffs = [max(abs(_at(a["history"], s) - _at(b["history"], s)) for s in COLUMNS) for a, b in pairs]
    ratios = [a["fit_seconds"] / b["fit_seconds"] for a, b in pairs]
    # torch's CPU kernels follow the SIMD level, so its last digits can move between machines.
    cpu = torch.backends.cpu.get_cpu_capability()
    lines += [
        "",
        f"Largest |PyTorch − JAX| over the columns: {diffs[0]:.3f} dB (L2), "
        f"{diffs[1]:.3f} dB (clamped). Fit time PyTorch / JAX: {ratios[0]:.1f}× (L2), "
        f"{ratios[1]:.1f}× (clamped).",
        f"torch {torch.__version__} ({args.threads} thread, CPU capability {cpu}), "
        f"jax {jax.__version__}; load average after the run "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min) on {os.cpu_count()} cores.",
        "",
    ]
    out.with_suffix(".md").write_text("\n".join(lines))
    out.with_suffix(".json").write_text(
        json.dumps(
            {"rows": rows, "load_average": load, "torch_cpu_capability": cpu, "fit_config": repr(cfg)},
            indent=1,
        )
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
