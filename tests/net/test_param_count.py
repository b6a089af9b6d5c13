"""Parameter counts: the ``paper`` config equals the official architecture, counted independently."""

from __future__ import annotations

import jax
import numpy as np
from flax import nnx

from igi_jax.net import InstantGINet, NetConfig


def count_params(cfg: NetConfig) -> dict[str, int]:
    """Parameters per top-level part, without allocating them (``nnx.eval_shape``)."""
    model = nnx.eval_shape(lambda: InstantGINet(cfg, rngs=nnx.Rngs(0)))
    out: dict[str, int] = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(nnx.to_pure_dict(nnx.state(model, nnx.Param)))[0]:
        part = str(path[0].key)
        if part == "unet":
            part = f"unet/{path[1].key}"
        out[part] = out.get(part, 0) + int(np.prod(leaf.shape))
    return out


def official_count() -> dict[str, int]:
    """The official PyTorch InitNet (ConvNeXt-Base UNet + fields), from its layer definitions.

    BatchNorm (official) and our per-pixel LayerNorm both have a weight and a bias per channel,
    so the counts must agree exactly (running statistics are buffers, not parameters).
    """
    dims, depths, stem = (128, 256, 512, 1024), (3, 3, 27, 3), 64

    def block(d):  # dwconv 7×7 + bias, LN, Linear d→4d, Linear 4d→d, layer-scale
        return 49 * d + d + 2 * d + (4 * d * d + 4 * d) + (4 * d * d + d) + d

    def linear(a, b):
        return a * b + b

    def double_conv(cin, cout):  # (conv 3×3 no bias + BN) × 2
        return 9 * cin * cout + 2 * cout + 9 * cout * cout + 2 * cout

    encoder = 4 * stem * dims[0] + dims[0] + 2 * dims[0]  # stem conv 2×2 + LN
    for i in range(3):
        encoder += 2 * dims[i] + 4 * dims[i] * dims[i + 1] + dims[i + 1]  # LN + conv 2×2
    encoder += sum(depths[i] * block(dims[i]) for i in range(4))
    decoder = 0
    for cin, cout in [(1024, 512), (512, 256), (256, 128), (128, 64)]:
        decoder += 4 * cin * (cin // 2) + cin // 2 + double_conv(cin, cout)  # ConvT 2×2 + DoubleConv
    return {
        "in_conv": 9 * 3 * stem + 2 * stem,
        "encoder": encoder,
        "decoder": decoder + linear(64, 64),
        "position": linear(64, 64) * 2 + linear(64, 1),
        "reduction": linear(256, 256) + linear(256, 128) + linear(128, 64) + 2 * 64,
        "bc": linear(86, 86) * 2 + linear(86, 3),
        "sigma": linear(94, 94) * 2 + linear(94, 3),
        "opacity": linear(94, 94) * 2 + linear(94, 1),
    }


def test_paper_config_matches_the_official_parameter_count():
    ours = count_params(NetConfig.paper())
    official = official_count()
    # ConvNeXt-Base as published: 88.59M with its 4×4 patchify stem on RGB and its ImageNet-1k
    # head (final LayerNorm + Linear 1024→1000); Instant-GI's stem is 2×2 on the 64-wide input conv.
    published_base = 88_591_464
    head = 2 * 1024 + 1024 * 1000 + 1000
    stem_delta = (64 * 4 - 3 * 16) * 128
    assert official["encoder"] == published_base - head + stem_delta
    assert ours["unet/in_conv"] == official["in_conv"]
    assert ours["unet/stages"] == official["encoder"]
    assert ours["unet/ups"] + ours["unet/out_conv"] == official["decoder"]
    assert ours["position"] == official["position"]
    assert ours["reduction"] + ours["reduction_norm"] == official["reduction"]
    assert ours["bc_field"] == official["bc"]
    assert ours["sigma_field"] == official["sigma"]
    assert ours["opacity_field"] == official["opacity"]
    total = sum(ours.values())
    assert total == sum(official.values())
    print(
        f"paper config: {total:,} parameters (encoder {official['encoder']:,}, decoder "
        f"{official['decoder']:,}) = the official InitNet"
    )


def test_small_and_tiny_are_small():
    small = sum(count_params(NetConfig.small()).values())
    tiny = sum(count_params(NetConfig.tiny()).values())
    assert tiny < 200_000 < small < 5_000_000
    print(f"small: {small:,} parameters, tiny: {tiny:,}")
