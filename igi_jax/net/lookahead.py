"""Fine-tune-aware training: score the network's Gaussians after a few steps of the real fit.

The network's Gaussians are only a start: ``igi fit`` fine-tunes them. Training the network for its
step-0 render alone rewards Gaussians that are good as they stand (the first network's are ~2× wider
than the quad-tree init's, which makes every fit step slower and the long fit end lower). The
lookahead objective runs ``steps`` steps of the fit's own optimiser (:func:`igi_jax.fit.make_optimizer`
of ``configs/fit_default.py``: Adan, its warm-up, its per-group rates, on the raw parameters) on
the image's L2 loss, inside the train step, and evaluates the training loss at the result.

Two ways to use ``g_K`` (``Lookahead.mode``):

* ``"loss"``, first order (as first-order MAML): the fitted set is ``g + stop_gradient(g_K − g)``,
  so the network gets the loss gradient taken *at* ``g_K`` and does not differentiate through
  the inner steps. Measured: 10 steps reward wide Gaussians, which the long fine-tune pays for.
* ``"distill"`` (predict → optimise → distil): ``g_K`` under stop-gradient is a per-Gaussian
  target (the triangle ↔ Gaussian correspondence is one to one), and :func:`distill_distance`
  pulls the prediction towards it, so the net learns what the fine-tune would make of its output.

The inner steps cost ``steps`` extra render forward + backward passes per image. On crops with
padded edges (``DataConfig.edge_jitter``) they fit the image pixels only.

The render list capacity of the train step is an exact bound for Gaussians whose means lie in
their triangles and whose scales are at most ``MAX_SCALE_FACTOR`` × the ellipse's semi-major
axis (:func:`igi_jax.net.geometry.render_capacity_bound`); the fitted set is clipped to that
(means to the triangle's bounding box, which the bound also covers; scales to the cap), so the
capacity still holds and the render never overflows.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import optax

from igi_jax import covariance
from igi_jax.gaussians import SCALE_OFFSET
from igi_jax.net.geometry import MAX_SCALE_FACTOR
from igi_jax.net.model import TriangleGaussians
from igi_jax.render import render


@dataclasses.dataclass(frozen=True)
class Lookahead:
    """Settings of the lookahead objective (static under ``jit``).

    Attributes:
      steps: fit steps K (≥ 1).
      weight: ``"loss"``: the train loss is ``(1 − weight)·loss(g) + weight·loss(g_K)``;
        ``"distill"``: the train loss adds ``weight · distill_distance(g, g_K)``.
      tx: the fit's optimiser (one instance, so the jitted step sees one static value).
      mode: ``"loss"`` or ``"distill"`` (module docstring).
    """

    steps: int
    weight: float
    tx: optax.GradientTransformation
    mode: str = "loss"

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"lookahead mode must be one of {MODES}, got {self.mode!r}")


MODES = ("loss", "distill")


def _to_raw(g: TriangleGaussians, half: jax.Array) -> dict[str, jax.Array]:
    """Pixel-space Gaussians → the fit's raw RS parameters (``igi_jax.gaussians`` conventions)."""
    xy = jnp.arctanh(jnp.clip(g.means / half - 1.0, -1.0 + 1e-5, 1.0 - 1e-5))
    shape = jnp.concatenate([g.scales - SCALE_OFFSET, g.rot_logit[:, None]], axis=-1)
    return {"xy": xy, "shape": shape, "colors": g.colors}


def _from_raw(raw: dict[str, jax.Array], half: jax.Array) -> TriangleGaussians:
    return TriangleGaussians(
        means=(jnp.tanh(raw["xy"]) + 1.0) * half,
        scales=jnp.abs(raw["shape"][:, :2] + SCALE_OFFSET),
        rot_logit=raw["shape"][:, 2],
        colors=raw["colors"],
    )


def fitted(
    g: TriangleGaussians,
    image: jax.Array,  # [H, W, 3]
    mask: jax.Array,  # [T]
    vertices: jax.Array,  # [T, 3, 2]
    semi_major: jax.Array,  # [T]
    la: Lookahead,
    *,
    render_capacity: int,
    backend: str,
    valid: jax.Array | None = None,  # [H, W] bool
) -> TriangleGaussians:
    """``g`` after ``la.steps`` fit steps on the L2 loss over the ``valid`` pixels (default all),
    as ``g + stop_gradient(g_K − g)``: the value is ``g_K``, the gradient first order."""
    sg = jax.lax.stop_gradient
    height, width = image.shape[:2]
    half = jnp.asarray([width / 2, height / 2], jnp.float32)
    share = 1.0 if valid is None else jnp.maximum(jnp.mean(valid), 1e-6)

    def l2(raw):
        p = _from_raw(raw, half)
        cov = covariance.cov_from_rs(p.scales, p.theta)
        out = render(p.means, cov, p.colors, mask, height, width, capacity=render_capacity, backend=backend)
        err = (out - image) ** 2
        return jnp.mean(err if valid is None else jnp.where(valid[..., None], err, 0.0)) / share

    def step(_, carry):
        raw, state = carry
        grads = jax.grad(l2)(raw)
        updates, state = la.tx.update(grads, state, raw)
        return optax.apply_updates(raw, updates), state

    raw0 = _to_raw(jax.tree.map(sg, g), half)
    raw_k, _ = jax.lax.fori_loop(0, la.steps, step, (raw0, la.tx.init(raw0)))
    g_k = _from_raw(raw_k, half)
    g_k = g_k._replace(
        means=jnp.clip(g_k.means, vertices.min(axis=1), vertices.max(axis=1)),
        scales=jnp.minimum(g_k.scales, MAX_SCALE_FACTOR * semi_major[:, None]),
    )
    return jax.tree.map(lambda a, b: a + sg(b - a), g, g_k)


def distill_distance(
    g: TriangleGaussians,
    target: TriangleGaussians,
    mask: jax.Array,  # [T]
    semi_major: jax.Array,  # [T]
) -> jax.Array:
    """Mean over the live Gaussians of how far ``g`` is from ``target`` (no gradient to it):
    ``|Δμ|² / a² + ‖ΔΣ‖²_F / a⁴ + |Δc|²`` with ``a`` the triangle's ellipse semi-major axis, so
    that the position and shape terms do not depend on the triangle's size. The covariance, not
    (scale, angle), is compared: a Gaussian's angle is defined modulo π and arbitrary when round."""
    target = jax.tree.map(jax.lax.stop_gradient, target)
    a2 = jnp.maximum(semi_major, 1e-3) ** 2
    dc = covariance.cov_from_rs(g.scales, g.theta) - covariance.cov_from_rs(target.scales, target.theta)
    d = (
        jnp.sum((g.means - target.means) ** 2, -1) / a2
        + (dc[:, 0] ** 2 + 2 * dc[:, 1] ** 2 + dc[:, 2] ** 2) / a2**2  # (xx, xy, yy): ‖ΔΣ‖²_F
        + jnp.sum((g.colors - target.colors) ** 2, -1)
    )
    return jnp.where(mask, d, 0.0).sum() / jnp.maximum(mask.sum(), 1)
