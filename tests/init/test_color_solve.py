"""Least-squares colour solve: against a dense lstsq, monotone objective, masks, both kinds.

All problems share one shape (20×24 image, capacity 256, intersection capacity 1024), so the
jitted CG loop compiles once for the whole file (its iteration count and ridge are traced).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from igi_jax import gaussians as gaussians_lib
from igi_jax.init import initialize
from igi_jax.init.choices import SOLVE_ITERS
from igi_jax.init.color_solve import solve_colors, solve_colors_with_info
from igi_jax.render.dense import render_dense

H, W, N = 20, 24, 30


def _problem(seed: int, kind: str = "rs"):
    """Random geometry (scales 1–2 px, widened ×2 so neighbours overlap) and a random target."""
    key = jax.random.key(seed)
    g = gaussians_lib.random_init(key, N, H, W, kind=kind, variant="igi")
    g = dataclasses.replace(g, shape=g.shape.at[:, :2].add(1.0 if kind == "rs" else 0.5))
    target = jax.random.uniform(jax.random.fold_in(key, 1), (H, W, 3), jnp.float32)
    return g, target


@jax.jit
def _dense_matrix(g) -> jax.Array:
    """``[N, H·W]``: row n is the dense render of Gaussian n with unit colour (channel 0)."""
    means, cov = g.means(), g.covariances()

    def column(n):
        colors = jnp.zeros((g.capacity, 3), jnp.float32).at[n, 0].set(1.0)
        return render_dense(means, cov, colors, g.mask, H, W)[..., 0].reshape(-1)

    return jax.vmap(column)(jnp.arange(g.capacity))


@jax.jit
def _objective(g, target, ridge):
    image = render_dense(g.means(), g.covariances(), g.colors, g.mask, H, W)
    return jnp.sum((image - target) ** 2) + ridge * jnp.sum(g.colors**2)


@pytest.mark.parametrize("kind", ["rs", "cholesky"])
def test_matches_dense_lstsq(kind):
    g, target = _problem(0, kind)
    ridge = 1e-6
    m = np.asarray(_dense_matrix(g), np.float64).T  # [H·W, N]; padded columns are zero
    aug = np.concatenate([m, np.sqrt(ridge) * np.eye(m.shape[1])])
    y = np.asarray(target, np.float64).reshape(-1, 3)
    want = np.linalg.lstsq(aug, np.concatenate([y, np.zeros((m.shape[1], 3))]), rcond=None)[0]
    got, info = solve_colors_with_info(g, target, iters=150, ridge=ridge)
    live = np.asarray(g.mask)
    np.testing.assert_allclose(np.asarray(got.colors)[live], want[live], atol=1e-4, rtol=1e-4)
    best = np.sum((m @ want - y) ** 2) + ridge * np.sum(want**2)
    np.testing.assert_allclose(info["objective_after"], best, rtol=1e-4)


@pytest.mark.parametrize("kind,precondition", [("rs", True), ("cholesky", True), ("rs", False)])
def test_never_raises_objective(kind, precondition):
    ridge = 1e-6
    for seed in range(3):
        g, target = _problem(10 + seed, kind)
        before = float(_objective(g, target, ridge))
        previous = before
        for iters in (0, 1, 2, 5, 12):
            solved, info = solve_colors_with_info(
                g, target, iters=iters, ridge=ridge, precondition=precondition
            )
            value = float(_objective(solved, target, ridge))
            # CG on an SPD system from the warm start is monotone; slack for float32 sums only.
            assert value <= previous * (1 + 1e-5) + 1e-6, (seed, iters, value, previous)
            assert info["objective_after"] <= info["objective_before"] * (1 + 1e-6)
            np.testing.assert_allclose(info["objective_before"], before, rtol=1e-4)
            previous = value
        assert previous < 0.9 * before  # and it does actually improve


def test_zero_iterations_keep_colors():
    g, target = _problem(3)
    out = solve_colors(g, target, iters=0)
    np.testing.assert_array_equal(np.asarray(out.colors), np.asarray(g.colors))


def test_masked_gaussians_stay_zero():
    g, target = _problem(4)
    # Mask out ten live Gaussians and give them (and the padding) non-zero colours.
    mask = g.mask.at[5:15].set(False)
    g = dataclasses.replace(g, mask=mask, colors=jnp.where(mask[:, None], g.colors, 7.0))
    out = solve_colors(g, target, iters=10)
    colors = np.asarray(out.colors)
    assert np.all(colors[~np.asarray(mask)] == 0.0)
    # The live colours are the solve of the live Gaussians alone: what the masked entries held
    # (7.0 above, −3.0 here) reaches neither the warm start nor the render.
    other = solve_colors(
        dataclasses.replace(g, colors=jnp.where(mask[:, None], g.colors, -3.0)), target, iters=10
    )
    np.testing.assert_array_equal(colors, np.asarray(other.colors))
    assert float(_objective(out, target, 0.0)) < 0.9 * float(_objective(g, target, 0.0))  # it solved


def test_bad_inputs():
    g, target = _problem(5)
    with pytest.raises(ValueError, match="does not match"):
        solve_colors(g, target[:-1])
    with pytest.raises(ValueError, match="iters"):
        solve_colors(g, target, iters=-1)


def test_initialize_runs_solve_by_default_for_quadtree_only():
    rng = np.random.default_rng(0)
    image = np.clip(rng.uniform(0, 1, (H, W, 3)) * 0.3 + np.linspace(0, 0.7, W)[None, :, None], 0, 1)
    qt = initialize("quadtree", image)
    assert qt.info["solve_iters"] == SOLVE_ITERS > 0
    # The logged MSE is that of the returned Gaussians (plus the solve's 1e-6 ridge term, per
    # pixel and channel), checked against their dense render; and the solve lowered it.
    g = qt.gaussians
    err = render_dense(g.means(), g.covariances(), g.colors, g.mask, H, W) - image
    objective = np.sum(np.square(err, dtype=np.float64)) + 1e-6 * np.sum(np.square(g.colors[g.mask]))
    np.testing.assert_allclose(qt.info["mse_after_solve"], objective / image.size, rtol=1e-4)
    assert qt.info["mse_after_solve"] < 0.9 * qt.info["mse_before_solve"]
    assert initialize("quadtree", image, solve_colors=0).info["solve_iters"] == 0
    rnd = initialize("random", image, num_gaussians=N)
    assert rnd.info["solve_iters"] == 0
    assert initialize("random", image, num_gaussians=N, solve_colors=3).info["solve_iters"] == 3
