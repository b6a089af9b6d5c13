"""Compiled-program reuse: same-shape images share one fit and one colour-solve program, the
canvas padding changes nothing, bucket snapping, and the opt-in persistent cache of the CLI."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from PIL import Image

from igi_jax import compile_cache
from igi_jax import gaussians as G
from igi_jax.fit import FitConfig, fit, group_scales, make_optimizer, scale_groups, unit_optimizer
from igi_jax.init.color_solve import solve_colors_with_info

H, W = 30, 37  # canvas 32 × 48: padded on both axes
ROOT = Path(__file__).resolve().parents[1]


def _target(phase: float) -> np.ndarray:
    y, x = np.mgrid[0:H, 0:W] / np.float32(max(H, W))
    return np.stack([x, y, 0.5 + 0.4 * np.sin(6 * x * y + phase)], -1).astype(np.float32)


def _init(seed: int = 0, n: int = 96) -> G.Gaussians:
    return G.random_init(jax.random.key(seed), n, H, W, variant="igi")


def test_same_shape_images_share_one_fit_program():
    cfg = FitConfig(steps=10, log_every=5, lr=1e-2, lr_groups=(("xy", 1.5),))  # a config of its own
    before = compile_cache.MISSES["fit"]
    first = fit(_init(0), _target(0.0), cfg)
    second = fit(_init(1), _target(1.0), cfg)
    assert compile_cache.MISSES["fit"] == before + 1
    assert first.compile_seconds > 0 and second.compile_seconds == 0.0
    assert first.history[-1]["psnr"] != second.history[-1]["psnr"]  # really two different fits


def test_canvas_padding_matches_exact_size(monkeypatch):
    cfg = FitConfig(steps=20, log_every=10, lr=1e-2)
    padded = fit(_init(), _target(0.0), cfg)
    monkeypatch.setattr(compile_cache, "canvas_size", lambda h, w: (h, w))
    exact = fit(_init(), _target(0.0), cfg)
    assert padded.image.shape == exact.image.shape == (H, W, 3)
    # Same pixels, same loss; only float summation order differs (canvas vs image reductions).
    np.testing.assert_allclose(
        [h["psnr"] for h in padded.history], [h["psnr"] for h in exact.history], atol=1e-3
    )
    np.testing.assert_allclose(np.asarray(padded.image), np.asarray(exact.image), atol=1e-4)


def test_same_shape_images_share_one_solve_program(monkeypatch):
    compile_cache.clear()  # earlier tests in the process may have compiled this shape already
    before = compile_cache.MISSES["solve"]
    g = _init(2, n=80)
    _, a = solve_colors_with_info(g, _target(0.0), iters=5, ridge=1e-3)
    _, b = solve_colors_with_info(g, _target(2.0), iters=7, ridge=1e-3)
    assert compile_cache.MISSES["solve"] == before + 1 and b["compile_seconds"] == 0.0
    assert a["mse_after"] != b["mse_after"]
    monkeypatch.setattr(compile_cache, "canvas_size", lambda h, w: (h, w))
    _, exact = solve_colors_with_info(g, _target(0.0), iters=5, ridge=1e-3)
    np.testing.assert_allclose(exact["mse_after"], a["mse_after"], rtol=1e-4)


def test_choose_snaps_to_a_compiled_superset_within_slack():
    family = ("test-family", os.getpid())
    assert compile_cache.choose(family, (100, 1000)) == (100, 1000)  # nothing compiled yet
    compile_cache.compiled("test", family, (128, 1024), lambda: "program")
    assert compile_cache.choose(family, (100, 1000)) == (128, 1024)
    assert compile_cache.choose(family, (80, 1000)) == (80, 1000)  # 128 > 1.5 × 80
    assert compile_cache.choose(family, (100, 1100)) == (100, 1100)  # 1024 < 1100
    assert compile_cache.choose(("other", os.getpid()), (100, 1000)) == (100, 1000)


@pytest.mark.parametrize("value, expected", [("0", None), ("off", None), ("", None), ("/x/y", Path("/x/y"))])
def test_cache_dir_from_environment(monkeypatch, value, expected):
    monkeypatch.setenv(compile_cache.ENV_VAR, value)
    assert compile_cache.default_cache_dir() == expected


def test_default_cache_dir_under_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv(compile_cache.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compile_cache.default_cache_dir() == tmp_path / "igi-jax" / "jax"


@pytest.mark.slow
def test_second_igi_fit_of_a_same_size_image_compiles_nothing(tmp_path):
    """Two ``igi`` processes sharing a persistent cache (opted in here, in a temp folder)."""
    env = {**os.environ, compile_cache.ENV_VAR: str(tmp_path / "cache"), "JAX_PLATFORMS": "cpu"}
    seconds, entries = [], []
    for i in range(2):
        image = (np.random.default_rng(i).random((40, 52, 3)) * 255).astype(np.uint8)
        Image.fromarray(image).save(tmp_path / f"{i}.png")
        args = [
            sys.executable,
            "-c",
            "import sys; from igi_jax import cli; sys.exit(cli.main())",
            "fit",
            str(tmp_path / f"{i}.png"),
            "--steps",
            "10",
            "--quiet",
            "--out",
            str(tmp_path / f"o{i}"),
        ]
        done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        seconds.append(json.loads((tmp_path / f"o{i}" / "metrics.json").read_text())["compile_seconds"])
        entries.append(sorted(p.name for p in (tmp_path / "cache").iterdir()))
    assert compile_cache.INDEX_NAME in entries[0] and len(entries[0]) > 10
    # The second image compiled no new program: every one came from the cache. What is left
    # of its compile_seconds is tracing and loading (~1 s of CPU, more on a loaded machine).
    assert entries[1] == entries[0]
    assert seconds[1] < seconds[0] / 2, seconds


def test_rate_multipliers_are_arguments_of_one_program():
    # The codec scales the shape rate by the count: that must not compile a fit per count.
    base = FitConfig(steps=10, log_every=5, lr=1.3e-2)  # a config of its own
    before = compile_cache.MISSES["fit"]
    slow = fit(_init(0), _target(0.0), dataclasses.replace(base, lr_groups=(("shape", 1.0),)))
    fast = fit(_init(0), _target(0.0), dataclasses.replace(base, lr_groups=(("shape", 4.0),)))
    assert compile_cache.MISSES["fit"] == before + 1
    assert slow.history[-1]["psnr"] != fast.history[-1]["psnr"]  # the multiplier acts


@pytest.mark.parametrize("name", ["adan", "adam"])
def test_traced_rate_multipliers_match_the_grouped_optimiser(name):
    cfg = FitConfig(
        optimizer=name, lr=1e-2, lr_groups=(("xy", 0.3), ("shape", 2.5)), decay_every=3, decay_rate=0.5
    )
    rng = np.random.default_rng(0)
    params = {k: jnp.asarray(rng.normal(size=(5, 3)), jnp.float32) for k in ("xy", "shape", "colors")}
    grouped, unit, scales = make_optimizer(cfg), unit_optimizer(cfg), group_scales(cfg)
    a, b = params, params
    sa, sb = grouped.init(a), unit.init(b)
    for _ in range(8):
        grads = {k: jnp.asarray(rng.normal(size=(5, 3)), jnp.float32) for k in params}
        ua, sa = grouped.update(grads, sa, a)
        ub, sb = unit.update(grads, sb, b)
        a, b = optax.apply_updates(a, ua), optax.apply_updates(b, scale_groups(ub, scales))
    for k in params:
        np.testing.assert_allclose(b[k], a[k], rtol=1e-6, atol=1e-7)
        assert not np.allclose(a[k], params[k])
