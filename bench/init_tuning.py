"""Tune the quad-tree + colour-solve defaults on held-in photos (never Kodak).

Three sweeps, each fit = Adan, 200 steps, L2, from ``initialize("quadtree", solve_colors=20)``:

* ``scale``: quad-tree std per semi-axis (official 0.54 vs wider), GaussianImage's single lr 1e-3;
* ``lr``: per-group lr multipliers (``FitConfig.lr_groups``) at the chosen scale, ``s`` below is
  the size normalisation ``256 / max(H, W)`` (one xy step then moves ≤ lr·128 px at any size);
* ``budget``: scale × CG iterations (``--settings 0.75x10,1.0x20``), with the shipped fit config
  (``configs/fit_default``); records the *warm* whole-init time (the init runs twice), so the
  default can be picked for the ≤ 2 s init budget;
* ``fit`` (issue 13, after the Adan fix): the init ``igi fit`` uses (``--init quadtree`` with its
  defaults, or ``random-gi``), then ``--steps`` of Adan with a named setting: ``lr3`` = every group
  × 3, ``_d1000`` = halve every 1,000 steps, ``_s0.54`` / ``_i4`` = quad-tree scale / CG
  iterations (see :func:`fit_setting`); no decay unless ``_d`` is given.

Results are cached per run as JSON under ``bench/results/tuning/`` and summarised in
``bench/results/tuning.md``. Usage::

    python bench/init_tuning.py --sweep scale --width 304 --photos 002,013,027
    python bench/init_tuning.py --sweep lr --width 304 --photos 002,013
    python bench/init_tuning.py --sweep lr --width 768 --photos 002 --settings base,xy_s,xy_s_shape.3
    python bench/init_tuning.py --sweep budget --width 768 --photos 002,013 --settings 0.75x10,1.0x20
    python bench/init_tuning.py --sweep fit --width 384 --photos 002,013 --steps 2000 --settings lr1,lr3

The commands behind the current defaults are in ``configs/fit_default.py`` and
``igi_jax/init/choices.py``. Runs from before the Adan fix are in ``results/tuning/before_adan_fix/``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "photos"  # beside the checkout
OUT = Path(__file__).resolve().parent / "results"
SCALES = (0.54, 0.75, 1.0)


def lr_settings(height: int, width: int) -> dict[str, tuple[tuple[str, float], ...]]:
    """Named ``lr_groups`` candidates for an image size."""
    s = 256.0 / max(height, width)
    return {
        "base": (),
        "all.3": (("xy", 0.3), ("shape", 0.3), ("colors", 0.3)),
        "xy_s": (("xy", s),),
        "xy_s_shape.3": (("xy", s), ("shape", 0.3)),
        "xy.3s_shape.3": (("xy", 0.3 * s), ("shape", 0.3)),
        "xy_s_col3": (("xy", s), ("colors", 3.0)),
        "all3": (("xy", 3.0), ("shape", 3.0), ("colors", 3.0)),
        "xy3": (("xy", 3.0),),
        "xy3_col3": (("xy", 3.0), ("colors", 3.0)),
    }


def fit_setting(name: str) -> dict:
    """``fit`` sweep setting → FitConfig fields: ``lr2`` = every group × 2, no decay;
    ``lr2_d1000`` = the same, halved every 1,000 steps; ``lr2_xy1`` = × 2 but ``xy`` × 1.
    ``_s0.54`` / ``_i4`` set the quad-tree scale / CG iterations (see :func:`init_setting`)."""
    parts = name.split("_")
    if not parts[0].startswith("lr"):
        raise ValueError(f"fit setting {name!r} must start with lr<mult>")
    mult = float(parts[0][2:])
    groups = {"xy": mult, "shape": mult, "colors": mult}
    decay_every = 1_000_000  # none
    for part in parts[1:]:
        if part[0] in "si" and part[1:2].isdigit():
            continue  # init options, see init_setting
        if part.startswith("d"):
            decay_every = int(part[1:])
        else:
            for g in ("xy", "shape", "colors"):
                if part.startswith(g):
                    groups[g] = float(part[len(g) :])
    lr_groups = tuple((k, v) for k, v in groups.items() if v != 1.0)
    return {"lr": 1e-3, "lr_groups": lr_groups, "decay_every": decay_every, "decay_rate": 0.5}


def init_setting(name: str) -> dict:
    """Quad-tree options of a ``fit`` sweep setting: ``_s0.54`` → scale, ``_i4`` → CG iterations."""
    out = {}
    for part in name.split("_")[1:]:
        if part.startswith("s") and part[1:2].isdigit():
            out["scale"] = float(part[1:])
        elif part.startswith("i") and part[1:2].isdigit():
            out["solve_colors"] = int(part[1:])
    return out


def run_fit(image: np.ndarray, init: str, setting: str, steps: int) -> dict:
    """Fit sweep: the init ``igi fit`` would use (its defaults), then Adan with ``setting``."""
    import os

    import jax

    from igi_jax.fit import FitConfig, fit
    from igi_jax.init import initialize

    h, w = image.shape[:2]
    kw = (
        init_setting(setting)
        if init == "quadtree"
        else {"key": jax.random.key(0), "num_gaussians": h * w // 10}
    )
    initialize(init, image, **kw)  # compile
    res = initialize(init, image, **kw)
    cfg = FitConfig(steps=steps, log_every=100, **fit_setting(setting))
    t = time.perf_counter()
    out = fit(res.gaussians, image, cfg, init_seconds=res.seconds)
    return {
        "init": init,
        "scale": res.info.get("scale"),
        "iters": res.info["solve_iters"],
        "lr_groups": list(cfg.lr_groups),
        "decay_every": cfg.decay_every,
        "gaussians": res.gaussians.num_live(),
        "init_seconds": res.seconds,
        "compile_seconds": out.compile_seconds,
        "fit_seconds": out.fit_seconds,
        "fit_wall": time.perf_counter() - t,
        "load_average_1min_after": os.getloadavg()[0],
        "history": out.history,
    }


def load_photo(name: str, width: int) -> np.ndarray:
    im = Image.open(PHOTOS / f"{name}.png").convert("RGB")
    h = round(im.height * width / im.width)
    return np.asarray(im.resize((width, h), Image.LANCZOS), np.float32) / 255.0


def run(
    image: np.ndarray, scale: float, lr_groups, steps: int, iters: int = 20, shipped: bool = False
) -> dict:
    from igi_jax.fit import FitConfig, fit
    from igi_jax.init import initialize

    res = initialize("quadtree", image, scale=scale, solve_colors=iters)
    if shipped:  # warm timing: the first call above compiled
        res = initialize("quadtree", image, scale=scale, solve_colors=iters)
        from configs import fit_default

        base = fit_default.get_config().__dict__
        cfg = FitConfig(**{**base, "steps": steps, "log_every": 50})
    else:
        cfg = FitConfig(steps=steps, log_every=50, lr_groups=tuple(lr_groups))
    t = time.perf_counter()
    out = fit(res.gaussians, image, cfg, init_seconds=res.seconds)
    return {
        "scale": scale,
        "iters": iters,
        "lr_groups": list(cfg.lr_groups),
        "gaussians": res.gaussians.num_live(),
        "info": {k: (v if isinstance(v, str) else float(v)) for k, v in res.info.items()},
        "init_seconds": res.seconds,
        "mse_before_solve": res.info.get("mse_before_solve"),
        "mse_after_solve": res.info.get("mse_after_solve"),
        "fit_wall": time.perf_counter() - t,
        "load_average_1min_after": __import__("os").getloadavg()[0],
        "history": out.history,
    }


def summarise() -> None:
    rows = [json.loads(p.read_text()) for p in sorted((OUT / "tuning").glob("*.json"))]
    fits = [r for r in rows if r["sweep"] == "fit"]
    rows = [r for r in rows if r["sweep"] != "fit"]
    lines = [
        "# Quad-tree + solve tuning on photos (not Kodak)",
        "",
        "Commands: see `bench/init_tuning.py`'s docstring. PSNR (dB) at fit steps 0 / 50 / 100 / "
        "200. Adan, lr 1e-3 × the group multipliers.",
        "",
        "`iters` = CG colour-solve iterations; `init s` = whole init (warm for the budget sweep).",
        "",
        "Every row here was measured with the paper's Adan (`igi_jax/optim.py`, issue 13). The "
        "runs made before that fix (optax.adan's eps_root=1e-8: steps ~100× too small) are kept "
        "in `tuning/before_adan_fix/` and are not summarised.",
        "",
        "| sweep | photo | size | G | scale | iters | init s | lr_groups | 0 | 50 | 100 | 200 | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ps = {e["step"]: e["psnr"] for e in r["history"]}
        cells = " | ".join(f"{ps[s]:.2f}" if s in ps else "–" for s in (0, 50, 100, 200))
        groups = ", ".join(f"{k}×{v:.3g}" for k, v in r["lr_groups"]) or "–"
        lines.append(
            f"| {r['sweep']} {r['setting']} | {r['photo']} | {r['width']}×{r['height']} | "
            f"{r['gaussians']:,} | {r['scale']} | {r.get('iters', 20)} | "
            f"{r['init_seconds']:.2f} | {groups} | {cells} | "
            f"{r.get('load_average_1min_after', float('nan')):.1f} |"
        )
    lines += [
        "",
        "## Fit sweep (fixed Adan, issue 13)",
        "",
        "Init as `igi fit` does it (quadtree: default scale and CG iterations; random-gi: one "
        "Gaussian per 10 px, key 0), then Adan lr 1e-3 × the multipliers; `decay` = halve "
        "every N steps (– = none). PSNR (dB) at fit steps; `s/step` = fit seconds / steps "
        "with the machine's 1-minute `load` when the run ended (2 shared cores: loaded "
        "timings, not idle figures).",
        "",
        "| photo | size | init | G | setting | decay | 0 | 100 | 200 | 500 | 1000 | 2000 | s/step | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in fits:
        ps = {e["step"]: e["psnr"] for e in r["history"]}
        cells = " | ".join(f"{ps[s]:.2f}" if s in ps else "–" for s in (0, 100, 200, 500, 1000, 2000))
        decay = f"{r['decay_every']:,}" if r["decay_every"] < 1_000_000 else "–"
        lines.append(
            f"| {r['photo']} | {r['width']}×{r['height']} | {r['init']} | "
            f"{r['gaussians']:,} | {r['setting']} | {decay} | {cells} | "
            f"{r['fit_seconds'] / max(r['history'][-1]['step'], 1):.3f} | "
            f"{r['load_average_1min_after']:.1f} |"
        )
    (OUT / "tuning.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sweep", choices=("scale", "lr", "budget", "fit"), required=True)
    p.add_argument(
        "--init",
        default="quadtree",
        choices=("quadtree", "random-gi"),
        help="fit sweep: the init (with igi fit's defaults)",
    )
    p.add_argument("--photos", default="002,013")
    p.add_argument("--width", type=int, default=304)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--scale", type=float, default=1.0, help="quad-tree scale for the lr sweep")
    p.add_argument("--settings", default=None, help="lr sweep: comma-separated setting names")
    args = p.parse_args()
    (OUT / "tuning").mkdir(parents=True, exist_ok=True)
    for photo in args.photos.split(","):
        image = load_photo(photo, args.width)
        h, w = image.shape[:2]
        if args.sweep == "fit":
            for setting in (args.settings or "lr1").split(","):
                path = OUT / "tuning" / f"fit_{photo}_{w}_{args.init}_{setting}_{args.steps}.json"
                if path.exists():
                    continue
                print(f"fit {photo} {w}×{h} {args.init} {setting}", flush=True)
                r = run_fit(image, args.init, setting, args.steps)
                r.update(sweep="fit", setting=setting, photo=photo, height=h, width=w)
                path.write_text(json.dumps(r, indent=1))
                print(
                    "   ",
                    [(e["step"], round(e["psnr"], 2)) for e in r["history"]],
                    f"{r['fit_seconds']:.0f} s, load {r['load_average_1min_after']:.1f}",
                    flush=True,
                )
                summarise()
            continue
        if args.sweep == "scale":
            jobs = [(f"{s}", s, ()) for s in SCALES]
        elif args.sweep == "budget":
            jobs = [
                (name, float(name.split("x")[0]), int(name.split("x")[1]))
                for name in (args.settings or "1.0x20").split(",")
            ]
        else:
            table = lr_settings(h, w)
            names = args.settings.split(",") if args.settings else list(table)
            jobs = [(n, args.scale, table[n]) for n in names]
        for setting, scale, groups in jobs:
            path = OUT / "tuning" / f"{args.sweep}_{photo}_{w}_{setting}_{args.steps}.json"
            if args.sweep != "budget":
                path = path.with_name(path.name.replace(f"_{args.steps}.json", ".json"))
            if path.exists():
                continue
            print(f"{args.sweep} {photo} {w}×{h} {setting}", flush=True)
            if args.sweep == "budget":
                r = run(image, scale, (), args.steps, iters=groups, shipped=True)
            else:
                r = run(image, scale, groups, args.steps)
            r.update(sweep=args.sweep, setting=setting, photo=photo, height=h, width=w)
            path.write_text(json.dumps(r, indent=1))
            print("   ", [(e["step"], round(e["psnr"], 2)) for e in r["history"]], flush=True)
            summarise()


if __name__ == "__main__":
    main()
