"""Tiled XLA rasterizer vs the dense reference: forward, VJPs, finite differences, edge cases."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from igi_jax import binning, covariance
from igi_jax import gaussians as G
from igi_jax.render import render, render_with_count, required_capacity

# float32 throughout; the moment-based backward loses ~1 digit to cancellation for small
# Gaussians far from their tile centre (measured ≤ 3e-5 vs a float64 dense truth), hence 1e-4.
GRAD_RTOL = 1e-4
FWD_ATOL = 1e-5


def _inputs(g):
    return g.means(), g.covariances(), g.colors, g.mask


def _render(g, backend, **kw):
    return render(*_inputs(g), g.height, g.width, backend=backend, **kw)


def _rel_err(a, b):
    return float(jnp.max(jnp.abs(a - b)) / jnp.maximum(jnp.max(jnp.abs(b)), 1e-12))


@pytest.mark.parametrize("kind", ["rs", "cholesky"])
@pytest.mark.parametrize("size", [(37, 50), (16, 16), (40, 23)])
def test_forward_matches_dense(kind, size):
    h, w = size
    g = G.random_init(jax.random.key(1), 250, h, w, kind=kind)
    ours = _render(g, "reference")
    dense = _render(g, "dense")
    assert ours.shape == (h, w, 3)
    assert float(jnp.max(jnp.abs(dense))) > 0.5  # non-trivial image
    np.testing.assert_allclose(ours, dense, atol=FWD_ATOL)


@pytest.mark.parametrize("kind", ["rs", "cholesky"])
def test_vjp_matches_dense_autodiff(kind):
    h, w = 37, 50
    g = G.random_init(jax.random.key(2), 300, h, w, kind=kind, capacity=384)
    v = jax.random.normal(jax.random.key(3), (h, w, 3))

    def loss(params, backend):
        return jnp.sum(_render(g.with_params(params), backend, capacity=8192) * v)

    ours = jax.grad(loss)(g.params(), "reference")
    dense = jax.grad(loss)(g.params(), "dense")
    for name in ours:
        assert float(jnp.max(jnp.abs(dense[name]))) > 0
        assert _rel_err(ours[name], dense[name]) <= GRAD_RTOL, name


def test_vjp_in_render_space_including_off_diagonal():
    """Gradients w.r.t. means, cov (xx, xy, yy) and colours directly — where the official
    CUDA backward passes double the off-diagonal term."""
    h, w = 32, 40
    g = G.random_init(jax.random.key(4), 120, h, w, kind="cholesky")
    means, cov, colors, mask = _inputs(g)
    v = jax.random.normal(jax.random.key(5), (h, w, 3))

    def loss(m, c, col, backend):
        return jnp.sum(render(m, c, col, mask, h, w, backend=backend, capacity=4096) * v)

    ours = jax.grad(loss, argnums=(0, 1, 2))(means, cov, colors, "reference")
    dense = jax.grad(loss, argnums=(0, 1, 2))(means, cov, colors, "dense")
    for a, b in zip(ours, dense, strict=True):
        assert _rel_err(a, b) <= GRAD_RTOL
    # The off-diagonal column specifically, not drowned by the diagonal ones.
    assert _rel_err(ours[1][:, 1], dense[1][:, 1]) <= GRAD_RTOL


def test_dense_reference_matches_finite_differences_float64():
    """The source of truth itself: autodiff of the dense render vs central differences (f64)."""
    with jax.enable_x64(True):
        h, w = 20, 24
        rng = np.random.default_rng(0)
        n = 12
        means = jnp.asarray(rng.uniform(2, 20, (n, 2)))
        l11, l22 = rng.uniform(1.0, 3.0, n), rng.uniform(1.0, 3.0, n)
        l21 = rng.uniform(-1.5, 1.5, n)
        cov = jnp.asarray(np.stack([l11**2, l11 * l21, l21**2 + l22**2], -1))
        colors = jnp.asarray(rng.uniform(0, 1, (n, 3)))
        mask = jnp.ones(n, bool)
        v = jnp.asarray(rng.normal(size=(h, w, 3)))

        def loss(m, c, col):
            return jnp.sum(render(m, c, col, mask, h, w, backend="dense") * v)

        grads = jax.grad(loss, argnums=(0, 1, 2))(means, cov, colors)
        eps = 1e-6
        for arg, grad in enumerate(grads):
            d = jnp.asarray(rng.normal(size=grad.shape))
            args = [means, cov, colors]
            plus = list(args)
            minus = list(args)
            plus[arg] = args[arg] + eps * d
            minus[arg] = args[arg] - eps * d
            fd = (loss(*plus) - loss(*minus)) / (2 * eps)
            np.testing.assert_allclose(jnp.sum(grad * d), fd, rtol=1e-5)


@pytest.mark.parametrize("kind", ["rs", "cholesky"])
def test_tiled_vjp_matches_finite_differences(kind):
    """Our float32 VJP vs central differences of our own render, per parameter group.

    The α ≥ 1/255 cut makes the render piecewise smooth, and no gradient (ours or autodiff's)
    carries the jumps; so this test uses wide Gaussians that clear the cut on every pixel of a
    multi-tile image, where the render is smooth and finite differences are the truth.
    """
    h, w = 32, 40
    rng = np.random.default_rng(3)
    n = 10
    theta = rng.uniform(0, np.pi, n)
    cov = covariance.cov_from_rs(jnp.asarray(rng.uniform(22, 30, (n, 2))), jnp.asarray(theta))
    g = G.from_pixels(rng.uniform(8, 30, (n, 2)), cov, rng.uniform(0, 1, (n, 3)), h, w, kind=kind)
    with jax.enable_x64(True):  # f64 so the differences are exact to ~1e-9, not f32 noise
        params = jax.tree.map(lambda x: jnp.asarray(x, jnp.float64), g.params())
        v = jnp.asarray(np.random.default_rng(4).normal(size=(h, w, 3)))

        def loss(p):
            return jnp.sum(_render(g.with_params(p), "reference", capacity=4096) * v)

        grads = jax.grad(loss)(params)
        for name in params:
            assert grads[name].dtype == jnp.float64
            d = jnp.asarray(rng.normal(size=params[name].shape)) * g.mask[:, None]
            eps = 1e-5
            plus = dict(params, **{name: params[name] + eps * d})
            minus = dict(params, **{name: params[name] - eps * d})
            fd = (loss(plus) - loss(minus)) / (2 * eps)
            np.testing.assert_allclose(jnp.sum(grads[name] * d), fd, rtol=1e-6)


def test_padded_set_renders_like_unpadded():
    h, w = 29, 41
    g = G.random_init(jax.random.key(9), 100, h, w, capacity=100)
    padded = G.pad(g, 256)
    # Garbage in the padded slots must not matter.
    junk = dataclasses.replace(padded, colors=padded.colors.at[100:].set(7.0), xy=padded.xy.at[100:].set(0.1))
    np.testing.assert_array_equal(_render(junk, "reference"), _render(g, "reference"))
    # Gradients in float64: the two sets compile to different shapes, whose float32 roundings may
    # differ by an ulp; in float64 any leak from the padding would stand far above rounding.
    with jax.enable_x64(True):
        v = jax.random.normal(jax.random.key(10), (h, w, 3), jnp.float64)

        def grad(s):
            p64 = jax.tree.map(lambda x: jnp.asarray(x, jnp.float64), s.params())
            return jax.grad(lambda p: jnp.sum(_render(s.with_params(p), "reference", capacity=4096) * v))(p64)

        gp, gu = grad(junk), grad(g)
        for name in gp:
            assert gp[name].dtype == jnp.float64
            np.testing.assert_allclose(gp[name][:100], gu[name], rtol=1e-12, atol=1e-15)
            assert not np.any(np.asarray(gp[name][100:]))


def _crowd(n, h=48, w=48, centre=(24.0, 24.0), spread=3.0, seed=0):
    rng = np.random.default_rng(seed)
    means = jnp.asarray(centre + rng.uniform(-spread, spread, (n, 2)), jnp.float32)
    cov = covariance.cov_from_rs(
        jnp.asarray(rng.uniform(0.6, 2.5, (n, 2)), jnp.float32),
        jnp.asarray(rng.uniform(0, np.pi, n), jnp.float32),
    )
    colors = jnp.asarray(rng.uniform(-0.2, 0.3, (n, 3)), jnp.float32)
    return means, cov, colors, jnp.ones(n, bool)


def test_crowded_tile_is_not_truncated():
    """600 Gaussians in one tile (dozens of chunks) render and differentiate like dense."""
    h = w = 48
    means, cov, colors, mask = _crowd(600, centre=(23.0, 25.0), spread=1.5)
    b = binning.bin_gaussians(means, cov, mask, h, w, 8192)
    per_tile = np.asarray(b.tile_end - b.tile_start)
    assert per_tile.max() >= 590
    ours = render(means, cov, colors, mask, h, w, backend="reference")
    dense = render(means, cov, colors, mask, h, w, backend="dense")
    np.testing.assert_allclose(ours, dense, atol=1e-4 * float(jnp.abs(dense).max()))
    v = jax.random.normal(jax.random.key(11), (h, w, 3))
    f = lambda m, c, col, bk: jnp.sum(render(m, c, col, mask, h, w, backend=bk, capacity=8192) * v)  # noqa: E731
    ga = jax.grad(f, argnums=(0, 1, 2))(means, cov, colors, "reference")
    gd = jax.grad(f, argnums=(0, 1, 2))(means, cov, colors, "dense")
    for a, d in zip(ga, gd, strict=True):
        assert _rel_err(a, d) <= GRAD_RTOL


def test_overflow_poisons_instead_of_dropping():
    h = w = 48
    means, cov, colors, mask = _crowd(300)
    # The reference backend lists (Gaussian, 8×8 cell) entries; capacity is that list's length.
    need = int(binning.count_entries(means, cov, mask, h, w, 8))
    img, count = render_with_count(means, cov, colors, mask, h, w, capacity=need - 1, backend="reference")
    assert int(count) == need
    assert bool(jnp.all(jnp.isnan(img)))
    ok, _ = render_with_count(means, cov, colors, mask, h, w, capacity=need, backend="reference")
    assert bool(jnp.all(jnp.isfinite(ok)))
    assert required_capacity(means, cov, mask, h, w, backend="reference") >= need
    tiles = int(binning.count_intersections(means, cov, mask, h, w))
    assert required_capacity(means, cov, mask, h, w, backend="pallas-interpret") >= tiles


def test_vmap_and_jit_with_static_capacity():
    h, w = 32, 32
    gs = [G.random_init(jax.random.key(i), 64, h, w) for i in range(3)]
    stacked = jax.tree.map(lambda *x: jnp.stack(x), *gs)
    f = jax.jit(jax.vmap(lambda g: render(*_inputs(g), h, w, capacity=2048, backend="reference")))
    batch = f(stacked)
    for i, g in enumerate(gs):
        np.testing.assert_allclose(batch[i], _render(g, "reference"), atol=1e-6)


def test_traced_render_without_capacity_is_a_clear_error():
    g = G.random_init(jax.random.key(0), 10, 16, 16)
    with pytest.raises(ValueError, match="capacity"):
        jax.jit(lambda g: _render(g, "reference"))(g)


def test_bad_shapes_and_backend():
    g = G.random_init(jax.random.key(0), 10, 16, 16)
    m, c, col, mask = _inputs(g)
    with pytest.raises(ValueError, match="cov has shape"):
        render(m, c[:, :2], col, mask, 16, 16)
    with pytest.raises(ValueError, match="backend"):
        render(m, c, col, mask, 16, 16, backend="cuda")
    with pytest.raises(ValueError, match="image size"):
        render(m, c, col, mask, 0, 16)


def test_offimage_and_degenerate_gaussians_contribute_nothing():
    h, w = 20, 20
    means = jnp.asarray([[-50.0, 10.0], [10.0, 10.0], [10.0, 10.0]], jnp.float32)
    cov = jnp.asarray([[4.0, 0.0, 4.0], [4.0, 0.0, 4.0], [1.0, 1.0, 1.0]], jnp.float32)  # 3rd: det=0
    colors = jnp.ones((3, 3), jnp.float32)
    img = render(means, cov, colors, jnp.ones(3, bool), h, w, backend="reference")
    one = render(means[1:2], cov[1:2], colors[1:2], jnp.ones(1, bool), h, w, backend="reference")
    np.testing.assert_array_equal(img, one)


@pytest.mark.parametrize("backend", ["reference", "dense"])
def test_color_operator_is_the_render_and_its_adjoint(backend):
    """(A, Aᵀ) from color_operator: A c equals the render; ⟨A c, v⟩ = ⟨c, Aᵀ v⟩; Aᵀ = colour VJP."""
    from igi_jax.render import color_operator

    h, w = 37, 50
    g = G.random_init(jax.random.key(12), 300, h, w)
    means, cov, _, mask = _inputs(g)
    A, At = color_operator(means, cov, mask, h, w, backend=backend)
    col = jax.random.normal(jax.random.key(13), (g.capacity, 3))
    v = jax.random.normal(jax.random.key(14), (h, w, 3))
    dense = lambda c: render(means, cov, c, mask, h, w, backend="dense")  # noqa: E731
    np.testing.assert_allclose(A(col), dense(col), atol=1e-5)
    np.testing.assert_allclose(At(v), jax.vjp(dense, col)[1](v)[0], atol=1e-4)
    np.testing.assert_allclose(jnp.vdot(A(col), v), jnp.vdot(col, At(v)), rtol=1e-4)
