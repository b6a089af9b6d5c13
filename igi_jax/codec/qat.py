"""Quantisation-aware fine-tuning: the fit's loop with the decoder's quantisers in the render.

The Gaussians train through :func:`igi_jax.codec.quantize.quantize` (straight-through), with the
fit's own optimiser (:func:`igi_jax.fit.unit_optimizer`, rate multipliers traced) and renderer;
the quantisers' scale and offset and the colour codebooks train beside them with Adam. The loss
is the image L2 of the *quantised* render plus the VQ codebook / commitment loss, so what the
decoder shows is what was optimised. Blocks of ``log_every`` steps are one jitted ``fori_loop``
each, and a block whose render lists overflowed is re-run with longer ones, as in the fit. The
blocks are kept by problem shape (image size, count and list buckets, settings), so the images
and rates of an RD run share them.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from igi_jax import compile_cache, metrics
from igi_jax import gaussians as gaussians_lib
from igi_jax.buckets import bucket
from igi_jax.codec import quantize as q_lib
from igi_jax.codec.quantize import QuantConfig
from igi_jax.fit import group_scales, program_key, scale_groups, unit_optimizer
from igi_jax.fit_config import FitConfig
from igi_jax.gaussians import Gaussians
from igi_jax.render import api as render_api

VQ_WEIGHT = 1.0  # of the codebook / commitment loss beside the image L2
SHAPE_LR_SCALE = 0.1  # the quantiser's scale / offset move slower than the Gaussians


@dataclasses.dataclass
class QatResult:
    """The fine-tuned Gaussians (unquantised), their quantiser state, and the log."""

    gaussians: Gaussians
    state: q_lib.QState
    image: jax.Array  # [H, W, 3] the quantised render
    psnr: float
    history: list[dict[str, float]]
    seconds: float


def _optimizer(cfg: FitConfig) -> optax.GradientTransformation:
    labels = q_lib.QState("range", "range", "codebook")
    return optax.multi_transform(
        {"range": optax.adam(cfg.lr * SHAPE_LR_SCALE), "codebook": optax.adam(cfg.lr)}, labels
    )


def _build(kind: str, size: tuple[int, int], n: int, capacity: int, qcfg: QuantConfig, cfg: FitConfig):
    """The compiled QAT block for ``n`` Gaussians of ``kind`` on an image of ``size = (H, W)``:
    ``(params, q, sg, sq, num_steps, mask, target, scales) → (params, q, sg, sq, psnr, max_count,
    image)``. Kept by problem shape (:mod:`igi_jax.compile_cache`), so the images and rates of an
    RD run share it; the count enters only through its bucket."""
    tx_g, tx_q = unit_optimizer(cfg), _optimizer(cfg)
    h, w = size

    def render(pq, mask):
        gq = Gaussians(pq["xy"], pq["shape"], pq["colors"], mask, kind=kind, height=h, width=w)
        return render_api.render_with_count(
            gq.means(), gq.covariances(), gq.colors, mask, h, w, capacity=capacity, backend=cfg.backend
        )

    def loss(params, q, mask, target):
        g = Gaussians(params["xy"], params["shape"], params["colors"], mask, kind=kind, height=h, width=w)
        pq, vq = q_lib.quantize_with_loss(params, q, q_lib.footprint(g.covariances(), mask), qcfg, (h, w))
        image, count = render(pq, mask)
        return jnp.mean((image - target) ** 2) + VQ_WEIGHT * vq, count

    def step(_, carry):
        params, q, sg, sq, max_count, mask, target, scales = carry
        (_, count), (gp, gq) = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(params, q, mask, target)
        up, sg = tx_g.update(gp, sg, params)
        uq, sq = tx_q.update(gq, sq, q)
        params = jax.tree.map(
            lambda n, o: jnp.where(mask[:, None], n, o),
            optax.apply_updates(params, scale_groups(up, scales)),
            params,
        )
        q = optax.apply_updates(q, uq)
        q = dataclasses.replace(q, shape_scale=jnp.maximum(q.shape_scale, 1e-6))
        return params, q, sg, sq, jnp.maximum(max_count, count), mask, target, scales

    def block(params, q, sg, sq, num_steps, mask, target, scales):
        init = (params, q, sg, sq, jnp.int32(0), mask, target, scales)
        params, q, sg, sq, max_count, *_ = jax.lax.fori_loop(0, num_steps, step, init)
        image, count = render(q_lib.quantize(params, q, qcfg, (h, w)), mask)
        psnr = metrics.psnr_from_mse(jnp.mean((jnp.clip(image, 0, 1) - target) ** 2))
        return params, q, sg, sq, psnr, jnp.maximum(max_count, count), image

    return tx_g, tx_q, jax.jit(block)


def _program(family: tuple, n: int, capacity: int, qcfg: QuantConfig, cfg: FitConfig):
    _, kind, size, *_ = family
    build = lambda: _build(kind, size, n, capacity, qcfg, cfg)  # noqa: E731
    return compile_cache.compiled("qat", family, (n, capacity), build)[0]


def _current(g: Gaussians, params: dict[str, jax.Array], mask: jax.Array) -> Gaussians:
    """``g`` with the padded block's parameters and live mask, sliced to ``g``'s capacity on the
    host (a device slice to an exact count would compile once per count)."""
    rows = {k: jax.device_put(np.asarray(v)[: g.capacity]) for k, v in params.items()}
    return dataclasses.replace(g.with_params(rows), mask=jax.device_put(np.asarray(mask)[: g.capacity]))


def _trimmed(mask: jax.Array, live: np.ndarray, capacity: int) -> jax.Array:
    """The padded ``mask`` with only ``live [capacity]``'s Gaussians kept (never one revived)."""
    live = np.asarray(live, bool)
    if live.shape != (capacity,):
        raise ValueError(f"trim returned a mask of shape {live.shape}, expected ({capacity},)")
    new = np.array(mask)  # a host copy
    new[:capacity] &= live
    return jax.device_put(new)


def fit_quantized(
    g: Gaussians,
    target: np.ndarray,
    steps: int,
    qcfg: QuantConfig = QuantConfig(),
    cfg: FitConfig = FitConfig(),
    *,
    key: jax.Array,
    callback: Callable[[dict[str, float]], Any] | None = None,
    trim: Callable[[Gaussians, q_lib.QState, int], np.ndarray | None] | None = None,
) -> QatResult:
    """``steps`` quantisation-aware steps from ``g`` (a fitted set) against ``target [H, W, 3]``.

    ``cfg`` gives the optimiser, its rate (the Gaussians'), ``log_every`` and the backend; its
    ``steps`` and ``seconds`` are not used. ``callback`` gets every log entry (``step``,
    ``seconds``, ``psnr`` of the quantised render). ``trim(gaussians, state, step)``, called after
    every block but the last, may return a new live mask ``[g.capacity]`` (a subset of the live
    ones): the Gaussians it drops leave the render, and the steps left fine-tune the rest.
    """
    target = jnp.asarray(np.asarray(target, np.float32))
    if target.shape != (g.height, g.width, 3):
        raise ValueError(
            f"target shape {target.shape} does not match Gaussians sized {(g.height, g.width, 3)}"
        )
    if steps < 0:
        raise ValueError(f"steps must be ≥ 0, got {steps}")
    t0 = time.perf_counter()
    qcfg = qcfg.resolved(g.num_live(), g.height, g.width)
    size = (g.height, g.width)
    q = q_lib.init_state(g, qcfg, key)
    bucketed = gaussians_lib.pad_to_bucket(g)
    gq = bucketed.with_params(q_lib.quantize(bucketed.params(), q, qcfg, size))
    wanted = render_api.required_capacity(gq.means(), gq.covariances(), gq.mask, *size, backend=cfg.backend)
    # The count and list lengths enter as buckets, so the images and rates of an RD run share programs.
    family = ("qat", g.kind, size, qcfg, program_key(cfg))
    n, capacity = compile_cache.choose(family, (bucket(g.capacity), bucket(int(1.25 * wanted), minimum=1024)))
    padded = gaussians_lib.pad(g, n)
    params, mask, scales = padded.params(), padded.mask, group_scales(cfg)
    tx_g, tx_q, block = _program(family, n, capacity, qcfg, cfg)
    sg, sq = tx_g.init(params), tx_q.init(q)
    history: list[dict[str, float]] = []
    step = 0
    while True:
        k = 0 if step == 0 and not history else min(cfg.log_every, steps - step)
        out = block(params, q, sg, sq, jnp.int32(k), mask, target, scales)
        if int(out[5]) > capacity:  # lists overflowed: longer ones, same block again
            capacity = bucket(int(int(out[5]) * 1.25), minimum=1024)
            tx_g, tx_q, block = _program(family, n, capacity, qcfg, cfg)
            continue
        params, q, sg, sq, psnr, _, image = out
        psnr = float(psnr)
        if math.isnan(psnr):
            raise FloatingPointError(f"quantisation-aware fine-tuning diverged by step {step + k}")
        step += k
        history.append({"step": step, "seconds": time.perf_counter() - t0, "psnr": psnr})
        if callback:
            callback(history[-1])
        if step >= steps:
            break
        if trim is not None:
            live = trim(_current(g, params, mask), q, step)
            if live is not None:
                mask = _trimmed(mask, live, g.capacity)
    return QatResult(
        gaussians=_current(g, params, mask),
        state=q,
        image=image,
        psnr=history[-1]["psnr"],
        history=history,
        seconds=time.perf_counter() - t0,
    )
