"""Build the pseudo-PPM cache: fit every training sample from the quad-tree init, store its label.

    python -m igi_jax.data.prepare --config configs/net_small.py [--dataset-root DIR] [--limit N]

For each sample of the config's sources (a training image at a ×s bicubic downscale): the
quad-tree init + colour solve, ``data.prepare_steps`` steps of GaussianImage's recipe (Adan,
lr 1e-3, L2, no per-group rates, as the official labels), then
:func:`igi_jax.data.pseudo_ppm.pseudo_ppm` of the fitted centres.
The label is stored as an 8-bit grayscale PNG at 1/``data.ppm_downsample`` resolution
(the map is smooth: the 10-NN distance varies over tens of pixels) in ``cache_dir/ppm/``, and
``cache_dir/manifest.json`` records, per sample, its source, scale, size, Gaussian count, PSNR
at init and after the fit, and seconds. The images themselves are not cached: they are rebuilt
from the dataset on load (:class:`igi_jax.data.samples.Sample`).

Resumable: a sample whose PNG and manifest entry exist is skipped; each finished sample rewrites
the manifest atomically, so a kill loses at most the sample in progress.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from igi_jax import io
from igi_jax.data import pseudo_ppm as ppm_lib
from igi_jax.data.config import DataConfig
from igi_jax.data.samples import Sample, make_samples

MANIFEST = "manifest.json"
FORMAT = 1


def all_samples(data: DataConfig) -> list[Sample]:
    """The training samples a config names (held-out stems excluded)."""
    out: list[Sample] = []
    for folder, scales in data.sources:
        out += make_samples(
            Path(data.dataset_root) / folder,
            tuple(scales),
            root=data.dataset_root,
            exclude=data.exclude,
            limit=data.limit,
        )
    return out


def ppm_path(cache_dir: str | Path, name: str) -> Path:
    return Path(cache_dir) / "ppm" / f"{name}.png"


def encode_ppm(ppm: np.ndarray, downsample: int) -> Image.Image:
    """``[H, W]`` in [0, 1] → 8-bit PNG image at ``ceil(H/d) × ceil(W/d)`` (area average)."""
    im = Image.fromarray(np.round(np.clip(ppm, 0, 1) * 255).astype(np.uint8), mode="L")
    if downsample > 1:
        h, w = ppm.shape
        im = im.resize((-(-w // downsample), -(-h // downsample)), Image.BOX)
    return im


def decode_ppm(path: str | Path, height: int, width: int) -> np.ndarray:
    """A stored label back at ``[H, W]`` float32 in [0, 1] (bilinear upsampling)."""
    with Image.open(path) as im:
        im = im.convert("L")
        if im.size != (width, height):
            im = im.resize((width, height), Image.BILINEAR)
        return np.asarray(im, np.float32) / 255.0


def read_manifest(cache_dir: str | Path) -> dict[str, Any]:
    path = Path(cache_dir) / MANIFEST
    if not path.exists():
        return {"format": FORMAT, "samples": {}}
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{path}: manifest format {manifest.get('format')!r}, expected {FORMAT}")
    return manifest


def write_manifest(cache_dir: str | Path, manifest: dict[str, Any]) -> None:
    text = json.dumps(manifest, indent=1, sort_keys=True).encode()
    io.atomic_write(Path(cache_dir) / MANIFEST, lambda f: f.write(text))


def fit_sample(image: np.ndarray, steps: int) -> tuple[np.ndarray, dict[str, Any]]:
    """Quad-tree + solve, ``steps`` of the default fitter → (pseudo-PPM ``[H, W]``, record)."""
    from igi_jax.fit import FitConfig, fit
    from igi_jax.init import initialize

    h, w = image.shape[:2]
    init = initialize("quadtree", image)
    cfg = FitConfig(steps=steps, optimizer="adan", lr=1e-3, loss="l2", log_every=min(100, max(steps, 1)))
    result = fit(init.gaussians, image, cfg, init_seconds=init.seconds)
    g = result.gaussians
    label = ppm_lib.pseudo_ppm(np.asarray(g.means()), h, w, np.asarray(g.mask))
    record = {
        "height": h,
        "width": w,
        "gaussians": int(g.num_live()),
        "steps": result.steps,
        "psnr_init": result.history[0]["psnr"],
        "psnr_fit": result.history[-1]["psnr"],
        "seconds": init.seconds + result.compile_seconds + result.fit_seconds,
    }
    return label, record


def prepare(data: DataConfig, *, log=print) -> dict[str, Any]:
    """Fill the label cache of ``data``; returns the manifest.

    Relative paths of ``data`` are relative to the repository root (:meth:`DataConfig.resolved`).
    """
    data = data.resolved()
    cache = Path(data.cache_dir)
    (cache / "ppm").mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(cache)
    manifest.update(steps=data.prepare_steps, downsample=data.ppm_downsample)
    done = manifest["samples"]
    samples = all_samples(data)
    todo = [s for s in samples if not (s.name in done and ppm_path(cache, s.name).exists())]
    log(
        f"prepare: {len(samples)} samples, {len(samples) - len(todo)} cached, {len(todo)} to fit "
        f"({data.prepare_steps} steps each) → {cache}"
    )
    t0 = time.perf_counter()
    for i, s in enumerate(todo):
        image = s.load(data.dataset_root)
        label, record = fit_sample(image, data.prepare_steps)
        im = encode_ppm(label, data.ppm_downsample)
        io.atomic_write(ppm_path(cache, s.name), lambda f, im=im: im.save(f, format="PNG", optimize=True))
        done[s.name] = {"source": s.source, "scale": s.scale, **record}
        write_manifest(cache, manifest)
        elapsed = time.perf_counter() - t0
        eta = elapsed / (i + 1) * (len(todo) - i - 1)
        log(
            f"[{i + 1}/{len(todo)}] {s.name} {record['width']}×{record['height']} "
            f"{record['gaussians']:,} G  {record['psnr_init']:.2f} → {record['psnr_fit']:.2f} dB  "
            f"{record['seconds']:.1f} s  (elapsed {elapsed / 60:.1f} min, ETA {eta / 60:.1f} min)"
        )
    write_manifest(cache, manifest)
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m igi_jax.data.prepare", description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, help="a configs/net_*.py file")
    p.add_argument("--dataset-root", help="folder with the dataset folders (default: the config's)")
    p.add_argument("--limit", type=int, help="at most N images per source")
    p.add_argument("--steps", type=int, help="override data.prepare_steps")
    args = p.parse_args(argv)
    from igi_jax.train.config import load, with_data  # the CLI reads a training config

    try:
        cfg = load(args.config)
        changes = {
            k: v
            for k, v in (
                ("dataset_root", args.dataset_root and os.path.abspath(args.dataset_root)),
                ("limit", args.limit),
                ("prepare_steps", args.steps),
            )
            if v is not None
        }
        cfg = with_data(cfg, **changes)
        if cfg.data.prepare_steps < 0:
            raise ValueError(f"prepare steps must be ≥ 0, got {cfg.data.prepare_steps}")
        prepare(cfg.data, log=lambda m: print(m, file=sys.stderr, flush=True))
    except (ValueError, OSError) as e:
        print(f"prepare: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
