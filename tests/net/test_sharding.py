"""The train step under data parallelism, on 2 forced CPU devices (a subprocess: the device count
is fixed when JAX starts).

What the code under test decides, checked after real steps (nothing here asserts a sharding the
test applied itself):

* the global batch is the per-device batch × the device count;
* ``predict`` and the host geometry stage hand back batches whose rows are split over the devices
  (each device holds its own row, equal to that row of the unsharded computation);
* ``update`` keeps the train state replicated and returns replicated scalar metrics;
* three steps on 2 devices equal three steps on 1 device with the same global batch: loss and
  gradient norm to 1e-5, Adam's state and the parameters to the float-order bounds of
  :func:`assert_same_adam_run`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence

import numpy as np
import pytest

_SCRIPT = textwrap.dedent("""
    import sys
    import jax, jax.numpy as jnp, numpy as np
    from jax.sharding import AxisType, Mesh, PartitionSpec as P
    from configs.net_tiny import get_config
    from igi_jax.train.config import with_data
    from igi_jax.train.step import DATA, Stepper, triangle_capacity

    assert jax.device_count() == 2
    base = get_config()
    crop, steps = base.data.crop, 3
    two = Stepper(with_data(base, batch_per_device=1))  # default mesh: every device
    one = Stepper(with_data(base, batch_per_device=2),
                  Mesh(np.asarray(jax.devices()[:1]), (DATA,), axis_types=(AxisType.Auto,)))
    assert (two.mesh.devices.size, two.global_batch) == (2, 2), two.global_batch
    assert (one.mesh.devices.size, one.global_batch) == (1, 2), one.global_batch

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:crop, 0:crop] / crop
    smooth = np.stack([x, y, 0.5 + 0.4 * np.sin(7 * x * y)], -1)
    images = np.stack([smooth, rng.uniform(size=(crop, crop, 3))]).astype(np.float32)
    target = np.stack([0.2 + 0.6 * x, 0.7 - 0.5 * y]).astype(np.float32)
    capacity = triangle_capacity(crop, base.kernel_size)

    def rows_split(name, leaf):
        # Each of the 2 devices holds one row of the batch: the rows are split, not copied.
        shards = leaf.addressable_shards
        assert len({s.device for s in shards}) == 2, (name, leaf.sharding)
        assert sorted(s.index[0].start or 0 for s in shards) == [0, 1], (name, leaf.sharding)
        for s in shards:
            assert s.data.shape == (1, *leaf.shape[1:]), (name, s.data.shape)

    def run(st, check):
        state, losses, norms, preds = st.initial_state(), [], [], []
        x, t = st.to_global(images), st.to_global(target)
        for _ in range(steps):
            pred = st.predict(state, x)
            geom = st.geometry(pred, capacity)
            if check:
                for name in ("ppm", "points", "counts"):
                    rows_split(name, getattr(pred, name))
                for path, leaf in jax.tree_util.tree_flatten_with_path(geom)[0]:
                    rows_split(jax.tree_util.keystr(path), leaf)
            state, metrics = st.update(state, x, t, geom)
            if check:
                for path, leaf in jax.tree_util.tree_flatten_with_path((state, metrics))[0]:
                    assert leaf.sharding.is_fully_replicated, (jax.tree_util.keystr(path), leaf.sharding)
                    assert len(leaf.sharding.device_set) == 2, jax.tree_util.keystr(path)
            preds.append(jax.tree.map(np.asarray, pred))
            losses.append(float(metrics["loss"]))
            norms.append(float(metrics["grad_norm"]))
        return jax.tree.map(np.asarray, state), losses, norms, preds

    init = jax.tree.map(np.asarray, one.initial_state())
    s2, l2, g2, p2 = run(two, check=True)
    s1, l1, g1, p1 = run(one, check=False)
    print("losses", l1, l2)
    for a, b in zip(p1, p2):  # the rows each device computed are the 1-device rows
        np.testing.assert_allclose(b.ppm, a.ppm, atol=1e-5)
        np.testing.assert_array_equal(b.points, a.points)
    np.testing.assert_allclose(l2, l1, rtol=1e-5)
    np.testing.assert_allclose(g2, g1, rtol=1e-5)
    assert l1[0] != l1[-1]  # the steps changed the model (else agreeing would be trivial)
    out = {}
    for part, name in ((0, "params"), (1, "opt")):
        for tag, st in (("one", s1), ("two", s2), ("init", init)):
            leaves = jax.tree.leaves(st[part])
            for a in leaves:
                assert not np.issubdtype(a.dtype, np.floating) or a.dtype == np.float32
            out.update({f"{name}_{tag}_{i}": a for i, a in enumerate(leaves)})
    for k in [k for k in out if k.startswith("opt_one_")]:  # step counters: exactly equal
        if not np.issubdtype(out[k].dtype, np.floating):
            np.testing.assert_array_equal(out[k], out[k.replace("_one_", "_two_")])
    np.savez(sys.argv[1], **out)
    print("ok")
""")


EPS32 = float(np.finfo(np.float32).eps)


def assert_same_adam_run(
    params: tuple[Sequence[np.ndarray], Sequence[np.ndarray]],
    init: Sequence[np.ndarray],
    moments: tuple[Sequence[np.ndarray], Sequence[np.ndarray]],
) -> None:
    """Two runs of the same Adam steps, one data-parallel, agree up to float reduction order.

    Gradients summed in another order differ by ~eps32 · √n · (cancellation); measured here,
    up to 5e-5 of a leaf's largest element. Adam's moments are linear (μ) and quadratic (ν) in the
    gradients, so they are compared per leaf at 1e-3 of the leaf's largest element. The parameters
    are not: Adam divides each element's step by its own gradient magnitude, and where that is
    near ε (1e-8: zero-init biases, the weights of barely-used channels) the step is as uncertain
    as the gradient itself, up to a few tenths of a percent of the leaf's movement after 3 steps
    (measured 0.28 %). They are compared to 1e-2 of each leaf's movement from ``init``, plus 8 ulp
    of its values. A real data-parallel fault (a device's rows dropped, a mean taken twice, a
    stale replica) moves a leaf by O(1) of its movement and fails both checks; the global
    gradient norm and the loss, compared tightly by the script, catch a gradient scaled by a
    constant, to which Adam is blind.

    Args:
      params: ``(one, two)``: the parameter leaves of the two runs, in the same order.
      init: the parameter leaves before the first step.
      moments: ``(one, two)``: the optimizer state's float leaves.
    """
    m1, m2 = moments
    assert len(m1) == len(m2)
    for i, (a, b) in enumerate(zip(m1, m2, strict=True)):
        err = float(np.max(np.abs(a - b)))
        assert err <= 1e-3 * float(np.max(np.abs(a))), f"optimizer leaf {i} {a.shape}: differs by {err:.3g}"
    one, two = params
    assert len(one) == len(two) == len(init) > 0
    for i, (a, b, a0) in enumerate(zip(one, two, init, strict=True)):
        moved = float(np.max(np.abs(a - a0)))
        tol = 1e-2 * moved + 8 * EPS32 * float(np.max(np.abs(a)))
        err = float(np.max(np.abs(a - b)))
        assert err <= tol, f"parameter leaf {i} {a.shape}: differs by {err:.3g}, moved {moved:.3g}"


@pytest.mark.slow
def test_two_devices_split_the_batch_keep_the_state_replicated_and_match_one_device(tmp_path):
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    states = tmp_path / "states.npz"
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(states)],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    assert out.stdout.rstrip().endswith("ok"), out.stdout
    z = np.load(states)

    def leaves(prefix):
        n = sum(k.startswith(prefix) for k in z.files)
        return [z[f"{prefix}{i}"] for i in range(n)]

    floats = lambda xs: [x for x in xs if np.issubdtype(x.dtype, np.floating)]  # noqa: E731
    assert_same_adam_run(
        (leaves("params_one_"), leaves("params_two_")),
        leaves("params_init_"),
        (floats(leaves("opt_one_")), floats(leaves("opt_two_"))),
    )
