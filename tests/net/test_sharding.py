"""The batched loss under data-parallel sharding of the batch axis (2 forced CPU devices)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

_SCRIPT = textwrap.dedent("""
    import jax, jax.numpy as jnp, numpy as np
    from jax.sharding import AxisType, NamedSharding, PartitionSpec as P
    from flax import nnx
    from igi_jax.net import InstantGINet, NetConfig, batch_loss, host_geometry
    H, W = 24, 40
    assert jax.device_count() == 2
    model = InstantGINet(NetConfig.tiny(), rngs=nnx.Rngs(0))
    rng = np.random.default_rng(0)
    images = jnp.asarray(rng.uniform(size=(2, H, W, 3)), jnp.float32)
    target = jnp.asarray(rng.uniform(size=(2, H, W)), jnp.float32)
    geom = host_geometry(np.stack([np.full((H, W), 0.6), np.full((H, W), 0.2)]).astype(np.float32), 3)
    graphdef, state = nnx.split(model)

    def step(s, images, target, geom):
        loss_fn = lambda s: batch_loss(nnx.merge(graphdef, s), images, target, geom)
        (loss, _), grads = jax.value_and_grad(loss_fn, has_aux=True)(s)
        return loss, grads

    l1, g1 = jax.jit(step)(state, images, target, geom)
    mesh = jax.make_mesh((2,), ("data",), axis_types=(AxisType.Auto,))
    rep, dat = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))
    args = (jax.device_put(state, rep), jax.device_put(images, dat), jax.device_put(target, dat),
            jax.device_put(geom, dat))
    assert args[1].sharding.spec == P("data") and args[3].mask.sharding.spec == P("data")
    l2, g2 = jax.jit(step)(*args)
    diff = max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g2)))
    scale = max(float(jnp.max(jnp.abs(a))) for a in jax.tree.leaves(g1))
    print(float(l1), float(l2), diff, scale)
    # Float32 reductions split across devices: equal to rounding, not bit for bit.
    assert abs(float(l1) - float(l2)) <= 1e-6 * abs(float(l1)), (l1, l2)
    assert diff <= 1e-5 * scale, (diff, scale)
""")


@pytest.mark.slow
def test_sharded_batch_gives_the_same_loss_and_gradients():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, timeout=900
    )
    assert out.returncode == 0, out.stderr[-3000:]
