"""Tune the quad-tree + colour-solve defaults on held-in photos (never Kodak).

Three sweeps, each fit = Adan, 200 steps, L2, from ``initialize("quadtree", solve_colors=20)``:

* ``scale``: quad-tree std per semi-axis (official 0.54 vs wider), GaussianImage's single lr 1e-3;
* ``lr``: per-group lr multipliers (``FitConfig.lr_groups``) at the chosen scale, ``s`` below is
  the size normalisation ``256 / max(H, W)`` (one xy step then moves ≤ lr·128 px at any size);
* ``budget``: scale × CG iterations (``--settings 0.75x10,1.0x20``), with the shipped fit config
  (``configs/fit_default``); records the *warm* whole-init time (the init runs twice), so the
  default can be picked for the ≤ 2 s init budget.

Results are cached per run as JSON under ``bench/results/tuning/`` and summarised in
``bench/results/tuning.md``. Usage::

    python bench/init_tuning.py --sweep scale --width 304 --photos 002,013,027
    python bench/init_tuning.py --sweep lr --width 304 --photos 002,013
    python bench/init_tuning.py --sweep lr --width 768 --photos 002 --settings base,xy_s,xy_s_shape.3
    python bench/init_tuning.py --sweep budget --width 768 --photos 002,013 --settings 0.75x10,1.0x20
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

PHOTOS = Path("/work/shared/datasets/photos")
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


def load_photo(name: str, width: int) -> np.ndarray:
    im = Image.open(PHOTOS / f"{name}.png").convert("RGB")
    h = round(im.height * width / im.width)
    return np.asarray(im.resize((width, h), Image.LANCZOS), np.float32) / 255.0


def run(image: np.ndarray, scale: float, lr_groups, steps: int, iters: int = 20,
        shipped: bool = False) -> dict:
    from igi_jax.fit import FitConfig, fit
    from igi_jax.init import initialize

    res = initialize("quadtree", image, scale=scale, solve_colors=iters)
    if shipped:  # warm timing: the first call above compiled
        res = initialize("quadtree", image, scale=scale, solve_colors=iters)
        from configs import fit_default

        base = fit_default.get_config(height=image.shape[0], width=image.shape[1]).__dict__
        cfg = FitConfig(**{**base, "steps": steps, "log_every": 50})
    else:
        cfg = FitConfig(steps=steps, log_every=50, lr_groups=tuple(lr_groups))
    t = time.perf_counter()
    out = fit(res.gaussians, image, cfg, init_seconds=res.seconds)
    return {"scale": scale, "iters": iters, "lr_groups": list(cfg.lr_groups),
            "gaussians": res.gaussians.num_live(),
            "info": {k: (v if isinstance(v, str) else float(v)) for k, v in res.info.items()},
            "init_seconds": res.seconds, "mse_before_solve": res.info["mse_before_solve"],
            "mse_after_solve": res.info["mse_after_solve"], "fit_wall": time.perf_counter() - t,
            "history": out.history}


def summarise() -> None:
    rows = [json.loads(p.read_text()) for p in sorted((OUT / "tuning").glob("*.json"))]
    lines = ["# Quad-tree + solve tuning on photos (not Kodak)", "",
             "Commands: see `bench/init_tuning.py`'s docstring. PSNR (dB) at fit steps 0 / 50 / 100 / "
             "200. Adan, lr 1e-3 × the group multipliers.", "",
             "`iters` = CG colour-solve iterations; `init s` = whole init (warm for the budget sweep).", "",
             "| sweep | photo | size | G | scale | iters | init s | lr_groups | 0 | 50 | 100 | 200 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ps = {e["step"]: e["psnr"] for e in r["history"]}
        cells = " | ".join(f"{ps[s]:.2f}" if s in ps else "–" for s in (0, 50, 100, 200))
        groups = ", ".join(f"{k}×{v:.3g}" for k, v in r["lr_groups"]) or "–"
        lines.append(f"| {r['sweep']} {r['setting']} | {r['photo']} | {r['width']}×{r['height']} | "
                     f"{r['gaussians']:,} | {r['scale']} | {r.get('iters', 20)} | "
                     f"{r['init_seconds']:.2f} | {groups} | {cells} |")
    (OUT / "tuning.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sweep", choices=("scale", "lr", "budget"), required=True)
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
        if args.sweep == "scale":
            jobs = [(f"{s}", s, ()) for s in SCALES]
        elif args.sweep == "budget":
            jobs = [(name, float(name.split("x")[0]), int(name.split("x")[1]))
                    for name in (args.settings or "1.0x20").split(",")]
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
