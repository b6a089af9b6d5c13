"""``igi compress``, ``igi decompress`` and ``igi info FILE.igi`` (wired in by :mod:`igi_jax.cli`).

    igi compress IMAGE [--bpp B | --gaussians N] [--init quadtree|net|random|random-gi]
                 [--steps S | --seconds T]
                 [--qat-steps Q] [--shape-bits B] [--shape-knee PX] [--codebook K] [--stages S]
                 [--out FILE.igi]
    igi decompress FILE.igi [--scale 2] [--out PNG]
    igi info FILE.igi

Like every ``igi`` command: one-line errors, nothing written unless everything succeeded (the
``.igi`` file and the PNG are written atomically, and an existing one is kept unless
``--overwrite``). JAX is imported only when a command runs.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from pathlib import Path

from igi_jax.cli_names import BACKENDS
from igi_jax.errors import InputError


def is_igi(path: Path) -> bool:
    """Whether ``path`` starts with the ``.igi`` magic (False for unreadable files)."""
    from igi_jax.codec.bitstream import MAGIC  # NumPy only, no JAX

    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def add_parsers(sub, add_fit_arguments: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "compress",
        help="encode an image into an .igi file",
        description="Fit an image, fine-tune it quantised (positions on a sub-pixel grid, b-bit covariances, "
        "residual-VQ colours) and write the entropy-coded .igi file. Prints its real size and the "
        "PSNR / MS-SSIM of its decoded render.",
    )
    p.add_argument("image", type=Path)
    add_fit_arguments(p)
    p.add_argument(
        "--bpp",
        type=float,
        metavar="B",
        help="target rate: the file is at most B bits per pixel; the count fills it at the bytes per "
        "Gaussian the quantised init codes to, and the Gaussians of least energy go if it would not "
        "fit (the real size is reported); without --init or --config, the init follows the rate "
        "(the shipped net from 0.2 bpp, the quad-tree below)",
    )
    p.add_argument("--qat-steps", type=int, metavar="Q", help="quantisation-aware steps (default 500)")
    p.add_argument("--shape-bits", type=int, metavar="B", help="bits per covariance value (default 6)")
    p.add_argument(
        "--codebook",
        type=int,
        metavar="K",
        help="colour codebook entries per stage (default 8; with --bpp 16 below 0.75 bpp, else 32)",
    )
    p.add_argument(
        "--shape-knee",
        type=float,
        metavar="PX",
        help="quantise each covariance value v as asinh(v / PX): steps in proportion to v above PX "
        "pixels; 0 = linear (GaussianImage's; the default, but 1 px below 0.5 bpp with --bpp)",
    )
    p.add_argument("--stages", type=int, metavar="S", help="residual colour VQ stages (default 2)")
    p.add_argument(
        "--xy-subpixel",
        type=int,
        metavar="P",
        help="positions on a grid of 2^-P pixels (default: by the Gaussians' density, 1/4 px above 80 "
        "pixels per Gaussian, 1/8 above 20, else 1/16; with --bpp, 1/4 below 0.5 bpp, else 1/8)",
    )
    p.add_argument("--out", type=Path, help="output file (default out/<image stem>.igi)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=cmd_compress)

    p = sub.add_parser("decompress", help="render an .igi file to a PNG, at any scale")
    p.add_argument("file", type=Path, metavar="FILE.igi")
    p.add_argument("--scale", type=float, default=1.0, help="size factor, e.g. 2 or 0.5 (default 1)")
    p.add_argument("--out", type=Path, help="output PNG (default: next to the input, <stem>.png)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--backend", choices=BACKENDS, default="auto")
    p.set_defaults(func=cmd_decompress)


def _check_new_file(out: Path, overwrite: bool, *, default: bool = False) -> None:
    """Refuse an output that would be lost or clobbered; a default one's folder is made later."""
    if out.is_dir():
        raise InputError(f"--out {out} is a directory; give a file name")
    if out.exists() and not overwrite:
        raise InputError(f"{out} exists; pass --overwrite to replace it")
    if not default and not out.parent.is_dir():
        raise InputError(f"the folder of --out {out} does not exist")


def _read(path: Path) -> bytes:
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    return path.read_bytes()


def cmd_compress(args: argparse.Namespace) -> int:
    from igi_jax import cli, io, memory
    from igi_jax.codec import compress as c_lib
    from igi_jax.codec import quantize as q_lib
    from igi_jax.progress import Progress

    if args.kind is None:
        args.kind = "cholesky"  # GaussianImage's codec parameterisation
    quant = {
        "shape_bits": args.shape_bits,
        "codebook": args.codebook,
        "stages": args.stages,
        "xy_subpixel": args.xy_subpixel,
    }
    base, size = q_lib.QuantConfig(), None
    if args.bpp is not None and args.bpp > 0 and args.image.is_file():
        size = memory.scaled_size(*io.image_size(args.image), args.max_side)
        base = c_lib.quant_for_bpp(args.bpp, size[0] * size[1])
    try:
        changes = {k: v for k, v in quant.items() if v is not None}
        if args.shape_knee is not None:
            changes["shape_knee"] = args.shape_knee or None  # 0: linear
        qcfg = dataclasses.replace(base, **changes)
    except ValueError as e:
        message = str(e)
        for name in ("shape_bits", "xy_subpixel", "shape_knee"):
            message = message.replace(name, "--" + name.replace("_", "-"))
        raise InputError(message) from None
    if args.bpp is not None:
        if args.gaussians is not None:
            raise InputError("give --bpp or --gaussians, not both")
        if not args.bpp > 0:
            raise InputError(f"--bpp must be > 0, got {args.bpp}")
        if not args.image.is_file():
            io.load_image(args.image)  # says what is wrong
        height, width = size
        args.gaussians = c_lib.count_for_bpp(args.bpp, height, width, qcfg)  # grown to fill the budget
        if args.init is None and args.config is None:
            args.init = c_lib.init_for_bpp(args.bpp)
        budget = c_lib.budget_for_bpp(args.bpp, height, width)
    options = cli._fit_options(args)
    try:
        copts = c_lib.CompressOptions(
            fit=options,
            quant=qcfg,
            qat_steps=c_lib.DEFAULT_QAT_STEPS if args.qat_steps is None else args.qat_steps,
            budget_bytes=budget if args.bpp is not None else None,
        )
    except ValueError as e:
        raise InputError(str(e).replace("qat_steps", "--qat-steps").replace("_bits", "-bits")) from None
    if not args.image.is_file():
        io.load_image(args.image)  # says what is wrong
    out = args.out if args.out is not None else Path("out") / f"{args.image.stem}.igi"
    _check_new_file(out, args.overwrite, default=args.out is None)
    fit_bar = Progress(
        options.fit.steps, seconds=options.fit.seconds, enabled=not args.quiet, label=f"{options.init} init"
    )
    qat_bar = Progress(copts.qat_steps, enabled=not args.quiet, label="quantised")
    bars = [fit_bar]

    def on_qat(entry) -> None:
        if bars[-1] is fit_bar:  # the fit is over: its line ends, the quantised one starts
            fit_bar.close()
            bars.append(qat_bar)
        qat_bar.on_entry(entry)

    try:
        run = c_lib.compress_image(
            args.image,
            copts,
            max_side=args.max_side,
            on_start=fit_bar.on_start,
            on_init=fit_bar.on_init,
            callback=fit_bar.on_entry,
            qat_callback=on_qat,
        )
    finally:
        bars[-1].close()
    out.parent.mkdir(parents=True, exist_ok=True)  # only the default out/ can be missing here
    io.atomic_write(out, lambda f: f.write(run.data))
    i = run.info
    ms = f"{i['ms_ssim']:.4f}" if i["ms_ssim"] is not None else "n/a (image too small)"
    print(
        f"wrote {out}: {i['bytes']:,} bytes, {i['bpp']:.4f} bpp ({i['gaussians']:,} Gaussians, "
        f"{i['bits_per_gaussian']:.1f} bits each); decoded PSNR {i['psnr']:.2f} dB, MS-SSIM {ms} "
        f"(unquantised fit {i['psnr_unquantized']:.2f} dB); encode {i['encode_seconds']:.1f} s"
    )
    return 0


def cmd_decompress(args: argparse.Namespace) -> int:
    import numpy as np

    from igi_jax import io, one_image
    from igi_jax.codec import compress as c_lib
    from igi_jax.render import rescale

    one_image.check_backend(args.backend)
    data = _read(args.file)
    g = c_lib.decompress(data)  # every check of the file happens here, before any output
    height, width = rescale.rescaled_size(g.height, g.width, args.scale)
    out = args.out if args.out is not None else args.file.with_suffix(".png")
    _check_new_file(out, args.overwrite)
    image = rescale.render_at_scale(g, args.scale, backend=args.backend)
    io.atomic_write(out, io.png_writer(np.asarray(image)))
    print(f"wrote {out} ({width}×{height} px, scale {args.scale:g} of {g.width}×{g.height})")
    return 0


def cmd_info(path: Path) -> int:
    from igi_jax.codec import bitstream

    data = _read(path)
    p = bitstream.decode(data)
    n = max(p.count, 1)
    lines = [
        f"{path}",
        f"  format           .igi version {bitstream.VERSION}, {len(data):,} bytes",
        f"  image size       {p.width}×{p.height} px (W×H), {8 * len(data) / (p.width * p.height):.4f} bpp",
        f"  Gaussians        {p.count:,} ({p.kind} parameterization), {8 * len(data) / n:.1f} bits each",
        f"  quantisation     positions on a 1/{1 << p.xy_subpixel}-pixel grid, "
        f"covariance {p.shape_bits} bits"
        f"{f' on asinh(v / {p.shape_knee:g} px)' if p.shape_knee else ''}, colours "
        f"{p.codebooks.shape[0]} × {p.codebooks.shape[1]}-entry residual VQ",
    ]
    print("\n".join(lines))
    return 0
