"""igi_jax vs the PyTorch GaussianImage baseline: fit step time and render FPS, side by side.

Kodak size (kodim23, 768×512), 40,000 Gaussians from GaussianImage's random init (``random-gi``,
RS, seed 0) saved to one ``gaussians.npz`` that both frameworks load, this CPU. Both run in one
process on identical inputs, one after the other:

* render: the forward from the raw parameters (positions/covariances included), synchronised
  (``block_until_ready`` / eager torch), median of ``--repeats`` after a warm-up; FPS = 1 / median;
* fit step: forward + backward + Adan step, as each fitter runs it (``igi_jax.fit.fit``: jitted
  ``fori_loop`` blocks; ``baselines.torch_gi.fit``: an eager loop), median over blocks of
  ``--block`` steps (each block also renders once for its PSNR log, in both); compilation excluded.

Prints absolute numbers and ratios and writes ``bench/results/vs_torch.txt``. The CPU is shared:
the load average is printed before and after. Run: ``python bench/vs_torch.py``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import pathlib
import sys
import tempfile
import time

import jax
import numpy as np
import torch

from baselines import torch_gi
from igi_jax import gaussians as G
from igi_jax import gaussians_file, io
from igi_jax.fit import FitConfig, fit
from igi_jax.render import render_gaussians, required_capacity

KODAK = pathlib.Path(__file__).resolve().parents[2] / "shared" / "datasets" / "kodak"


def _median_time(fn, repeats: int) -> float:
    fn()  # warm-up (and compile, for JAX)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def _step_seconds(history: list[dict[str, float]]) -> float:
    """Median seconds per step over the logged blocks (entry 0 is the init)."""
    per = [(b["seconds"] - a["seconds"]) / (b["step"] - a["step"]) for a, b in itertools.pairwise(history)]
    return float(np.median(per))


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default=str(KODAK / "kodim23.png"))
    ap.add_argument("--gaussians", type=int, default=40_000)
    ap.add_argument("--repeats", type=int, default=20, help="render repeats per framework")
    ap.add_argument("--block", type=int, default=10, help="fit steps per timed block")
    ap.add_argument("--jax-blocks", type=int, default=5)
    ap.add_argument("--torch-blocks", type=int, default=3)
    ap.add_argument("--torch-threads", type=int, default=2)
    ap.add_argument("--cell", type=int, default=8, help="torch rasterizer cell (16, 8, 4)")
    ap.add_argument("--out", default="bench/results/vs_torch.txt")
    args = ap.parse_args(argv)
    if not pathlib.Path(args.image).exists():
        print(f"skip: {args.image} not found (needs ../shared/datasets/kodak)")
        return 0
    torch.set_num_threads(args.torch_threads)
    lines: list[str] = []

    def say(s: str) -> None:
        print(s, flush=True)
        lines.append(s)

    target, _ = io.load_image(args.image)
    h, w = target.shape[:2]
    say(f"# `python {' '.join(['bench/vs_torch.py', *sys.argv[1:]])}`")
    say(
        f"{pathlib.Path(args.image).name} {w}×{h}, {args.gaussians:,} random-gi Gaussians (RS, seed 0), "
        f"jax {jax.__version__} ({jax.default_backend()}), torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), torch cell {args.cell} px"
    )
    say(f"load average before (1/5/15 min, 2 shared cores): {_load()}")
    g0 = G.random_init(jax.random.key(0), args.gaussians, h, w, kind="rs", variant="gi")
    with tempfile.TemporaryDirectory() as tmp:
        path = gaussians_file.save_gaussians(pathlib.Path(tmp) / "gaussians.npz", g0, init="random-gi")
        g = gaussians_file.load_gaussians(path)
        tg = torch_gi.TorchGaussians.load(path)

    # Render: forward from the raw parameters, synchronised.
    cap = required_capacity(g.means(), g.covariances(), g.mask, h, w, backend="reference")
    jax_render = jax.jit(lambda p: render_gaussians(g.with_params(p), capacity=cap, backend="reference"))
    params = g.params()
    with torch.no_grad():
        img_t = tg(args.cell).numpy()
    diff = float(np.max(np.abs(img_t - np.asarray(jax_render(params)))))
    say(f"max |torch − jax| render difference: {diff:.2e}")
    t_jax = _median_time(lambda: jax.block_until_ready(jax_render(params)), args.repeats)

    def torch_render():
        with torch.no_grad():
            tg(args.cell)

    t_torch = _median_time(torch_render, args.repeats)

    # Fit steps, as each fitter runs them (compilation excluded by igi_jax.fit.fit).
    n_jax = args.block * args.jax_blocks
    res = fit(g, target, FitConfig(steps=n_jax, log_every=args.block, backend="reference"))
    s_jax = _step_seconds(res.history)
    n_torch = args.block * args.torch_blocks
    tres = torch_gi.fit(tg, target, FitConfig(steps=n_torch, log_every=args.block), cell=args.cell)
    s_torch = _step_seconds(tres.history)
    common = min(n_jax, n_torch)
    psnr_j = next(x["psnr"] for x in res.history if x["step"] == common)
    psnr_t = next(x["psnr"] for x in tres.history if x["step"] == common)

    say("")
    say("| | JAX (igi_jax) | PyTorch baseline | PyTorch / JAX |")
    say("|---|---|---|---|")
    say(
        f"| render, ms (median of {args.repeats}) | {t_jax * 1e3:.1f} | {t_torch * 1e3:.1f} | "
        f"{t_torch / t_jax:.2f}× |"
    )
    say(f"| render FPS | {1 / t_jax:.1f} | {1 / t_torch:.2f} | {t_jax / t_torch:.3f}× |")
    say(
        f"| fit step (fwd + bwd + Adan), ms (median over blocks of {args.block}) | {s_jax * 1e3:.1f} | "
        f"{s_torch * 1e3:.1f} | {s_torch / s_jax:.2f}× |"
    )
    say(f"| fit steps / s | {1 / s_jax:.2f} | {1 / s_torch:.2f} | {s_jax / s_torch:.3f}× |")
    say("")
    say(
        f"JAX compile (fit, excluded above): {res.compile_seconds:.1f} s; PSNR after {common} steps: "
        f"JAX {psnr_j:.3f} dB, PyTorch {psnr_t:.3f} dB"
    )
    say(f"load average after (1/5/15 min): {_load()}")
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
