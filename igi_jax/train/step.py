"""The sharded train step: one code path for 1 or N devices, on 1 or N hosts.

The step is two jitted stages around a host stage, because dithering + Delaunay depend on the
predicted PPM and are not differentiable:

1. ``predict``: the network's PPM for a batch (``[B, H, W]``) and its dithered points, sharded
   over ``data`` (:class:`Prediction`);
2. host: :func:`igi_jax.net.geometry_from_points` (border points → Qhull → ellipses) on this
   host's rows; it reads only the points, so it never queues a device call behind the update;
3. ``update``: :func:`igi_jax.net.batch_loss`, its gradient, gradient clipping, Adam; the state
   is replicated (``P()``), the batch and geometry are split over devices (``P("data")``), and
   the state is donated.

The loop overlaps stage 2 of batch t+1 with stage 3 of batch t (see :mod:`igi_jax.train.loop`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

from igi_jax import net as net_lib
from igi_jax.errors import InputError
from igi_jax.net.lookahead import Lookahead
from igi_jax.train.config import TrainConfig

DATA = "data"


def make_mesh() -> jax.sharding.Mesh:
    """All visible devices (every host) on one ``data`` axis; plain (Auto) data parallel."""
    return jax.make_mesh((jax.device_count(),), (DATA,), axis_types=(AxisType.Auto,))


def make_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    """Adam with warm-up + cosine decay ``lr → lr_end`` over ``steps``, global-norm clipping."""
    sched = optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=cfg.lr,
        warmup_steps=min(cfg.warmup, cfg.steps - 1),
        decay_steps=cfg.steps,
        end_value=cfg.lr_end,
    )
    return optax.chain(optax.clip_by_global_norm(cfg.clip_norm), optax.adam(sched))


def net_config(cfg: TrainConfig) -> net_lib.NetConfig:
    """The network a config trains: its preset, with the UNet's padding rule that its crops teach.

    Crops whose image ends up to ``m − 1`` px before their bottom/right edges
    (``edge_jitter ≥ m − 1``, ``m = lcm(stride, k)``) show the net every pairing of UNet padding
    and dithering remainder that an image padded to ``≡ crop (mod m)`` gives, so the trained net
    pads that way (:class:`igi_jax.net.NetConfig` ``pad_modulus``); otherwise to the stride.
    """
    net = net_lib.NetConfig.preset(cfg.net)
    m = math.lcm(net.stride, cfg.kernel_size)
    if cfg.data.edge_jitter >= m - 1:
        net = dataclasses.replace(net, pad_modulus=m, pad_residue=cfg.data.crop % m)
    return net


def create(cfg: TrainConfig) -> tuple[nnx.Module, nnx.Optimizer]:
    """The model (fresh from ``cfg.seed``, or ``cfg.init_weights``) and a fresh optimizer.

    Raises:
      InputError: ``cfg.init_weights`` holds another architecture than the ``cfg.net`` preset.
    """
    net = net_config(cfg)
    if cfg.init_weights is None:
        model = net_lib.InstantGINet(net, rngs=nnx.Rngs(cfg.seed))
    else:
        model = net_lib.load_weights(net_lib.resolve_weights(cfg.init_weights))
        padding = {"pad_modulus": net.pad_modulus, "pad_residue": net.pad_residue}
        if dataclasses.replace(model.cfg, **padding) != net:
            raise InputError(
                f"init_weights {cfg.init_weights}: its network is not the {cfg.net!r} preset "
                f"({model.cfg} vs {net})"
            )
        # Same weights; the padding rule is what this run's crops teach.
        model.cfg = model.unet.cfg = net
    return model, nnx.Optimizer(model, make_optimizer(cfg), wrt=nnx.Param)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Prediction:
    """The predict stage's output for a batch (no gradient), sharded over ``data``.

    Attributes:
      ppm: ``[B, H, W]`` predicted position probability maps.
      points: ``[B, P, 2]`` dithered points (pixels, −1 padded).
      counts: ``[B]`` int32 real points per image.
    """

    ppm: jax.Array
    points: jax.Array
    counts: jax.Array


@functools.partial(jax.jit, static_argnums=(0, 3))
def _predict(
    graphdef: nnx.GraphDef, state: Any, images: jax.Array, k: int, sizes: jax.Array | None = None
) -> Prediction:
    model, _ = nnx.merge(graphdef, state)
    ppm = jax.lax.stop_gradient(net_lib.predict_ppm(model, images)[1])
    points, counts = net_lib.dither_batch(ppm, k, sizes=sizes)
    return Prediction(ppm=ppm, points=points, counts=counts)


@functools.partial(jax.jit, static_argnums=(0, 5), donate_argnums=1)
def _update(
    graphdef: nnx.GraphDef,
    state: Any,
    images: jax.Array,
    target_ppm: jax.Array,
    geom: net_lib.Geometry,
    objective: tuple[Lookahead | None, float],
    sizes: jax.Array | None = None,
) -> tuple[Any, dict[str, jax.Array]]:
    model, opt = nnx.merge(graphdef, state)
    lookahead, width_prior = objective
    (loss, aux), grads = nnx.value_and_grad(
        lambda m: net_lib.batch_loss(
            m, images, target_ppm, geom, lookahead=lookahead, width_prior=width_prior, sizes=sizes
        ),
        has_aux=True,
    )(model)
    grad_norm = optax.tree.norm(grads)
    opt.update(model, grads)
    return nnx.state((model, opt)), {"loss": loss, "grad_norm": grad_norm, **aux}


class Stepper:
    """The jitted stages of one config on one mesh; ``state`` is ``nnx.state((model, opt))``.

    The jitted functions live at module level with the graph definition as a static argument, so
    two runs of the same config in one process (a resume, a test) share their compilations.
    Output shardings follow the inputs' (replicated state, ``data``-sharded batch).
    """

    def __init__(self, cfg: TrainConfig, mesh: jax.sharding.Mesh | None = None):
        self.cfg = cfg
        self.mesh = make_mesh() if mesh is None else mesh
        self.replicated = NamedSharding(self.mesh, P())
        self.sharded = NamedSharding(self.mesh, P(DATA))
        # Per-device batch in the config; the global and per-host batches follow the run's devices.
        self.global_batch = cfg.data.global_batch(self.mesh.devices.size)
        self.host_batch = cfg.data.batch_per_device * sum(
            d.process_index == jax.process_index() for d in self.mesh.devices.flat
        )
        model, opt = create(cfg)
        self.graphdef, state = nnx.split((model, opt))
        self.abstract_state = jax.tree.map(
            lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=self.replicated), state
        )
        self._init_state = jax.tree.map(np.asarray, state)  # on the host: never donated
        self.objective = (make_lookahead(cfg), float(cfg.width_prior))
        self._render_capacity = 0

    def initial_state(self) -> Any:
        """The initial state, replicated over the mesh: a fresh copy each call (``update`` donates it)."""
        return jax.device_put(self._init_state, self.replicated)

    def model(self, state: Any) -> nnx.Module:
        return nnx.merge(self.graphdef, state)[0]

    def sizes(self, batch: dict[str, Any]) -> jax.Array | None:
        """The batch's image sizes ``[B, 2]`` where crops have padded edges, else ``None``."""
        return batch["size"] if self.cfg.data.edge_jitter > 0 else None

    def predict(self, state: Any, images: jax.Array, sizes: jax.Array | None = None) -> Prediction:
        """PPMs and their dithered points (no gradient), sharded like ``images``."""
        return _predict(self.graphdef, state, images, self.cfg.kernel_size, sizes)

    def abstract_prediction(self) -> Prediction:
        """Shapes and shardings of :meth:`predict`'s output (to restore a checkpoint into)."""
        c = self.cfg.data.crop
        images = jax.ShapeDtypeStruct((self.global_batch, c, c, 3), np.float32)
        sizes = jax.ShapeDtypeStruct((self.global_batch, 2), np.int32) if self.cfg.data.edge_jitter else None
        shapes = jax.eval_shape(lambda s, x, z: self.predict(s, x, z), self.abstract_state, images, sizes)
        return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=self.sharded), shapes)

    def update(
        self,
        state: Any,
        images: jax.Array,
        target_ppm: jax.Array,
        geom: net_lib.Geometry,
        sizes: jax.Array | None = None,
    ) -> tuple[Any, dict[str, jax.Array]]:
        """One optimiser step; ``state`` is donated."""
        return _update(self.graphdef, state, images, target_ppm, geom, self.objective, sizes)

    # -- host-side helpers (multi-host aware) --------------------------------------------------

    def to_global(self, local: Any) -> Any:
        """This host's rows ``[B_host, ...]`` (numpy pytree) → global arrays sharded on ``data``."""
        return jax.tree.map(
            lambda x: jax.make_array_from_process_local_data(self.sharded, np.asarray(x)), local
        )

    @staticmethod
    def to_local(x: jax.Array) -> np.ndarray:
        """The rows of a ``data``-sharded global array held by this host, in order."""
        if jax.process_count() == 1:
            return np.asarray(x)
        shards = sorted(x.addressable_shards, key=lambda s: s.index[0].start or 0)
        return np.concatenate([np.asarray(s.data) for s in shards])

    def geometry(self, pred: Prediction, capacity: int, sizes: np.ndarray | None = None) -> Any:
        """Host stage on this host's rows, back as global sharded arrays.

        Reads only ``pred.points`` and ``pred.counts`` (which the predict stage, dispatched before
        the update, has made) and ``sizes``, this host's ``[B_host, 2]`` image sizes (host
        arrays, from the batch): no device work is queued here.
        """
        c = self.cfg.data.crop
        # The render capacity is static in the update: never let it shrink, so that it settles
        # on a few compiled values instead of following every batch's bucket.
        local, _ = net_lib.geometry_from_points(
            self.to_local(pred.points),
            self.to_local(pred.counts),
            c,
            c,
            capacity=capacity,
            min_render_capacity=self._render_capacity,
            sizes=sizes,
        )
        if jax.process_count() > 1:  # the render capacity is static: every host must agree
            from jax.experimental import multihost_utils

            need = multihost_utils.process_allgather(np.int32(local.render_capacity))
            local = dataclasses.replace(local, render_capacity=int(np.max(need)))
        self._render_capacity = local.render_capacity
        return self.to_global(local)


def make_lookahead(cfg: TrainConfig) -> Lookahead | None:
    """The lookahead objective of ``cfg`` with ``igi fit``'s default fit optimiser, or ``None``."""
    if cfg.lookahead_steps == 0:
        return None
    from igi_jax import one_image
    from igi_jax.fit import make_optimizer

    options, _ = one_image.load_config(None)  # configs/fit_default.py: what users fine-tune with
    return Lookahead(
        cfg.lookahead_steps, cfg.lookahead_weight, make_optimizer(options.fit), cfg.lookahead_mode
    )


def triangle_capacity(crop: int, k: int) -> int:
    """A static triangle count that every ``crop × crop`` sample fits, for any PPM.

    At most one point per k×k cell plus the border points (≤ 4·(crop/k + 1) with a nearest-
    neighbour spacing ≥ k); a planar triangulation of P points has at most 2P − 5 triangles.
    """
    cells = -(-crop // k)
    points = cells * cells + 4 * (cells + 1) + 4
    return 2 * points - 5


def mean_metrics(history: list[dict[str, Any]]) -> dict[str, float]:
    """Average a list of metric dicts (device scalars are fetched here, once)."""
    if not history:
        return {}
    fetched = jax.device_get(history)
    return {k: float(jnp.mean(jnp.asarray([h[k] for h in fetched]))) for k in fetched[0]}
