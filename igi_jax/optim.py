"""Optimizers: the Adan of the Adan paper (and GaussianImage), and the one factory every fit uses.

Why not ``optax.adan`` (optax 0.2.8): it differs from the paper's Algorithm 1 (and from the
official PyTorch Adan that GaussianImage ships) in two places that matter here.

1. ``eps_root=1e-8`` is added *inside* the square root of the second moment. Our losses are means
   over all pixels, so a parameter's gradient is ~1e-6 and its second moment ~1e-12:
   ``sqrt(n + 1e-8) ≈ 1e-4`` instead of ``≈ 1e-6``, and every step was ~100× too small. The paper
   adds ``eps`` outside the root only.
2. The Nesterov coefficient: with decay-style betas (b2 = 0.92, i.e. the paper's β2 = 0.08), the
   paper's ``g + (1 − β2)(g − g_prev)`` and ``m + (1 − β2) v`` use 0.92; optax uses ``1 − b2`` =
   0.08 in both places.

``optax.adam`` matches PyTorch's Adam (``eps`` outside the root, ``eps_root=0``), so it is used
as is.

Conventions (decay-style betas, as PyTorch): ``m ← b1 m + (1 − b1) g``,
``v ← b2 v + (1 − b2)(g − g_prev)`` (``g_prev = g`` on the first step, so ``v₁ = 0``),
``n ← b3 n + (1 − b3)(g + b2 (g − g_prev))²``, update
``−lr · (m / (1 − b1ᵗ) + b2 · v / (1 − b2ᵗ)) / (sqrt(n / (1 − b3ᵗ)) + eps)``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class AdanState(NamedTuple):
    """Adan moments (pytrees like the params) and the step count."""

    m: optax.Updates
    v: optax.Updates
    n: optax.Updates
    prev_grad: optax.Updates
    count: jax.Array  # [] int32


def scale_by_adan(
    b1: float = 0.98, b2: float = 0.92, b3: float = 0.99, eps: float = 1e-8
) -> optax.GradientTransformation:
    """Adan's direction (to be scaled by ``−lr``), bias-corrected, ``eps`` outside the root."""

    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return AdanState(m=zeros, v=zeros, n=zeros, prev_grad=zeros, count=jnp.zeros([], jnp.int32))

    def update(grads, state, params=None):
        del params
        first = state.count == 0
        diff = jax.tree.map(lambda g, p: jnp.where(first, jnp.zeros_like(g), g - p), grads, state.prev_grad)
        m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.m, grads)
        v = jax.tree.map(lambda v, d: b2 * v + (1 - b2) * d, state.v, diff)
        n = jax.tree.map(lambda n, g, d: b3 * n + (1 - b3) * jnp.square(g + b2 * d), state.n, grads, diff)
        t = state.count + 1
        tf = t.astype(jnp.float32)
        c1, c2, c3 = 1 - b1**tf, 1 - b2**tf, 1 - b3**tf
        direction = jax.tree.map(lambda m, v, n: (m / c1 + b2 * v / c2) / (jnp.sqrt(n / c3) + eps), m, v, n)
        return direction, AdanState(m=m, v=v, n=n, prev_grad=grads, count=t)

    return optax.GradientTransformation(init, update)


def adan(
    learning_rate: optax.ScalarOrSchedule,
    b1: float = 0.98,
    b2: float = 0.92,
    b3: float = 0.99,
    eps: float = 1e-8,
) -> optax.GradientTransformation:
    """The paper's Adan (no weight decay): ``scale_by_adan`` then ``−learning_rate``."""
    return optax.chain(scale_by_adan(b1, b2, b3, eps), optax.scale_by_learning_rate(learning_rate))


def step_decay_schedule(
    lr: float, decay_every: int, decay_rate: float, warmup_steps: int = 0
) -> optax.Schedule:
    """``lr · min(1, t / warmup_steps) · decay_rate ** ((t − 1) // decay_every)`` at step ``t`` = 1, 2, …

    (optax passes the count ``t − 1``.) The warm-up ramps the rate linearly from
    ``lr / warmup_steps``: Adan's and Adam's bias-corrected first steps move every parameter by
    about the full rate whatever its gradient, which knocks a good init back by several dB.
    """

    def schedule(count: jax.Array | int) -> jax.Array:
        count = jnp.asarray(count)
        decay = decay_rate ** (count // decay_every).astype(jnp.float32)
        if warmup_steps <= 0:
            return lr * decay
        return lr * decay * jnp.minimum(1.0, (count + 1).astype(jnp.float32) / warmup_steps)

    return schedule


def step_decay_optimizer(
    name: str,
    lr: float,
    *,
    decay_every: int,
    decay_rate: float,
    groups: dict[str, float] | None = None,
    group_names: tuple[str, ...] = (),
    warmup_steps: int = 0,
) -> optax.GradientTransformation:
    """Adan or Adam with a staircase step decay, optionally with per-group lr multipliers.

    Args:
      name: ``"adan"`` (β .98/.92/.99, GaussianImage) or ``"adam"``.
      lr: base learning rate.
      decay_every, decay_rate: multiply the rate by ``decay_rate`` every ``decay_every`` steps.
      groups: multiplier per top-level key of the params dict; ``None`` or empty = all ×1.
      group_names: every top-level key of the params dict (needed when ``groups`` is given).
      warmup_steps: ramp every rate linearly over the first steps (0 = none, GaussianImage).
    """

    def one(scale: float) -> optax.GradientTransformation:
        sched = step_decay_schedule(lr * scale, decay_every, decay_rate, warmup_steps)
        if name == "adan":
            return adan(sched)
        if name == "adam":
            return optax.adam(sched)  # eps outside the root, eps_root = 0: as PyTorch's Adam
        raise ValueError(f"unknown optimizer {name!r}; expected 'adan' or 'adam'")

    if not groups:
        return one(1.0)
    return optax.multi_transform(
        {k: one(groups.get(k, 1.0)) for k in group_names}, {k: k for k in group_names}
    )
