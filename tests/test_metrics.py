"""Tests for igi_jax.metrics against scikit-image and independent NumPy/SciPy references."""

from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import ndimage
from skimage.metrics import structural_similarity

from igi_jax import metrics
from igi_jax.metrics import (
    MS_SSIM_WEIGHTS,
    _avg_pool_2x2,
    _correlate_valid,
    _filter_axis,
    ms_ssim,
    psnr,
    ssim,
    ssim_map,
)

KODAK = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "kodak"

# Odd sides on purpose: 177 -> 89 -> 45 -> 23 -> 12 and 195 -> 98 -> 49 -> 25 -> 13 exercise MS-SSIM's
# padded average pooling at several scales; min side 177 > 160 allows 5 scales.
H, W, C = 177, 195, 3

# Tolerances. In float64 (jax.enable_x64) our maps equal the references to ~3e-13: same algorithm. In float32,
# SSIM's variances E[x^2] - E[x]^2 cancel: E[x^2] ~ 0.3 carries ~1e-7 absolute error, against local variances
# + C2 ~ 1e-3 in flat regions, so single pixels differ by up to ~1.3e-4 (measured) from float64 -- the same
# as any float32 SSIM (pytorch_msssim computes it the same way). The errors average out in the means (~1e-6).
F64_ATOL = 1e-10
MAP_ATOL = 3e-4
MEAN_ATOL = 1e-5


def _smooth_field(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Random field blurred per channel and rescaled to [0, 1], like a natural image's spectrum."""
    f = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=(sigma, sigma, 0))
    return (f - f.min()) / (f.max() - f.min())


def _make_pair(kind: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(img, ref) float32 `[H, W, C]` in [0, 1]."""
    rng = np.random.default_rng(seed)
    ref = 0.7 * _smooth_field(rng, (H, W, C), 6.0) + 0.3 * _smooth_field(rng, (H, W, C), 1.5)
    if kind == "noisy":  # a decent render: SSIM ~ 0.8
        img = ref + 0.1 * (_smooth_field(rng, (H, W, C), 1.0) - 0.5) + 0.02 * rng.standard_normal(ref.shape)
    elif kind == "inverted":  # negative structure correlation: exercises the relu in MS-SSIM
        img = 1.0 - ref
    else:
        raise ValueError(kind)
    return np.clip(img, 0, 1).astype(np.float32), ref.astype(np.float32)


@pytest.fixture(scope="module", params=["noisy", "inverted"])
def pair(request) -> tuple[np.ndarray, np.ndarray]:
    return _make_pair(request.param)


def _f64(fn, *arrays: np.ndarray, **kwargs) -> np.ndarray:
    """Run a metric in float64 (the references' precision), to check the algorithm without fp32 noise."""
    with jax.enable_x64(True):
        return np.asarray(fn(*(a.astype(np.float64) for a in arrays), **kwargs))


def _skimage(img: np.ndarray, ref: np.ndarray) -> tuple[float, np.ndarray]:
    """skimage SSIM in float64 (it computes in the input's float type). Returns (mean, full map S)."""
    mssim, smap = structural_similarity(
        img.astype(np.float64),
        ref.astype(np.float64),
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=1.0,
        channel_axis=-1,
        full=True,
    )
    return float(mssim), smap


# ---------------------------------------------------------------- independent NumPy/SciPy references


def _np_taps(win: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(win) - win // 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _np_ssim_cs(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """'Valid' SSIM and cs maps of 2-D float64 planes: scipy correlate1d with zero fill, then crop."""
    g = _np_taps()
    r = len(g) // 2

    def filt(p: np.ndarray) -> np.ndarray:
        p = ndimage.correlate1d(p, g, axis=0, mode="constant")
        p = ndimage.correlate1d(p, g, axis=1, mode="constant")
        return p[r:-r, r:-r]  # drop every output whose window touched the fill

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    ma, mb = filt(a), filt(b)
    va, vb, cov = filt(a * a) - ma**2, filt(b * b) - mb**2, filt(a * b) - ma * mb
    cs = (2 * cov + c2) / (va + vb + c2)
    return (2 * ma * mb + c1) / (ma**2 + mb**2 + c1) * cs, cs


def _np_downsample(p: np.ndarray) -> np.ndarray:
    """torch avg_pool2d(kernel 2, padding = side % 2, count_include_pad=True), via strided slices."""
    ph, pw = p.shape[0] % 2, p.shape[1] % 2
    q = np.pad(p, ((ph, ph), (pw, pw)))
    h, w = q.shape[0] // 2, q.shape[1] // 2
    return (q[0 : 2 * h : 2, 0 : 2 * w : 2] + q[1 : 2 * h : 2, 0 : 2 * w : 2]
            + q[0 : 2 * h : 2, 1 : 2 * w : 2] + q[1 : 2 * h : 2, 1 : 2 * w : 2]) / 4.0  # fmt: skip


def _np_ms_ssim(img: np.ndarray, ref: np.ndarray, weights=MS_SSIM_WEIGHTS) -> float:
    """MS-SSIM with explicit loops over channels and scales (pytorch_msssim's definition)."""
    per_channel = []
    for c in range(img.shape[-1]):
        a, b = img[..., c].astype(np.float64), ref[..., c].astype(np.float64)
        value = 1.0
        for level, w in enumerate(weights):
            s, cs = _np_ssim_cs(a, b)
            if level < len(weights) - 1:
                value *= max(cs.mean(), 0.0) ** w
                a, b = _np_downsample(a), _np_downsample(b)
            else:
                value *= max(s.mean(), 0.0) ** w
        per_channel.append(value)
    return float(np.mean(per_channel))


# ---------------------------------------------------------------- SSIM


def test_ssim_matches_skimage(pair):
    img, ref = pair
    expected, _ = _skimage(img, ref)
    np.testing.assert_allclose(float(ssim(img, ref)), expected, atol=MEAN_ATOL)


def test_ssim_map_valid_region_matches_skimage(pair):
    # skimage filters the whole image with reflect padding and averages S[5:-5, 5:-5]; on that region no
    # window touches the padding, so it is exactly the 'valid' map.
    img, ref = pair
    _, smap = _skimage(img, ref)
    value, ours = ssim(img, ref, return_map=True)
    assert ours.shape == (H - 10, W - 10, C)
    np.testing.assert_allclose(np.asarray(ours), smap[5:-5, 5:-5], atol=MAP_ATOL)
    np.testing.assert_allclose(float(value), smap[5:-5, 5:-5].mean(), atol=MEAN_ATOL)
    np.testing.assert_allclose(_f64(ssim_map, img, ref), smap[5:-5, 5:-5], atol=F64_ATOL)


def test_ssim_map_reflect_matches_skimage_full_map(pair):
    img, ref = pair
    _, smap = _skimage(img, ref)
    ours = ssim_map(img, ref, padding="reflect")
    assert ours.shape == (H, W, C)
    np.testing.assert_allclose(np.asarray(ours), smap, atol=MAP_ATOL)
    np.testing.assert_allclose(_f64(ssim_map, img, ref, padding="reflect"), smap, atol=F64_ATOL)


def test_ssim_map_zeros_matches_zero_padded_reference(pair):
    # The official Instant-GI loss: torch conv2d(padding=5) of the 11x11 window, i.e. zero fill without
    # renormalising the window; reference = scipy 2-D correlate with cval 0, full size.
    img, ref = pair
    win = np.outer(_np_taps(), _np_taps())
    expected = np.empty(img.shape)
    for c in range(C):
        a, b = img[..., c].astype(np.float64), ref[..., c].astype(np.float64)

        def filt(p: np.ndarray) -> np.ndarray:
            return ndimage.correlate(p, win, mode="constant", cval=0.0)

        ma, mb = filt(a), filt(b)
        va, vb, cov = filt(a * a) - ma**2, filt(b * b) - mb**2, filt(a * b) - ma * mb
        expected[..., c] = ((2 * ma * mb + 1e-4) * (2 * cov + 9e-4)) / (
            (ma**2 + mb**2 + 1e-4) * (va + vb + 9e-4)
        )
    ours = ssim_map(img, ref, padding="zeros")
    np.testing.assert_allclose(np.asarray(ours), expected, atol=MAP_ATOL)
    np.testing.assert_allclose(_f64(ssim_map, img, ref, padding="zeros"), expected, atol=F64_ATOL)


@pytest.mark.parametrize("padding", ["valid", "zeros", "reflect"])
def test_ssim_map_of_identical_images_is_one(padding):
    img, _ = _make_pair("noisy")
    np.testing.assert_allclose(np.asarray(ssim_map(img, img, padding=padding)), 1.0, atol=1e-6)


def test_ssim_identity_and_clamp():
    img, _ = _make_pair("noisy")
    np.testing.assert_allclose(float(ssim(img, img)), 1.0, atol=1e-6)
    # The render is clamped for metrics only: an overshoot above 1 where ref is 1 costs nothing.
    ref = np.ones_like(img)
    np.testing.assert_allclose(float(ssim(ref + 0.5, ref)), 1.0, atol=1e-6)
    assert float(ssim(ref + 0.5, ref, clamp=False)) < 1.0


@pytest.mark.parametrize("axis", [0, 1])
def test_filter_custom_vjp_matches_autodiff(axis):
    # Asymmetric taps, so a missing flip in the hand-written adjoint would show.
    rng = np.random.default_rng(3)
    taps = (0.1, 0.5, 0.3, -0.2)
    x = jnp.asarray(rng.standard_normal((13, 17)), jnp.float32)
    v_out = jnp.asarray(rng.standard_normal((13 - 3 * (axis == 0), 17 - 3 * (axis == 1))), jnp.float32)

    @jax.jit
    def both_vjps(x, v_out):
        out, vjp = jax.vjp(lambda z: _filter_axis(z, taps, axis), x)
        ref_out, ref_vjp = jax.vjp(lambda z: _correlate_valid(z, taps, axis), x)
        return out, ref_out, vjp(v_out)[0], ref_vjp(v_out)[0]

    out, ref_out, v_x, ref_v_x = both_vjps(x, v_out)
    np.testing.assert_allclose(np.asarray(out), np.asarray(ref_out))
    np.testing.assert_allclose(np.asarray(v_x), np.asarray(ref_v_x), atol=1e-6)


# ---------------------------------------------------------------- MS-SSIM


def test_avg_pool_matches_torch_semantics():
    # torch.nn.functional.avg_pool2d(x, 2, padding=1) on 3x3 [[1,2,3],[4,5,6],[7,8,9]], worked by hand:
    # windows over the zero-padded 5x5 start at padded index 0 and 2; the padded zeros count in the /4.
    x = jnp.arange(1.0, 10.0).reshape(3, 3)
    np.testing.assert_allclose(np.asarray(_avg_pool_2x2(x)), [[0.25, 1.25], [2.75, 7.0]])
    y = jnp.arange(16.0).reshape(4, 4)  # even: plain 2x2 means
    np.testing.assert_allclose(np.asarray(_avg_pool_2x2(y)), [[2.5, 4.5], [10.5, 12.5]])


def test_ms_ssim_matches_numpy_reference(pair):
    img, ref = pair
    np.testing.assert_allclose(float(ms_ssim(img, ref)), _np_ms_ssim(img, ref), atol=MEAN_ATOL)


def test_ms_ssim_identity():
    img, _ = _make_pair("noisy")
    np.testing.assert_allclose(float(ms_ssim(img, img)), 1.0, atol=1e-6)


def test_ms_ssim_needs_min_side_above_160():
    img = np.zeros((160, 200, 3), np.float32)
    with pytest.raises(ValueError, match="min side > 160"):
        ms_ssim(img, img)
    # Boundary, with a 3-tap window to keep the compile small: 5 scales need min side > 2 * 2^4 = 32.
    with pytest.raises(ValueError, match="min side > 32"):
        ms_ssim(img[:32, :40], img[:32, :40], win_size=3)
    ok = np.full((33, 40, 1), 0.5, np.float32)
    np.testing.assert_allclose(float(ms_ssim(ok, ok, win_size=3)), 1.0, atol=1e-6)


# ---------------------------------------------------------------- PSNR


def test_psnr_matches_numpy(pair):
    img, ref = pair
    mse = np.mean((img.astype(np.float64) - ref) ** 2)
    np.testing.assert_allclose(float(psnr(img, ref)), 10 * np.log10(1.0 / mse), atol=1e-4)


def test_psnr_known_mse_and_clamp():
    ref = np.full((8, 8, 3), 0.5, np.float32)
    np.testing.assert_allclose(float(psnr(ref + 0.1, ref)), 20.0, atol=1e-4)  # MSE 0.01
    np.testing.assert_allclose(
        float(psnr(ref + 0.1, ref, data_range=2.0)), 20.0 + 20 * np.log10(2), atol=1e-4
    )
    hi = np.full((8, 8, 3), 0.9, np.float32)
    np.testing.assert_allclose(float(psnr(hi + 0.6, hi)), 20.0, atol=1e-4)  # 1.5 clamped to 1.0
    np.testing.assert_allclose(float(psnr(hi + 0.6, hi, clamp=False)), -20 * np.log10(0.6), atol=1e-4)
    assert np.isinf(float(psnr(ref, ref)))


# ---------------------------------------------------------------- batching, jit, errors


def test_batched_and_jitted_equal_per_image():
    # Small crops and a 2-scale MS-SSIM (min side > 20) keep the compiles cheap; batching is shape-generic.
    a, ra = (x[:48, :56] for x in _make_pair("noisy", seed=1))
    b, rb = (x[:48, :56] for x in _make_pair("noisy", seed=2))
    imgs, refs = np.stack([a, b]), np.stack([ra, rb])
    two_scales = functools.partial(ms_ssim, weights=(0.4, 0.6))
    for name, fn in [("psnr", psnr), ("ssim", ssim), ("ms_ssim", two_scales)]:
        batched = jax.jit(fn)(imgs, refs)
        assert batched.shape == (2,)
        singles = [float(fn(a, ra)), float(fn(b, rb))]
        np.testing.assert_allclose(np.asarray(batched), singles, rtol=1e-6, err_msg=name)
    assert ssim_map(imgs, refs, padding="zeros").shape == (2, 48, 56, C)


def test_input_validation():
    x = np.zeros((32, 32, 3), np.float32)
    with pytest.raises(ValueError, match="shapes differ"):
        ssim(x, x[:, :, :1])
    with pytest.raises(ValueError, match="must be odd"):
        ssim(x, x, win_size=10)
    with pytest.raises(ValueError, match="must be >= win_size"):
        ssim(x[:8], x[:8])
    with pytest.raises(ValueError, match="unknown padding"):
        ssim_map(x, x, padding="same")
    with pytest.raises(ValueError, match=r"\[H, W, C\]"):
        psnr(x[..., 0], x[..., 0])


# ---------------------------------------------------------------- real images


@pytest.mark.parametrize("name", ["kodim01.png", "kodim23.png"])
def test_kodak_against_references(name):
    path = KODAK / name
    if not path.exists():
        pytest.skip(f"{path} not available")
    from PIL import Image

    ref = np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0
    rng = np.random.default_rng(0)
    img = np.clip(ref + 0.03 * rng.standard_normal(ref.shape), 0, 1).astype(np.float32)
    np.testing.assert_allclose(float(ssim(img, ref)), _skimage(img, ref)[0], atol=MEAN_ATOL)
    np.testing.assert_allclose(float(ms_ssim(img, ref)), _np_ms_ssim(img, ref), atol=MEAN_ATOL)
    mse = np.mean((img.astype(np.float64) - ref) ** 2)
    np.testing.assert_allclose(float(psnr(img, ref)), 10 * np.log10(1.0 / mse), atol=1e-3)


def test_psnr_is_psnr_from_mse_of_the_clamped_mse():
    rng = np.random.default_rng(3)
    ref = rng.uniform(0, 1, (2, 9, 7, 3)).astype(np.float32)
    img = (ref + rng.normal(0, 0.1, ref.shape)).astype(np.float32)
    mse = np.mean((np.clip(img, 0, 1) - ref) ** 2, axis=(1, 2, 3))
    np.testing.assert_allclose(metrics.psnr(img, ref), metrics.psnr_from_mse(mse), rtol=1e-6)
    np.testing.assert_allclose(metrics.psnr_from_mse(np.float32(0.01)), 20.0, rtol=1e-6)
    np.testing.assert_allclose(metrics.psnr_from_mse(np.float32(4 * 0.01), data_range=2.0), 20.0, rtol=1e-6)
    assert metrics.psnr_from_mse(np.float32(0.0)) == np.inf
