"""The PyTorch baseline's renderer against igi_jax's: same parameters → same image, same gradients.

float32 is tested on GaussianImage's random init (the regime of a fit). Near-degenerate,
strongly anisotropic Gaussians are tested in float64 in both frameworks: there the float32
conditioning of the conic alone moves both renders ~4e-5 away from the float64 truth (measured),
and any float32 pair within an ulp of the 1/255 cut can land on either side of it (XLA's exp and
torch's differ by an ulp; a flipped pair changes a pixel by ~c/255), so float32 cannot promise
1e-5 there for *two* implementations, while float64 agrees to ~1e-13.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from baselines import torch_rasterize  # noqa: E402
from baselines.torch_gi import TorchGaussians  # noqa: E402
from igi_jax import gaussians as G  # noqa: E402
from igi_jax.render import render_gaussians  # noqa: E402

FWD_ATOL = 1e-5  # max abs pixel error
GRAD_RTOL = 1e-4  # max abs error / max abs gradient, per parameter group
H, W, N = 48, 64, 300


@pytest.fixture(autouse=True)
def _one_thread():
    # Two OpenMP threads on a loaded 2-core machine spin-wait ~20× slower than one.
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _rel_err(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def _gi_init(kind, seed=1):
    return G.random_init(jax.random.key(seed), N, H, W, kind=kind, variant="gi", capacity=N)


def _harsh_shape(kind, seed=0):
    """Raw shapes spanning near-degenerate to 2.5 px, any rotation / shear (float64)."""
    rng = np.random.default_rng(seed)
    if kind == "rs":
        return np.c_[rng.uniform(-1.0, 2.0, (N, 2)), rng.uniform(-4.0, 4.0, N)]
    return np.c_[rng.uniform(-0.45, 2.0, N), rng.uniform(-1.5, 1.5, N), rng.uniform(-0.45, 2.0, N)]


def _cotangent(seed=3):
    return np.asarray(jax.random.normal(jax.random.key(seed), (H, W, 3)), np.float64)


def _jax_render_and_grads(g, v, backend):
    """The JAX render and the gradients of ``sum(render · v)`` w.r.t. the raw parameters (one VJP)."""

    def image(params):
        return render_gaussians(g.with_params(params), backend=backend, capacity=8192)

    out, vjp = jax.vjp(image, g.params())
    return np.asarray(out), vjp(jnp.asarray(v, out.dtype))[0]


def _torch_grads(tg, v):
    tg.zero_grad()
    (tg(8) * torch.as_tensor(v, dtype=tg.xy.dtype)).sum().backward()
    return {k: p.grad.numpy() for k, p in tg.groups().items()}


@pytest.mark.parametrize("kind", ["rs", "cholesky"])
def test_float32_image_and_gradients_match_jax(kind):
    """Against the backend the JAX fit uses (the XLA reference is itself tested against dense)."""
    g = _gi_init(kind)
    tg = TorchGaussians.from_gaussians(g)
    ours = tg(8).detach().numpy()
    assert ours.dtype == np.float32
    assert ours.max() > 0.5  # a non-trivial image
    v = _cotangent().astype(np.float32)
    t = _torch_grads(tg, v)
    ref, j = _jax_render_and_grads(g, v, "reference")
    np.testing.assert_allclose(ours, ref, rtol=0, atol=FWD_ATOL)
    for name in ("xy", "shape", "colors"):
        assert np.max(np.abs(j[name])) > 0
        assert _rel_err(t[name], j[name]) <= GRAD_RTOL, (name, _rel_err(t[name], j[name]))


@pytest.mark.parametrize("kind", ["rs", "cholesky"])
def test_float64_image_and_gradients_match_jax_on_degenerate_shapes(kind):
    """Against both JAX backends, including the dense autodiff one (the project's source of truth)."""
    g32 = _gi_init(kind, seed=2)
    xy, colors, shape = np.asarray(g32.xy, np.float64), np.asarray(g32.colors, np.float64), _harsh_shape(kind)
    tg = TorchGaussians(xy, shape, colors, kind=kind, height=H, width=W, dtype=torch.float64)
    ours = tg(8).detach().numpy()
    v = _cotangent()
    t = _torch_grads(tg, v)
    with jax.enable_x64(True):
        g = G.Gaussians(
            xy=jnp.asarray(xy),
            shape=jnp.asarray(shape),
            colors=jnp.asarray(colors),
            mask=jnp.ones((N,), bool),
            kind=kind,
            height=H,
            width=W,
        )
        for backend in ("reference", "dense"):
            ref, j = _jax_render_and_grads(g, v, backend)
            assert ref.dtype == np.float64
            np.testing.assert_allclose(ours, ref, rtol=0, atol=FWD_ATOL)
            assert np.max(np.abs(ours - ref)) < 1e-10  # measured ~6e-14
            for name in ("xy", "shape", "colors"):
                assert _rel_err(t[name], j[name]) <= GRAD_RTOL
                assert _rel_err(t[name], j[name]) < 1e-9, (backend, name)


def test_cell_sizes_render_the_same_image():
    g = _gi_init("rs", seed=4)
    tg = TorchGaussians.from_gaussians(g)
    ref = tg(16).detach()
    for cell in (8, 4):
        out = tg(cell).detach()
        assert torch.equal(out, ref) or float((out - ref).abs().max()) < 1e-6, cell


def test_support_and_cuts():
    """The σ < 0 / 1/255 cut, the 16×16-tile support (3σ radius) and degenerate covariances."""
    means = torch.tensor([[8.0, 8.0], [28.1, 8.0]], dtype=torch.float64)
    cov = torch.tensor([[1.0, 0.0, 1.0], [15.0, 0.0, 15.0]], dtype=torch.float64)
    colors = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    img = torch_rasterize.render(means, cov, colors, 32, 48, cell=8).numpy()
    # Gaussian 0 at (8, 8): pixel (7, 7) has centre (7.5, 7.5), σ = 0.25.
    assert img[7, 7, 0] == pytest.approx(np.exp(-0.25))
    assert img[7, 10, 0] == pytest.approx(np.exp(-0.5 * 2.5**2 - 0.125))
    # 4 px away in x: σ = 0.5·3.5² + 0.125 = 6.25 > −ln(1/255) = 5.54, cut to exactly 0.
    assert img[7, 11, 0] == 0.0
    # Gaussian 1: r = ceil(3 sqrt(15 + sqrt(0.1))) = 12, box x ≥ 16.1, so tile column 0 is out of
    # its support although the weight at pixel (7, 15) would pass the α cut.
    sigma_15 = 0.5 * (12.6**2 + 0.5**2) / 15
    assert np.exp(-sigma_15) > 1 / 255 and img[7, 15, 1] == 0.0
    assert img[7, 16, 1] == pytest.approx(np.exp(-0.5 * (11.6**2 + 0.5**2) / 15))
    # Degenerate covariance (det ≤ 0) renders nothing.
    bad = torch_rasterize.render(
        means[:1], torch.tensor([[1.0, 1.0, 1.0]], dtype=torch.float64), colors[:1], 32, 48
    )
    assert float(bad.abs().max()) == 0.0
