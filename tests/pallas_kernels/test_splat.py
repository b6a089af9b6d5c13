"""Pallas splat kernels vs the tiled XLA reference and the dense autodiff reference.

One suite, run twice (STYLE.md): ``SplatSuite`` with ``INTERPRET``; ``TestSplatInterpret`` runs it
in the Pallas interpreter on CPU, ``TestSplatGPU`` compiles the Triton kernels on a GPU (skipped
elsewhere). ``TestSplatLowering`` proves on a CPU-only machine that both kernels and the full
gradient lower to Triton custom calls for the ``cuda`` platform.

Interpret mode runs the grid sequentially: images stay ≤ 64×64 with ≤ 300 Gaussians.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax._src.mesh import AbstractDevice
from jax.sharding import AbstractMesh

from igi_jax import binning, covariance, gaussians
from igi_jax.render import render
from igi_jax.render.dense import render_dense as splat_dense
from pallas_kernels import splat
from pallas_kernels.splat_reference import splat_reference

H, W = 40, 23  # not multiples of 16: partial tiles on both axes
N = 150
NP = 256  # random_init pads N live Gaussians to bucket(N) = 256 entries
CAPACITY = 2048

# float32 throughout. Forward: the kernel and the references sum the same ≤ ~60 terms of size ≤ 1
# per pixel in different orders, so they agree to a few ulps of O(1) values.
FWD_ATOL = 1e-5
# VJPs: pixel sums of up to 256 terms, then a segment sum; relative to the largest entry of
# each gradient, float32 reassociation stays well under 1e-5, the chain through the
# RS / Cholesky parameterizations under 1e-4.
VJP_RTOL = 1e-4

TRITON_CUSTOM_CALL = "__gpu$xla.gpu.triton"  # Triton pallas_call lowering (jax 0.10.2 and 0.12)


# Everything is jitted at module level: op-by-op dispatch of the binning and the references
# costs more than the interpreted kernels, and each jit compiles once per shape for all tests.
_STATIC = ("height", "width", "interpret", "chunk")


@functools.partial(jax.jit, static_argnames=("n", "height", "width", "kind", "capacity"))
def _jit_scene(key, *, n, height, width, kind, capacity):
    g = gaussians.random_init(key, n, height, width, kind=kind)
    means, cov = g.means(), g.covariances()
    b = binning.bin_gaussians(means, cov, g.mask, height, width, capacity)
    return means, covariance.conic_from_cov(cov), g.colors, b, g


def _scene(key, n=N, height=H, width=W, kind="rs", capacity=CAPACITY):
    """Random Gaussians → ``(means, conics, colors, binning, gaussians)``."""
    scene = _jit_scene(key, n=n, height=height, width=width, kind=kind, capacity=capacity)
    assert int(scene[3].num_intersections) <= capacity
    return scene


_bin = jax.jit(binning.bin_gaussians, static_argnums=(3, 4, 5))
_reference = jax.jit(splat_reference, static_argnums=(4, 5))


@functools.partial(jax.jit, static_argnames=_STATIC)
def _kernel(means, conics, colors, b, *, height, width, interpret, chunk=splat.DEFAULT_CHUNK):
    return splat.rasterize(means, conics, colors, b, height, width, interpret=interpret, chunk=chunk)


@functools.partial(jax.jit, static_argnames=_STATIC)
def _kernel_vjp(means, conics, colors, b, v_image, *, height, width, interpret, chunk=splat.DEFAULT_CHUNK):
    fn = functools.partial(splat.rasterize, b=b, height=height, width=width, interpret=interpret, chunk=chunk)
    return jax.vjp(fn, means, conics, colors)[1](v_image)


@functools.partial(jax.jit, static_argnames=("height", "width"))
def _reference_vjp(means, conics, colors, b, v_image, *, height, width):
    fn = functools.partial(splat_reference, b=b, height=height, width=width)
    return jax.vjp(fn, means, conics, colors)[1](v_image)


_dense = jax.jit(splat_dense, static_argnums=(4, 5))


def _rel_err(got, want) -> float:
    return float(jnp.max(jnp.abs(got - want)) / jnp.maximum(jnp.max(jnp.abs(want)), 1e-30))


def _assert_vjps_close(got, want, rtol=VJP_RTOL):
    for i, (a, r) in enumerate(zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True)):
        assert bool(jnp.all(jnp.isfinite(a))), f"leaf {i} not finite"
        assert _rel_err(a, r) <= rtol, f"leaf {i}: relative error {_rel_err(a, r):.2e} > {rtol}"


class SplatSuite:
    """Kernel-vs-reference checks; subclasses set ``INTERPRET``."""

    INTERPRET = False

    def _rasterize(self, means, conics, colors, b, height, width, **kwargs):
        return _kernel(
            means, conics, colors, b, height=height, width=width, interpret=self.INTERPRET, **kwargs
        )

    def _vjp_pair(self, means, conics, colors, b, height, width, v_image):
        """VJPs of kernel and XLA reference w.r.t. (means, conics, colors)."""
        size = dict(height=height, width=width)
        return (
            _kernel_vjp(means, conics, colors, b, v_image, interpret=self.INTERPRET, **size),
            _reference_vjp(means, conics, colors, b, v_image, **size),
        )

    def test_forward_matches_references(self):
        means, conics, colors, b, g = _scene(jax.random.key(0))
        image = self._rasterize(means, conics, colors, b, H, W)
        assert image.shape == (H, W, 3) and image.dtype == jnp.float32
        ref = _reference(means, conics, colors, b, H, W)
        dense = _dense(means, g.covariances(), colors, g.mask, H, W)
        np.testing.assert_allclose(image, ref, rtol=0, atol=FWD_ATOL)
        np.testing.assert_allclose(image, dense, rtol=0, atol=FWD_ATOL)
        assert float(jnp.max(image)) > 0.5  # a real image, not a vacuous zero match

    def test_vjp_matches_reference(self):
        means, conics, colors, b, _ = _scene(jax.random.key(1))
        v_image = jax.random.normal(jax.random.key(2), (H, W, 3), jnp.float32)
        got, want = self._vjp_pair(means, conics, colors, b, H, W, v_image)
        _assert_vjps_close(got, want)

    @pytest.mark.parametrize("kind", gaussians.KINDS)
    def test_vjp_through_parameterization_matches_dense(self, kind):
        _, _, _, b, g = _scene(jax.random.key(3), kind=kind)
        v_image = jax.random.normal(jax.random.key(4), (H, W, 3), jnp.float32)

        @functools.partial(jax.jit, static_argnums=1)
        def grad(params, dense):
            def loss(params):
                gp = g.with_params(params)
                means, cov = gp.means(), gp.covariances()
                if dense:
                    image = splat_dense(means, cov, gp.colors, gp.mask, H, W)
                else:
                    conics = covariance.conic_from_cov(cov)
                    image = splat.rasterize(means, conics, gp.colors, b, H, W, interpret=self.INTERPRET)
                return jnp.sum(image * v_image)

            return jax.grad(loss)(params)

        _assert_vjps_close(grad(g.params(), False), grad(g.params(), True))

    def test_crowded_tile_spans_many_chunks(self):
        # All NP Gaussians (small, 256) piled into tile 0: 8 chunks of 32 in one program.
        k_xy, k_col, k_v = jax.random.split(jax.random.key(5), 3)
        means = jax.random.uniform(k_xy, (NP, 2), jnp.float32, 2.0, 14.0)
        cov = jnp.tile(jnp.asarray([[2.0, 0.3, 1.5]], jnp.float32), (NP, 1))
        colors = jax.random.uniform(k_col, (NP, 3), jnp.float32) / NP * 20
        mask = jnp.ones((NP,), bool)
        b = _bin(means, cov, mask, H, W, CAPACITY)
        assert int(b.tile_end[0] - b.tile_start[0]) == NP
        conics = covariance.conic_from_cov(cov)
        image = self._rasterize(means, conics, colors, b, H, W)
        np.testing.assert_allclose(image, _dense(means, cov, colors, mask, H, W), rtol=0, atol=FWD_ATOL)
        v_image = jax.random.normal(k_v, (H, W, 3), jnp.float32)
        got, want = self._vjp_pair(means, conics, colors, b, H, W, v_image)
        _assert_vjps_close(got, want)

    def test_chunk_size_does_not_change_result(self):
        means, conics, colors, b, _ = _scene(jax.random.key(6))
        a = self._rasterize(means, conics, colors, b, H, W, chunk=64)
        np.testing.assert_allclose(a, self._rasterize(means, conics, colors, b, H, W), rtol=0, atol=FWD_ATOL)

    def test_padded_set_renders_like_unpadded(self):
        means, conics, colors, b, g = _scene(jax.random.key(7), kind="cholesky")
        assert g.num_live() == N < NP  # random_init pads N live Gaussians to NP
        live = np.asarray(g.mask)
        cov = g.covariances()
        b_live = _bin(means[live], cov[live], g.mask[live], H, W, CAPACITY)
        v_image = jax.random.normal(jax.random.key(8), (H, W, 3), jnp.float32)
        image = self._rasterize(means, conics, colors, b, H, W)
        image_live = self._rasterize(means[live], conics[live], colors[live], b_live, H, W)
        # Same per-tile lists in the same order: identical sums, bit for bit.
        np.testing.assert_array_equal(image, image_live)
        grads = self._vjp_pair(means, conics, colors, b, H, W, v_image)[0]
        grads_live = self._vjp_pair(means[live], conics[live], colors[live], b_live, H, W, v_image)[0]
        for v, v_live in zip(grads, grads_live, strict=True):
            np.testing.assert_array_equal(v[live], v_live)
            np.testing.assert_array_equal(v[~live], 0.0)

    def test_overflow_gives_nan(self):
        means, conics, colors, _, g = _scene(jax.random.key(9))
        b = _bin(means, g.covariances(), g.mask, H, W, 64)
        assert bool(b.overflowed())
        image = self._rasterize(means, conics, colors, b, H, W)
        assert bool(jnp.all(jnp.isnan(image)))

    def test_public_render_api(self):
        means, _, colors, _, g = _scene(jax.random.key(10))
        cov = g.covariances()
        backend = "pallas-interpret" if self.INTERPRET else "pallas"

        @functools.partial(jax.jit, static_argnums=1)
        def image_and_grad(colors, backend):
            def fn(colors):
                return render(means, cov, colors, g.mask, H, W, capacity=CAPACITY, backend=backend)

            image = fn(colors)
            return image, jax.grad(lambda c: jnp.sum(fn(c) ** 2))(colors)

        image, grad = image_and_grad(colors, backend)
        image_ref, grad_ref = image_and_grad(colors, "dense")
        np.testing.assert_allclose(image, image_ref, rtol=0, atol=FWD_ATOL)
        _assert_vjps_close(grad, grad_ref)


class TestSplatInterpret(SplatSuite):
    INTERPRET = True


@pytest.mark.skipif(jax.default_backend() != "gpu", reason="needs a GPU")
class TestSplatGPU(SplatSuite):
    INTERPRET = False


@pytest.fixture(scope="module")
def scene():
    means, conics, colors, b, _ = _scene(jax.random.key(11))
    return means, conics, colors, b, jnp.ones((H, W, 3), jnp.float32)


class TestSplatLowering:
    """The kernels lower to Triton for ``cuda`` without a GPU.

    jax 0.10.2: ``jax.export`` for ``cuda``; jax 0.12 refuses that without a GPU device, so it lowers
    under an abstract H100 mesh instead. Both emit the same custom call.
    """

    @staticmethod
    def _cuda_module_text(fn, *args) -> str:
        # Triton calls carry no serialization-compatibility guarantee; we only inspect the text.
        checks = [jax.export.DisabledSafetyCheck.custom_call(TRITON_CUSTOM_CALL)]
        try:
            exported = jax.export.export(jax.jit(fn), platforms=["cuda"], disabled_checks=checks)
            return exported(*args).mlir_module()
        except RuntimeError as e:  # jax >= 0.11 wants a GPU device: lend it an abstract one
            if "AbstractDevice" not in str(e):
                raise
        device = AbstractDevice("NVIDIA H100", 132, "gpu")
        with jax.sharding.use_abstract_mesh(AbstractMesh((1,), ("x",), abstract_device=device)):
            return jax.jit(fn).trace(*args).lower(lowering_platforms=("cuda",)).as_text()

    def test_forward_lowers_to_triton(self, scene):
        means, conics, colors, b, _ = scene
        text = self._cuda_module_text(
            lambda m, c, k, b: splat.rasterize(m, c, k, b, H, W), means, conics, colors, b
        )
        assert text.count(TRITON_CUSTOM_CALL) == 1
        assert 'name = "splat_forward"' in text

    def test_backward_lowers_to_triton(self, scene):
        means, conics, colors, b, v_image = scene

        def vjp(m, c, k, b, v):  # the primal output is unused: XLA drops the forward kernel
            return jax.vjp(lambda m, c, k: splat.rasterize(m, c, k, b, H, W), m, c, k)[1](v)

        text = self._cuda_module_text(vjp, means, conics, colors, b, v_image)
        assert text.count(TRITON_CUSTOM_CALL) == 1
        assert 'name = "splat_backward"' in text

    def test_value_and_grad_lowers_to_triton(self, scene):
        means, conics, colors, b, v_image = scene

        def value_and_grad(m, c, k, b, v):
            return jax.value_and_grad(
                lambda m, c, k: jnp.sum(splat.rasterize(m, c, k, b, H, W) * v), argnums=(0, 1, 2)
            )(m, c, k)

        text = self._cuda_module_text(value_and_grad, means, conics, colors, b, v_image)
        assert text.count(TRITON_CUSTOM_CALL) == 2
        assert 'name = "splat_forward"' in text and 'name = "splat_backward"' in text


def test_chunk_must_be_power_of_two():
    means, conics, colors, b, _ = _scene(jax.random.key(12))
    with pytest.raises(ValueError, match="power of two"):
        splat.rasterize(means, conics, colors, b, H, W, interpret=True, chunk=24)
