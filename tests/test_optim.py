"""The project's Adan against a reference written from the Adan paper's equations (Algorithm 1)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from igi_jax import optim


def _paper_adan(theta, grads, lr, beta1=0.02, beta2=0.08, beta3=0.01, eps=1e-8):
    """Adan (Xie et al. 2022, Alg. 1) in the paper's notation (β = weight of the new term),
    no weight decay, with the bias corrections of the authors' implementation; float64."""
    theta = np.asarray(theta, np.float64).copy()
    m = v = n = np.zeros_like(theta)
    g_prev = None
    for k, g in enumerate(grads, start=1):
        g = np.asarray(g, np.float64)
        d = np.zeros_like(g) if g_prev is None else g - g_prev
        m = (1 - beta1) * m + beta1 * g
        v = (1 - beta2) * v + beta2 * d
        n = (1 - beta3) * n + beta3 * (g + (1 - beta2) * d) ** 2
        m_hat = m / (1 - (1 - beta1) ** k)
        v_hat = v / (1 - (1 - beta2) ** k)
        n_hat = n / (1 - (1 - beta3) ** k)
        eta = lr / (np.sqrt(n_hat) + eps)
        theta = theta - eta * (m_hat + (1 - beta2) * v_hat)
        g_prev = g
    return theta


def _grad_sequence(steps=50, shape=(7,), seed=0):
    rng = np.random.default_rng(seed)
    # Magnitudes from 1e-7 (per-pixel-mean losses) to 1, with sign changes and drift.
    scale = np.logspace(-7, 0, shape[0])
    return [scale * (rng.normal(size=shape) + 0.3 * np.sin(0.2 * t)) for t in range(steps)]


@pytest.mark.parametrize("lr", [1e-3, 1e-2])
def test_adan_matches_paper_after_50_steps(lr):
    grads = _grad_sequence()
    theta0 = np.linspace(-1, 1, 7)
    ref = _paper_adan(theta0, grads, lr)

    tx = optim.adan(lr)
    params = jnp.asarray(theta0, jnp.float32)
    state = tx.init(params)
    for g in grads:
        updates, state = tx.update(jnp.asarray(g, jnp.float32), state, params)
        params = optax.apply_updates(params, updates)
    moved = np.abs(ref - theta0)
    assert moved.min() > lr  # every coordinate, even the 1e-7 one, takes lr-sized steps
    np.testing.assert_allclose(np.asarray(params), ref, rtol=0, atol=1e-4 * lr * 50)


def test_adan_step_is_scale_invariant_for_tiny_gradients():
    """The reason for the fix: 1e-7 gradients must move a parameter as much as 1e-1 ones."""
    tx = optim.adan(1e-3)
    p = jnp.zeros(2)
    state = tx.init(p)
    for _ in range(10):
        u, state = tx.update(jnp.array([1e-7, 1e-1]), state, p)
        p = optax.apply_updates(p, u)
    # Constant gradient g: every step is lr·g/(|g| + eps); optax's default eps_root gave 1e-4×.
    np.testing.assert_allclose(p, -1e-2 * np.array([1e-7 / (1e-7 + 1e-8), 1.0]), rtol=1e-4)


def test_step_decay_factory_groups_and_decay():
    tx = optim.step_decay_optimizer(
        "adam", 1e-2, decay_every=3, decay_rate=0.5, groups={"a": 2.0}, group_names=("a", "b")
    )
    params = {"a": jnp.zeros(1), "b": jnp.zeros(1)}
    state = tx.init(params)
    moves = []
    for _ in range(4):
        u, state = tx.update({"a": jnp.ones(1), "b": jnp.ones(1)}, state, params)
        moves.append((float(u["a"][0]), float(u["b"][0])))
    np.testing.assert_allclose(moves[0], (-2e-2, -1e-2), rtol=1e-5)
    np.testing.assert_allclose(moves[3], (-1e-2, -5e-3), rtol=1e-5)  # halved after 3 steps
    with pytest.raises(ValueError, match="unknown optimizer"):
        optim.step_decay_optimizer("sgd", 1e-3, decay_every=1, decay_rate=0.5)


def test_schedule_warms_up_then_decays():
    sched = optim.step_decay_schedule(1e-2, decay_every=6, decay_rate=0.5, warmup_steps=4)
    rates = [float(sched(jnp.int32(c))) for c in range(8)]  # optax counts from 0 at step 1
    np.testing.assert_allclose(rates, [2.5e-3, 5e-3, 7.5e-3, 1e-2, 1e-2, 1e-2, 5e-3, 5e-3], rtol=1e-6)
    flat = optim.step_decay_schedule(1e-2, decay_every=6, decay_rate=0.5)
    np.testing.assert_allclose([float(flat(jnp.int32(c))) for c in (0, 5, 6)], [1e-2, 1e-2, 5e-3], rtol=1e-6)


def test_adan_jits():
    tx = optim.adan(1e-3)
    p = {"x": jnp.ones((3, 2))}
    s = tx.init(p)
    u, s = jax.jit(tx.update)({"x": jnp.full((3, 2), 1e-6, jnp.float32)}, s, p)
    assert u["x"].dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(u["x"])))
