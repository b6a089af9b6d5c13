"""The dense reference itself: its support rules against float64 NumPy brute force of the design's
definitions, and the tiled backend against both of its modes (``support="tiles"`` / ``"exact"``)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from igi_jax import covariance
from igi_jax.render import render
from igi_jax.render.dense import render_dense

H, W = 45, 61  # not multiples of 16: the last tile row and column are cut by the image


def _edge_cases():
    """Gaussians elongated along x (std 5 px, λ_max = 25, r = 15) whose 3σ box ends just short
    of a tile (or of the image) while their α-cut ellipse (±16.65 px) reaches past it."""
    means = np.array(
        [
            [0.8, 20.3],  # box ends at 15.8: reaches pixels of tile 1 only through the α cut
            [48.0 - 15.0 - 0.3, 7.1],  # box ends at 47.7, tile 3 starts at 48
            [61.0 + 15.0 + 0.2, 30.6],  # box starts at 61.2 ≥ W: in the last tile's padding only
            [-15.6, 3.3],  # box ends at −0.6, left of the image
        ]
    )
    cov = np.tile([25.0, 0.0, 1.0], (len(means), 1))
    return means, cov


def _mix(seed=0, n=120):
    """Random tiny/large/needle/off-edge Gaussians, some masked, one degenerate, one NaN mean,
    plus the edge cases above."""
    rng = np.random.default_rng(seed)
    means = rng.uniform(-6.0, 1.0, (n, 2)) + np.array([W + 5.0, H + 5.0]) * rng.uniform(size=(n, 2))
    scales = np.exp(rng.uniform(np.log(0.3), np.log(9.0), (n, 2)))
    scales[: n // 4, 1] = 0.15
    cov = np.array(covariance.cov_from_rs(jnp.asarray(scales), jnp.asarray(rng.uniform(0, np.pi, n))))
    cov[5] = [4.0, 4.0, 4.0]  # det = 0: no inverse, must contribute nothing
    means[6] = [np.nan, 10.0]
    e_means, e_cov = _edge_cases()
    means, cov = np.concatenate([means, e_means]), np.concatenate([cov, e_cov])
    colors = rng.uniform(-0.5, 1.0, (len(means), 3))
    mask = np.ones(len(means), bool)
    mask[::7] = False
    mask[[5, 6]] = True  # degenerate and NaN ones must be excluded by the renderer, not the mask
    mask[n:] = True
    colors[n:] = 1.0
    return means.astype(np.float64), cov.astype(np.float64), colors, mask


def _numpy_render(means, cov, colors, mask, support):
    """Float64 brute force of the design notes' definitions, one Gaussian at a time."""
    ys, xs = np.mgrid[0:H, 0:W]
    image = np.zeros((H, W, 3))
    for mu, (xx, xy, yy), c, m in zip(means, cov, colors, mask, strict=True):
        det = xx * yy - xy * xy
        if not m or not np.all(np.isfinite(mu)) or xx <= 0 or det <= 0:
            continue
        d = np.stack([xs + 0.5 - mu[0], ys + 0.5 - mu[1]], -1)
        sigma = 0.5 * np.einsum("...i,ij,...j->...", d, np.linalg.inv([[xx, xy], [xy, yy]]), d)
        keep = (sigma >= 0) & (np.exp(-sigma) >= 1 / 255)
        if support == "tiles":
            b = (xx + yy) / 2
            r = np.ceil(3 * np.sqrt(b + np.sqrt(max(0.1, b * b - det))))
            for axis, (pix, size) in enumerate(((xs, W), (ys, H))):
                lo = pix // 16 * 16
                hi = np.minimum(lo + 16, size)
                keep &= (mu[axis] - r < hi) & (mu[axis] + r >= lo)
        image += np.where(keep, np.exp(-sigma), 0.0)[..., None] * c
    return image


@pytest.mark.parametrize("support", ["tiles", "exact"])
def test_dense_is_the_definition_in_float64(support):
    means, cov, colors, mask = _mix()
    want = _numpy_render(means, cov, colors, mask, support)
    with jax.enable_x64(True):
        got = render_dense(*map(jnp.asarray, (means, cov, colors, mask)), H, W, support=support)
        assert got.dtype == jnp.float64
    assert np.abs(want).max() > 0.5
    np.testing.assert_allclose(np.asarray(got), want, rtol=0, atol=1e-12)  # measured ~1e-15


def test_tiled_backend_equals_dense_tiles_and_truncates_exact_within_the_bound():
    """The tiled render keeps exactly the ``"tiles"`` pairs (float64: any dropped or extra pair
    shows at ≥ 1/255 · |c|). Versus ``"exact"`` it only loses pairs outside the 3 sqrt(λ_max)
    box, where σ ≥ 9/2: at most exp(−9/2) Σ|c_n| over the Gaussians whose box misses the pixel
    centre. The edge cases make that loss real (GaussianImage renders it this way too)."""
    means, cov, colors, mask = _mix(seed=1)
    with jax.enable_x64(True):
        args = [jnp.asarray(x) for x in (means, cov, colors, mask)]
        tiled = np.asarray(render(*args, H, W, backend="reference", capacity=8192))
        tiles = np.asarray(render_dense(*args, H, W, support="tiles"))
        exact = np.asarray(render_dense(*args, H, W, support="exact"))
    np.testing.assert_allclose(tiled, tiles, rtol=0, atol=1e-12)
    live = mask & np.all(np.isfinite(means), -1) & np.asarray(covariance.valid_cov(jnp.asarray(cov)))
    r = np.asarray(covariance.radius_from_cov(jnp.asarray(cov)))
    ys, xs = np.mgrid[0:H, 0:W]
    px, py = xs[..., None] + 0.5, ys[..., None] + 0.5
    outside = (np.abs(px - means[:, 0]) > r) | (np.abs(py - means[:, 1]) > r)  # [H, W, N]
    bound = np.exp(-4.5) * (outside & live) @ np.abs(np.nan_to_num(colors)).max(-1)
    gap = np.abs(tiled - exact).max(-1)
    assert np.all(gap <= bound + 1e-12), float((gap - bound).max())
    # The four edge-case Gaussians (colour 1) lose weights of 1/255..exp(−9/2) each.
    assert gap.max() > 1e-3, gap.max()


def test_unknown_support_is_an_error():
    means, cov, colors, mask = map(jnp.asarray, _mix(n=8))
    with pytest.raises(ValueError, match="support"):
        render_dense(means, cov, colors, mask, H, W, support="box")
