"""The C++ splat kernel (``cpu-native``) against the tiled XLA reference and the dense one.

Parity: forward ≤ 1e-5 absolute, VJPs ≤ 1e-4 relative to each gradient's largest entry (the
Pallas suite's bounds, for the same reasons). Also: its counting-sort binning equals the XLA
binning exactly, ``jit`` / ``vmap`` / the custom VJP work, the result is bit-identical for any
thread count, and a machine without a compiler (or with a broken one) keeps the XLA path.

Where this machine has a C++ compiler the kernel must build: a build failure fails these tests
instead of skipping them.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from igi_jax import backend as backend_lib
from igi_jax import binning, covariance, gaussians
from igi_jax.render import api as render_api
from igi_jax.render import render
from igi_jax.render.dense import render_dense
from pallas_kernels import splat_native
from pallas_kernels.splat_reference import splat_reference

FWD_ATOL = 1e-5
VJP_RTOL = 1e-4
H, W = 45, 61  # partial cells on both axes
ROOT = Path(__file__).resolve().parents[2]
CPU_BACKENDS = ("reference", "cpu-native")

if splat_native.compiler() is None:
    pytest.skip(
        "no C++ compiler here: the fallback is tested by the subprocess tests", allow_module_level=True
    )


def test_kernel_builds_where_a_compiler_is():
    assert splat_native.available(), splat_native.unavailable_reason()


def _scene(seed: int, n: int = 160, height: int = H, width: int = W):
    """Tiny / large / needle / off-image Gaussians, some masked, one degenerate, one NaN mean."""
    rng = np.random.default_rng(seed)
    means = rng.uniform(-6.0, 1.0, (n, 2)) + np.array([width + 5.0, height + 5.0]) * rng.uniform(size=(n, 2))
    scales = np.exp(rng.uniform(np.log(0.3), np.log(9.0), (n, 2)))
    scales[: n // 4, 1] = 0.15
    cov = np.array(covariance.cov_from_rs(jnp.asarray(scales), jnp.asarray(rng.uniform(0, np.pi, n))))
    cov[5] = [4.0, 4.0, 4.0]  # det = 0
    means[6] = [np.nan, 10.0]
    colors = rng.uniform(-0.5, 1.0, (n, 3))
    mask = np.ones(n, bool)
    mask[::7] = False
    mask[[5, 6]] = True
    f32 = functools.partial(jnp.asarray, dtype=jnp.float32)
    return f32(means), f32(cov), f32(colors), jnp.asarray(mask)


def _capacity(means, cov, mask, height=H, width=W, cell=8):
    return int(binning.count_entries(means, cov, mask, height, width, cell)) + 64


@pytest.mark.parametrize("cell", binning.CELLS)
def test_counting_sort_binning_equals_xla_binning(cell):
    means, cov, _, mask = _scene(0)
    cap = _capacity(means, cov, mask, cell=cell)
    want = binning.bin_gaussians(means, cov, mask, H, W, cap, cell=cell)
    nb = splat_native.bin_gaussians(means, cov, mask, H, W, cap, cell=cell)
    for name in ("gauss_ids", "tile_start", "tile_end", "num_entries", "num_intersections"):
        np.testing.assert_array_equal(getattr(nb.binning, name), getattr(want, name), err_msg=name)
    assert int(want.num_entries) > 100  # a real scene
    inv = splat_native.inverse_index(want, means.shape[0])
    np.testing.assert_array_equal(
        nb.slot_of_entry[: int(want.num_entries)], inv.slot_of_entry[: int(want.num_entries)]
    )
    np.testing.assert_array_equal(nb.entry_start, inv.entry_start)


def _native(means, conics, colors, b):
    return splat_native.rasterize(means, conics, colors, splat_native.inverse_index(b, means.shape[0]), H, W)


@pytest.mark.parametrize("cell", binning.CELLS)
def test_forward_and_vjp_match_the_xla_reference(cell):
    means, cov, colors, mask = _scene(1)
    b = binning.bin_gaussians(means, cov, mask, H, W, _capacity(means, cov, mask, cell=cell), cell=cell)
    conics = covariance.conic_from_cov(cov)
    v = jax.random.normal(jax.random.key(2), (H, W, 3), jnp.float32)
    got, got_vjp = jax.vjp(lambda *x: _native(*x, b), means, conics, colors)
    want, want_vjp = jax.vjp(lambda *x: splat_reference(*x, b, H, W), means, conics, colors)
    np.testing.assert_allclose(got, want, rtol=0, atol=FWD_ATOL)
    assert float(jnp.max(got)) > 0.5  # a real image
    for name, a, r in zip(("means", "conics", "colors"), got_vjp(v), want_vjp(v), strict=True):
        live = np.isfinite(np.asarray(r)).all(axis=-1)
        assert bool(jnp.all(jnp.isfinite(a))), name
        err = float(jnp.max(jnp.abs(a[live] - r[live])) / jnp.max(jnp.abs(r[live])))
        assert err <= VJP_RTOL, f"{name}: relative error {err:.2e}"


@pytest.mark.parametrize("kind", gaussians.KINDS)
def test_render_gradients_through_the_parameterization_match_dense(kind):
    g = gaussians.random_init(jax.random.key(3), 150, H, W, kind=kind)
    v = jax.random.normal(jax.random.key(4), (H, W, 3), jnp.float32)
    cap = render_api.required_capacity(g.means(), g.covariances(), g.mask, H, W, backend="cpu-native")

    def grad(backend):
        def loss(params):
            gp = g.with_params(params)
            if backend == "dense":
                image = render_dense(gp.means(), gp.covariances(), gp.colors, gp.mask, H, W)
            else:
                image = render(
                    gp.means(), gp.covariances(), gp.colors, gp.mask, H, W, capacity=cap, backend=backend
                )
            return jnp.sum(image * v)

        return jax.grad(loss)(g.params())

    image = render(g.means(), g.covariances(), g.colors, g.mask, H, W, backend="cpu-native")
    dense = render_dense(g.means(), g.covariances(), g.colors, g.mask, H, W)
    np.testing.assert_allclose(image, dense, rtol=0, atol=FWD_ATOL)
    got, want = grad("cpu-native"), grad("dense")
    for i, (a, r) in enumerate(zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True)):
        err = float(jnp.max(jnp.abs(a - r)) / jnp.max(jnp.abs(r)))
        assert err <= VJP_RTOL, f"leaf {i}: relative error {err:.2e}"


def test_jit_and_vmap_over_a_batch():
    # vmap runs the kernel once per item: the batched result is the unbatched one (XLA may fuse
    # the surrounding ops differently under jit, hence a float32-rounding tolerance).
    scenes = [_scene(s) for s in (5, 6)]
    means, cov, colors, mask = (jnp.stack(x) for x in zip(*scenes, strict=True))
    cap = max(_capacity(*s[:2], s[3]) for s in scenes)
    v = jax.random.normal(jax.random.key(7), (2, H, W, 3), jnp.float32)

    def loss(m, c, col, k, vv):
        return jnp.sum(render(m, c, col, k, H, W, capacity=cap, backend="cpu-native") * vv)

    values, grads = jax.jit(jax.vmap(jax.value_and_grad(loss, (0, 1, 2))))(means, cov, colors, mask, v)
    for i in range(2):
        value, grad = jax.value_and_grad(loss, (0, 1, 2))(means[i], cov[i], colors[i], mask[i], v[i])
        reference = render(means[i], cov[i], colors[i], mask[i], H, W, capacity=cap, backend="reference")
        np.testing.assert_allclose(values[i], jnp.sum(reference * v[i]), rtol=1e-5)
        np.testing.assert_allclose(values[i], value, rtol=1e-6)
        for a, r in zip(grads, grad, strict=True):
            np.testing.assert_allclose(a[i], r, rtol=1e-6, atol=1e-6 * float(jnp.max(jnp.abs(r))))


def test_result_is_bit_identical_for_any_thread_count(monkeypatch):
    g = gaussians.random_init(jax.random.key(8), 3000, 96, 130)
    v = jax.random.normal(jax.random.key(9), (96, 130, 3), jnp.float32)
    cap = render_api.required_capacity(g.means(), g.covariances(), g.mask, 96, 130, backend="cpu-native")
    out = []
    for threads in ("1", "3"):
        monkeypatch.setenv("IGI_NATIVE_THREADS", threads)

        def loss(means, cov, colors):
            return jnp.sum(
                render(means, cov, colors, g.mask, 96, 130, capacity=cap, backend="cpu-native") * v
            )

        out.append(jax.value_and_grad(loss, (0, 1, 2))(g.means(), g.covariances(), g.colors))
    for a, b in zip(jax.tree.leaves(out[0]), jax.tree.leaves(out[1]), strict=True):
        np.testing.assert_array_equal(a, b)


def test_overflow_gives_nan():
    means, cov, colors, mask = _scene(10)
    image = render(means, cov, colors, mask, H, W, capacity=64, backend="cpu-native")
    assert bool(jnp.all(jnp.isnan(image)))


def test_bad_thread_count_is_named(monkeypatch):
    monkeypatch.setenv("IGI_NATIVE_THREADS", "two")
    with pytest.raises(ValueError, match="IGI_NATIVE_THREADS"):
        splat_native.threads()


def test_auto_picks_native_only_when_verified(monkeypatch):
    monkeypatch.setattr(backend_lib, "VERIFIED_NATIVE", False)
    assert render_api.resolve_backend("auto") == "reference"
    monkeypatch.setattr(backend_lib, "VERIFIED_NATIVE", True)
    assert render_api.resolve_backend("auto") == "cpu-native"


def test_fit_matches_the_xla_path():
    from igi_jax.fit import FitConfig, fit

    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[0:48, 0:64] / 48.0
    target = np.stack([np.sin(6 * xx) * 0.5 + 0.5, yy, (xx * yy) % 1.0], -1).astype(np.float32)
    target += rng.normal(0, 0.02, target.shape).astype(np.float32)
    g0 = gaussians.random_init(jax.random.key(12), 400, 48, 64, variant="gi")
    runs = [fit(g0, target, FitConfig(steps=100, log_every=100, backend=be)).history for be in CPU_BACKENDS]
    assert runs[1][-1]["psnr"] > runs[1][0]["psnr"] + 2.0  # the fit moved
    assert abs(runs[0][-1]["psnr"] - runs[1][-1]["psnr"]) < 1e-3, runs


def _run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "JAX_PLATFORMS": "cpu", **env},
        timeout=300,
    )


_FALLBACK = """
    import numpy as np
    from igi_jax import backend, gaussians
    from igi_jax.render import api
    backend.VERIFIED_NATIVE = True
    assert api.resolve_backend("auto") == "reference", api.resolve_backend("auto")
    assert api.resolve_backend("auto") == "reference"
    g = gaussians.random_init(__import__("jax").random.key(0), 50, 20, 30)
    image = api.render(g.means(), g.covariances(), g.colors, g.mask, 20, 30)
    assert np.isfinite(np.asarray(image)).all()
    try:
        api.resolve_backend("cpu-native")
    except ValueError as e:
        print("ERROR:", e)
"""


def test_no_compiler_keeps_the_xla_path_with_one_note(tmp_path):
    done = _run(
        _FALLBACK, {"IGI_CXX": str(tmp_path / "no-such-c++"), "IGI_CACHE_DIR": str(tmp_path / "cache")}
    )
    assert done.returncode == 0, done.stderr
    notes = [x for x in done.stderr.splitlines() if x.startswith("igi-jax:")]
    assert len(notes) == 1 and "no C++ compiler" in notes[0], done.stderr
    assert "ERROR: backend 'cpu-native' is unavailable: no C++ compiler" in done.stdout
    assert not (tmp_path / "cache").exists()


def test_broken_compiler_keeps_the_xla_path_and_leaves_nothing(tmp_path):
    cxx = tmp_path / "broken-c++"
    script = [
        "#!/bin/sh",
        '[ "$1" = --version ] && echo broken 1.0 && exit 0',
        "echo 'x.cc:1: error: no' >&2",
    ]
    cxx.write_text("\n".join([*script, "exit 1", ""]))
    cxx.chmod(0o755)
    cache = tmp_path / "cache"
    done = _run(_FALLBACK, {"IGI_CXX": str(cxx), "IGI_CACHE_DIR": str(cache)})
    assert done.returncode == 0, done.stderr
    notes = [x for x in done.stderr.splitlines() if x.startswith("igi-jax:")]
    assert len(notes) == 1 and "failed (exit 1): x.cc:1: error: no" in notes[0], done.stderr
    assert list((cache / "native").iterdir()) == []  # no torn or temporary library left
