"""The codec end to end: quantisers, quantisation-aware steps, ``igi compress / decompress / info``.

Small synthetic images, a few hundred Gaussians, tens of steps: what is checked is exactness
(the decoded file renders what the encoder optimised), the reported size (the file's bytes),
and that nothing is written when anything fails.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from igi_jax import cli, compile_cache, gaussians
from igi_jax.codec import bitstream, compress, qat
from igi_jax.codec import quantize as q_lib
from igi_jax.errors import InputError
from igi_jax.fit import FitConfig, fit
from igi_jax.init import rate
from igi_jax.one_image import DEFAULT_INIT, FitOptions
from igi_jax.render import render_gaussians

H, W = 40, 56


def _target(seed: int = 0, h: int = H, w: int = W) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / h
    image = np.stack([0.5 + 0.4 * np.sin(5 * xx), yy * 0.9, 0.5 + 0.3 * np.cos(4 * (xx + yy))], -1)
    return np.clip(image + rng.normal(0, 0.01, image.shape), 0, 1).astype(np.float32)


def _fitted(kind: str = "cholesky", steps: int = 60):
    g = gaussians.random_init(jax.random.key(0), 300, H, W, kind=kind, variant="gi")
    return fit(g, _target(), FitConfig(steps=steps, log_every=steps)).gaussians


def _psnr(image, target) -> float:
    mse = float(jnp.mean((jnp.clip(image, 0, 1) - target) ** 2))
    return float(-10 * np.log10(mse))


@pytest.mark.parametrize(("kind", "knee"), [(k, None) for k in gaussians.KINDS] + [("cholesky", 1.0)])
def test_decoded_file_renders_what_the_encoder_quantised(kind, knee):
    g = _fitted(kind)
    cfg = q_lib.QuantConfig(shape_knee=knee).resolved(g.num_live(), H, W)
    q = q_lib.init_state(g, cfg, jax.random.key(1))
    quantised = render_gaussians(g.with_params(q_lib.quantize(g.params(), q, cfg, (H, W))))
    decoded = q_lib.from_payload(bitstream.decode(bitstream.encode(q_lib.to_payload(g, q, cfg))))
    assert decoded.num_live() == g.num_live()
    np.testing.assert_allclose(render_gaussians(decoded), quantised, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="xy_subpixel is unset"):
        q_lib.quantize(g.params(), q, q_lib.QuantConfig(), (H, W))


def test_companded_covariances_step_in_proportion_to_their_size():
    """``shape_knee``: above the knee a covariance value moves by a share of itself, where the
    linear quantiser's step is one size for all, so the small (sharp) Gaussians lose more."""
    x = np.geomspace(0.5, 50.0, 2000).astype(np.float32)
    g = gaussians.Gaussians(
        jnp.zeros((2000, 2)),
        jnp.stack([x, 0.1 * x, x], -1),
        jnp.ones((2000, 3)),
        jnp.ones(2000, bool),
        kind="cholesky",
        height=H,
        width=W,
    )
    err = {}
    for knee in (None, 1.0):
        cfg = q_lib.QuantConfig(shape_knee=knee, xy_subpixel=2)
        q = q_lib.init_state(g, cfg, jax.random.key(0))
        shape = np.asarray(q_lib.quantize(g.params(), q, cfg, (H, W))["shape"])[:, 0]
        err[knee] = np.abs(shape - x) / x
    h = (np.arcsinh(50.0) - np.arcsinh(0.5)) / 63 / 2  # half the companded value's step
    # x = sinh(u) off by at most h in u: a ratio of at most cosh h − 1 + sinh h · coth u, and
    # coth(asinh 2) = √5 / 2 from x = 2 up
    assert err[1.0][x >= 2.0].max() <= (np.cosh(h) - 1 + np.sinh(h) * np.sqrt(5) / 2) * 1.01
    assert err[None][x < 2.0].max() > 4 * err[1.0][x < 2.0].max()
    with pytest.raises(ValueError, match="shape_knee"):
        q_lib.QuantConfig(shape_knee=0.0)
    with pytest.raises(ValueError, match="shape_knee"):
        q_lib.QuantConfig(shape_knee=float("nan"))


def test_quantisers_use_their_whole_range():
    g = _fitted()
    cfg = q_lib.QuantConfig(shape_bits=4, codebook=4)
    p = q_lib.to_payload(g, q_lib.init_state(g, cfg, jax.random.key(2)), cfg)
    assert p.shape_index.min() == 0 and p.shape_index.max() == 15  # min / max initialisation
    assert len(np.unique(p.color_index[:, 0])) == 4  # k-means leaves no entry empty here


def test_the_image_loss_reaches_the_codebooks_exactly_and_the_colours_straight_through():
    g = _fitted()
    cfg = q_lib.QuantConfig(codebook=4).resolved(g.num_live(), H, W)
    q = q_lib.init_state(g, cfg, jax.random.key(1))
    r = jax.random.normal(jax.random.key(2), g.colors.shape)

    def colour_loss(colors, books):
        qs = dataclasses.replace(q, codebooks=books)
        return jnp.sum(q_lib.quantize({**g.params(), "colors": colors}, qs, cfg, (H, W))["colors"] * r)

    d_colors, d_books = jax.grad(colour_loss, argnums=(0, 1))(g.colors, q.codebooks)
    np.testing.assert_array_equal(d_colors, r)  # straight through
    idx, _ = q_lib._rvq(g.colors, q.codebooks.astype(jnp.float16).astype(jnp.float32))
    for s in range(cfg.stages):  # decoded colour = Σ_s books[s][idx_s]: each entry sums its users
        expected = np.zeros((cfg.codebook, 3), np.float32)
        np.add.at(expected, np.asarray(idx[:, s]), np.asarray(r))
        np.testing.assert_allclose(d_books[s], expected, rtol=1e-5, atol=1e-5)


def test_colour_codebooks_weigh_each_gaussian_by_its_footprint():
    cov = jnp.asarray([[4.0, 0.0, 9.0], [4.0, 2.0, 4.0], [1.0, 0.0, 1.0]])
    w = q_lib.footprint(cov, jnp.asarray([True, True, False]))
    np.testing.assert_allclose(w, [6.0, np.sqrt(12.0), 0.0], rtol=1e-6)
    # One entry for two colours: the footprint-weighted mean, pulled to the 4 wide Gaussians.
    n = 40
    wide = np.arange(n) < 4  # l11 = l22 = 10.5 px against 1.5 (the factors carry a +0.5 diagonal)
    shape = np.where(wide[:, None], [10.0, 0.0, 10.0], [1.0, 0.0, 1.0]).astype(np.float32)
    colors = np.where(wide[:, None], [0.9, 0.1, 0.1], [0.1, 0.1, 0.9]).astype(np.float32)
    xy = np.asarray(jax.random.uniform(jax.random.key(0), (n, 2), minval=-0.9, maxval=0.9))
    g = gaussians.Gaussians(
        jnp.asarray(xy),
        jnp.asarray(shape),
        jnp.asarray(colors),
        jnp.ones(n, bool),
        kind="cholesky",
        height=H,
        width=W,
    )
    book = q_lib.init_state(g, q_lib.QuantConfig(stages=1, codebook=2), jax.random.key(0)).codebooks[0]
    assert np.allclose(sorted(np.asarray(book).tolist()), [[0.1, 0.1, 0.9], [0.9, 0.1, 0.1]], atol=1e-3)
    single = q_lib._kmeans(jax.random.key(0), g.colors, q_lib.footprint(g.covariances(), g.mask), 1, 5)
    mean = np.average(colors, axis=0, weights=np.where(wide, 10.5**2, 1.5**2))  # √det Σ = l11 · l22
    np.testing.assert_allclose(single[0], mean, atol=1e-5)


def test_a_degenerate_gaussian_leaves_the_quantised_loss_finite():
    # √det Σ has an infinite slope at det = 0: its weights must not pass a gradient to the shapes.
    g = _fitted()
    cfg = q_lib.QuantConfig().resolved(g.num_live(), H, W)
    q = q_lib.init_state(g, cfg, jax.random.key(1))
    shape = g.shape.at[0].set(jnp.asarray([0.0, 0.0, -0.5]))  # l22 = 0 after the +0.5 bound

    def loss(shape):
        params = {**g.params(), "shape": shape}
        cov = g.with_params(params).covariances()
        pq, vq = q_lib.quantize_with_loss(params, q, q_lib.footprint(cov, g.mask), cfg, (H, W))
        return vq + jnp.sum(pq["shape"] ** 2)

    grad = jax.grad(loss)(shape)
    assert bool(jnp.all(jnp.isfinite(grad)))


def test_quantisation_aware_steps_beat_quantising_after_the_fit():
    g, target = _fitted(steps=100), _target()
    cfg = FitConfig(log_every=20)
    before = qat.fit_quantized(g, target, 0, cfg=cfg, key=jax.random.key(3))
    after = qat.fit_quantized(g, target, 100, cfg=cfg, key=jax.random.key(3))
    assert after.psnr > before.psnr + 0.5, (before.psnr, after.psnr)
    assert [h["step"] for h in after.history] == [0, 20, 40, 60, 80, 100]
    # The result's own render is the decoded file's.
    data = bitstream.encode(q_lib.to_payload(after.gaussians, after.state, q_lib.QuantConfig()))
    decoded = render_gaussians(compress.decompress(data))
    assert abs(_psnr(decoded, target) - after.psnr) < 1e-3


@pytest.fixture
def image_file(tmp_path):
    path = tmp_path / "img.png"
    Image.fromarray((_target() * 255).round().astype(np.uint8)).save(path)
    return path


def test_compress_decompress_info_from_the_command_line(image_file, tmp_path, capsys):
    out = tmp_path / "img.igi"
    args = ["compress", str(image_file), "--init", "random-gi", "--gaussians", "300", "--steps", "40"]
    assert cli.main([*args, "--qat-steps", "20", "--xy-subpixel", "3", "--out", str(out), "--quiet"]) == 0
    said = capsys.readouterr().out
    size = out.stat().st_size
    assert f"{size:,} bytes, {8 * size / (H * W):.4f} bpp" in said  # the real file size
    assert cli.main(["info", str(out)]) == 0
    info = capsys.readouterr().out
    assert "300 (cholesky parameterization)" in info and "positions on a 1/8-pixel grid" in info
    png = tmp_path / "big.png"
    assert cli.main(["decompress", str(out), "--scale", "2", "--out", str(png)]) == 0
    assert Image.open(png).size == (2 * W, 2 * H)
    # An existing output is kept unless --overwrite.
    before = out.read_bytes()
    assert cli.main([*args, "--out", str(out), "--quiet"]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_bytes() == before


def test_bad_files_give_one_error_and_write_nothing(tmp_path, capsys, image_file):
    good = tmp_path / "g.igi"
    assert (
        cli.main(["compress", str(image_file), "--steps", "10", "--qat-steps", "0", "--out", str(good)]) == 0
    )
    capsys.readouterr()
    data = good.read_bytes()
    cases = {
        "short.igi": (data[: len(data) // 2], "truncated .igi file"),
        "flip.igi": (data[:40] + bytes([data[40] ^ 1]) + data[41:], "checksum does not match"),
        "png.igi": (image_file.read_bytes(), "not an .igi file"),
        "future.igi": (data[:4] + bytes([bitstream.VERSION + 1]) + data[5:], "unsupported .igi format"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        out = tmp_path / f"{name}.png"
        assert cli.main(["decompress", str(path), "--out", str(out)]) == 2, name
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, (name, err)
        assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["g.igi", "img.png", *cases])


def test_bad_codec_flags_are_named(image_file, capsys):
    assert cli.main(["compress", str(image_file), "--shape-bits", "0"]) == 2
    assert "shape-bits must be in 1 … 16" in capsys.readouterr().err
    assert cli.main(["compress", str(image_file), "--qat-steps", "-1"]) == 2
    assert "--qat-steps" in capsys.readouterr().err
    assert cli.main(["compress", str(image_file), "--xy-subpixel", "9"]) == 2
    assert "--xy-subpixel must be in 0 … 8" in capsys.readouterr().err
    assert cli.main(["compress", str(image_file), "--shape-knee", "-1"]) == 2
    assert "--shape-knee must be a number > 0" in capsys.readouterr().err


def test_bpp_sets_the_count_and_the_file_stays_under_it(image_file, tmp_path, capsys):
    out = tmp_path / "r.igi"
    argv = ["compress", str(image_file), "--init", "quadtree", "--bpp", "2.5", "--steps", "20"]
    assert cli.main([*argv, "--qat-steps", "10", "--out", str(out), "--quiet"]) == 0
    quant = q_lib.QuantConfig()
    bound, budget = compress.count_for_bpp(2.5, H, W, quant), compress.budget_for_bpp(2.5, H, W)
    # The most that fit without entropy coding; header and codebooks are paid for first.
    assert compress.max_bytes(bound, H, W, quant) <= budget < compress.max_bytes(bound + 1, H, W, quant)
    assert 40 < bound < 8 * budget / (3 * 6 + 2 * 3)
    said = capsys.readouterr().out
    n = int(said.split(" Gaussians")[0].rsplit("(", 1)[1].replace(",", ""))
    assert n >= bound  # never fewer than the raw-bits bound
    assert 8 * out.stat().st_size / (H * W) <= 2.5
    assert cli.main([*argv, "--gaussians", "100", "--out", str(tmp_path / "x.igi")]) == 2
    assert "--bpp or --gaussians, not both" in capsys.readouterr().err


def test_without_init_the_rate_picks_it(image_file, monkeypatch, capsys):
    chosen = []

    def stop(path, options, **_):  # the encode itself is tested above
        chosen.append(options.fit.init)
        raise InputError("stopped before the fit")

    monkeypatch.setattr(compress, "compress_image", stop)
    cases = {
        ("--bpp", "0.15"): "quadtree",
        ("--bpp", str(compress.NET_INIT_FROM_BPP)): "net",
        ("--bpp", "1.5", "--init", "random"): "random",
        ("--gaussians", "100"): DEFAULT_INIT,
    }
    for flags in cases:
        assert cli.main(["compress", str(image_file), *flags, "--quiet"]) == 2
        assert "stopped before the fit" in capsys.readouterr().err
    assert chosen == list(cases.values())


def test_the_shape_rate_follows_the_width_the_count_leaves():
    # tuned at 5.4 px per Gaussian: denser sets keep the default, sparser ones grow as sqrt, capped
    assert compress.shape_lr_factor(512, 768, 100_000) == 1.0
    assert compress.shape_lr_factor(512, 768, 3_000) == pytest.approx((512 * 768 / 3_000 / 5.4) ** 0.5)
    assert compress.shape_lr_factor(512, 768, 10) == compress.MAX_SHAPE_LR_FACTOR
    opts = FitOptions(kind="cholesky").replace(num_gaussians=3_000)
    scaled, f = compress.with_shape_lr(opts, 512, 768)
    base = dict(opts.fit.lr_groups)
    assert dict(scaled.fit.lr_groups) == {**base, "shape": base.get("shape", 1.0) * f} and f > 1
    assert compress.with_shape_lr(FitOptions(), 512, 768) == (FitOptions(), 1.0)  # its own count


def test_a_budget_is_filled_and_never_exceeded():
    g = _fitted()
    cfg = q_lib.QuantConfig()
    q = q_lib.init_state(g, cfg, jax.random.key(1))
    data, payload, dropped, kept = compress.encode_within(g, q, cfg, None)
    assert dropped == 0 and payload.count == g.num_live() == kept.num_live() == 300
    budget = int(0.8 * len(data))
    small, payload, dropped, kept = compress.encode_within(g, q, cfg, budget)
    assert len(small) <= budget and dropped > 0 and payload.count == kept.num_live() == 300 - dropped
    assert small == bitstream.encode(q_lib.to_payload(kept, q, cfg.resolved(300, H, W)))  # what stays
    assert dropped < 0.3 * 300  # about the excess, not far more
    decoded = compress.decompress(small)
    assert decoded.num_live() == payload.count
    with pytest.raises(InputError, match="holds no Gaussian"):
        compress.encode_within(g, q, cfg, 60)
    # The count that fills a budget: above the raw-bits bound, never past the pixels.
    target = _target(h=96, w=128)
    opts = FitOptions(init="quadtree", kind="cholesky")
    n, bound = compress.count_for_budget(target, opts, cfg, 6000, key=jax.random.key(0))
    assert bound == compress.count_for_bytes(6000, 96, 128, cfg) and bound < n <= 96 * 128
    with pytest.raises(ValueError, match="budget_bytes"):
        compress.CompressOptions(budget_bytes=0)


def test_codebook_and_position_grid_grow_with_the_rate_unless_the_image_is_tiny():
    assert compress.quant_for_bpp(0.25).codebook == 16 and compress.quant_for_bpp(1.0).codebook == 32
    assert compress.quant_for_bpp(0.25).xy_subpixel == 2 and compress.quant_for_bpp(1.0).xy_subpixel == 3
    assert compress.quant_for_bpp(0.25).shape_knee == 1.0 and compress.quant_for_bpp(0.5).shape_knee is None
    # Without a rate, the grid follows the density: ~1/50 of the Gaussians' spacing.
    assert q_lib.QuantConfig().resolved(1_600, 426, 640).xy_subpixel == 2  # 170 px per Gaussian
    assert q_lib.QuantConfig().resolved(7_000, 426, 640).xy_subpixel == 3  # 39
    assert q_lib.QuantConfig().resolved(4_012, 171, 256).xy_subpixel == 4  # 11
    assert q_lib.QuantConfig(xy_subpixel=1).resolved(4_012, 171, 256).xy_subpixel == 1
    assert compress.quant_for_bpp(1.0, pixels=768 * 512).codebook == 32  # Kodak: 384 of 49,152 bytes
    assert compress.quant_for_bpp(1.0, pixels=H * W).codebook == 8  # never below GaussianImage's 8
    assert compress.quant_for_bpp(1.0, pixels=128 * 128).codebook == 16  # 192 of 2,048 bytes


def test_a_filled_count_past_the_init_range_takes_the_most_it_gives(tmp_path):
    # 96×128 px: the quad-tree gives 23 to 1,766 Gaussians; 5.5 bpp bounds the count below that
    # and the filled count above it.
    path = tmp_path / "big.png"
    Image.fromarray((_target(h=96, w=128) * 255).round().astype(np.uint8)).save(path)
    budget = compress.budget_for_bpp(5.5, 96, 128)
    quant = compress.quant_for_bpp(5.5, 96 * 128)
    fit = FitOptions(init="quadtree", kind="cholesky").replace(steps=5, log_every=5)
    starts = []
    run = compress.compress_image(
        path,
        compress.CompressOptions(fit=fit, quant=quant, qat_steps=2, budget_bytes=budget),
        on_start=lambda *a: starts.append(a),
    )
    assert len(starts) == 1  # the retry at the init's most does not announce the image again
    info = run.info
    assert info["count_bound"] < info["count_filled"] == 1766
    assert info["bytes"] <= budget
    trims = info["trimmed_before_qat"] + info["trimmed_during_qat"] + info["trimmed"]
    assert info["gaussians"] == 1766 - trims


def test_quantisation_aware_blocks_are_shared_across_counts():
    # An RD run fine-tunes every image at every rate: counts in one bucket share one program.
    g, target = _fitted(), _target()
    fewer, _ = rate.keep_count(g, g.num_live() - 25)
    fewer = gaussians.compact(fewer)
    cfg = FitConfig(log_every=10, lr=0.0107)  # a config of its own
    before = compile_cache.MISSES["qat"]
    a = qat.fit_quantized(g, target, 10, cfg=cfg, key=jax.random.key(4))
    b = qat.fit_quantized(fewer, target, 10, cfg=cfg, key=jax.random.key(4))
    assert compile_cache.MISSES["qat"] == before + 1
    assert (a.gaussians.capacity, b.gaussians.capacity) == (g.capacity, fewer.capacity)
    assert b.gaussians.num_live() == fewer.num_live() and a.psnr != b.psnr


def test_a_trim_between_quantisation_aware_blocks_fine_tunes_the_rest():
    # The Gaussians a trim drops leave the render; the blocks after it fine-tune the ones that stay.
    g, target = _fitted(), _target()
    cfg = FitConfig(log_every=5)
    dropped = np.arange(g.capacity) % 4 == 0
    calls = []

    def trim(current, state, step):
        calls.append((step, current.num_live()))
        return ~dropped if step == 5 else (np.ones(g.capacity, bool) if step == 10 else None)

    out = qat.fit_quantized(g, target, 15, cfg=cfg, key=jax.random.key(1), trim=trim)
    n, before = g.num_live(), np.asarray(g.mask)
    assert calls == [(0, n), (5, n), (10, n - (dropped & before).sum())]  # none after the last block
    # Padded rows stay off, and the all-true mask at step 10 revives nobody.
    np.testing.assert_array_equal(np.asarray(out.gaussians.mask), before & ~dropped)
    qcfg = q_lib.QuantConfig().resolved(g.num_live(), H, W)
    decoded = out.gaussians.with_params(q_lib.quantize(out.gaussians.params(), out.state, qcfg, (H, W)))
    assert _psnr(render_gaussians(decoded), target) == pytest.approx(out.psnr, abs=1e-3)
    with pytest.raises(ValueError, match="expected"):
        qat.fit_quantized(g, target, 10, cfg=cfg, key=jax.random.key(1), trim=lambda *a: np.ones(3, bool))


def test_a_second_image_of_the_same_size_compiles_nothing_per_count(tmp_path, monkeypatch):
    # An RD run encodes many images of one size at every rate: after the first, an encode runs
    # compiled programs only (count probe, init, fit, QAT, coding, decode), whatever its exact count.
    # The problem-shape programs (compile_cache: fit, colour solve) may still grow a list bucket.
    from jax import monitoring

    paths = []
    for seed in (5, 6):
        path = tmp_path / f"{seed}.png"
        Image.fromarray(np.round(_target(seed, 96, 128) * 255).astype(np.uint8)).save(path)
        paths.append(path)
    fit = FitOptions(init="quadtree", kind="cholesky").replace(steps=20, log_every=10)
    quant = compress.quant_for_bpp(2.0)
    options = compress.CompressOptions(fit=fit, quant=quant, qat_steps=10, budget_bytes=3000)
    compiles: list[str] = []
    building: list[str] = []
    compiled = compile_cache.compiled

    def tracked(name, family, sizes, build):
        def marked():
            building.append(name)
            try:
                return build()
            finally:
                building.pop()

        return compiled(name, family, sizes, marked)

    def listen(event: str, seconds: float, **_) -> None:
        if event == "/jax/core/compile/backend_compile_duration" and not building:
            compiles.append(event)

    first = compress.compress_image(paths[0], options)
    monkeypatch.setattr(compile_cache, "compiled", tracked)
    monitoring.register_event_duration_secs_listener(listen)
    try:
        second = compress.compress_image(paths[1], options)
    finally:
        monitoring.unregister_event_duration_listener(listen)
    assert first.info["gaussians"] != second.info["gaussians"]
    assert compiles == [], f"{len(compiles)} programs compiled for the second image's exact sizes"
