"""Public rendering API: validation, capacity sizing and backend dispatch."""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp

from igi_jax import backend as backend_lib
from igi_jax import binning as binning_lib
from igi_jax import compile_cache, covariance
from igi_jax import gaussians as gaussians_lib
from igi_jax.buckets import bucket
from igi_jax.gaussians import Gaussians
from igi_jax.render.dense import render_dense
from pallas_kernels import splat_reference as rasterize_lib

BACKENDS = (*backend_lib.KERNEL_BACKENDS, "dense", "cpu-native")
# The backends that render from 8×8-pixel cell lists (the rest use 16×16 tiles).
CELL_BACKENDS = ("reference", "cpu-native")


def resolve_backend(backend: str) -> str:
    """Validate a render backend name and resolve ``"auto"`` for the splat kernel.

    ``"auto"`` is ``"pallas"`` only where :data:`igi_jax.backend.VERIFIED_PALLAS` lists the splat
    kernel for this platform (see :func:`igi_jax.backend.resolve_backend`); on CPU it is
    ``"cpu-native"`` where :data:`igi_jax.backend.VERIFIED_NATIVE` is set and the C++ kernel
    builds here (:mod:`pallas_kernels.splat_native`; else one note on stderr), else ``"reference"``.
    ``"cpu-native"`` asked for by name and not buildable raises, with the reason.
    """
    resolved = backend_lib.resolve_backend(backend, extra=("dense", "cpu-native"), kernel="splat")
    if backend == "auto" and resolved == "reference" and jax.default_backend() == "cpu":
        return "cpu-native" if backend_lib.native_ready() else "reference"
    if resolved == "cpu-native":
        from pallas_kernels import splat_native

        if (reason := splat_native.unavailable_reason()) is not None:
            raise ValueError(f"backend 'cpu-native' is unavailable: {reason}")
    return resolved


def required_capacity(
    means: jax.Array,
    cov: jax.Array,
    mask: jax.Array,
    height: int,
    width: int,
    *,
    backend: str = "auto",
) -> int:
    """List length (``capacity``) these Gaussians need on ``backend``, bucketed (host call).

    The reference backend lists (Gaussian, 8×8 cell) entries, the Pallas kernels (Gaussian,
    16×16 tile) pairs; both are counted without sorting.
    """
    n = int(_count(means, cov, mask, height, width, list_cell(resolve_backend(backend))))
    return bucket(n, minimum=1024)


def list_cell(backend: str) -> int:
    """Cell size (pixels) of a resolved backend's binning: 8 for the CPU paths, 16 for Pallas."""
    return rasterize_lib.DEFAULT_CELL if backend in CELL_BACKENDS else binning_lib.TILE


_count = jax.jit(binning_lib.count_entries, static_argnums=(3, 4, 5))


def required_chunks(
    means: jax.Array,
    cov: jax.Array,
    mask: jax.Array,
    height: int,
    width: int,
    *,
    chunk: int = rasterize_lib.DEFAULT_CHUNK,
) -> int:
    """Weight-store size (chunks) of :func:`color_operator`'s reference backend, bucketed (host call).

    Counted without sorting; several times below the worst case the capacity implies.
    """
    return bucket(int(_chunks_needed(means, cov, mask, height, width, chunk)), minimum=256)


_chunks_needed = jax.jit(
    lambda m, c, k, h, w, chunk: rasterize_lib.chunks_needed(m, c, k, h, w, chunk=chunk),
    static_argnums=(3, 4, 5),
)


def _is_traced(*xs) -> bool:
    return any(isinstance(x, jax.core.Tracer) for x in xs)


def _check_inputs(means, cov, colors, mask, height, width) -> None:
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {height=} {width=}")
    n = means.shape[0]
    want = {"means": (n, 2), "cov": (n, 3), "colors": (n, 3), "mask": (n,)}
    for name, arr in zip(want, (means, cov, colors, mask), strict=True):
        if tuple(arr.shape) != want[name]:
            raise ValueError(f"{name} has shape {tuple(arr.shape)}, expected {want[name]} (N={n})")


def render(
    means: jax.Array,
    cov: jax.Array,
    colors: jax.Array,
    mask: jax.Array,
    height: int,
    width: int,
    *,
    capacity: int | None = None,
    backend: str = "auto",
    chunk: int = rasterize_lib.DEFAULT_CHUNK,
) -> jax.Array:
    """Render ``[H, W, 3]``: ``C(p) = Σ_n colors_n · exp(−σ_n(p))`` (cuts at σ < 0, α < 1/255).

    Pure and differentiable in ``means``, ``cov`` and ``colors``; ``vmap``-able and jit-able.

    Args:
      means: ``[N, 2]`` centres, pixels (pixel (i, j) is sampled at (j + 0.5, i + 0.5)).
      cov: ``[N, 3]`` covariances ``(xx, xy, yy)``, pixels².
      colors: ``[N, 3]``.
      mask: ``[N]`` bool; masked Gaussians contribute nothing.
      height, width: output size (static).
      capacity: static list length of the backend's binning. ``None`` sizes it from the data,
        which needs concrete inputs; under ``jit``/``vmap`` pass it (see
        :func:`required_capacity`, with the same ``backend``). If the
        data need more, the image is NaN — never silently missing Gaussians.
      backend: one of :data:`BACKENDS`.
      chunk: Gaussians per dense block in the XLA backend.
    """
    return render_with_count(
        means, cov, colors, mask, height, width, capacity=capacity, backend=backend, chunk=chunk
    )[0]


def render_with_count(
    means: jax.Array,
    cov: jax.Array,
    colors: jax.Array,
    mask: jax.Array,
    height: int,
    width: int,
    *,
    capacity: int | None = None,
    backend: str = "auto",
    chunk: int = rasterize_lib.DEFAULT_CHUNK,
) -> tuple[jax.Array, jax.Array]:
    """:func:`render`, plus the list length the data needed (int32 scalar).

    Loops that keep a fixed ``capacity`` compare the count against it to re-bucket.
    """
    _check_inputs(means, cov, colors, mask, height, width)
    backend = resolve_backend(backend)
    if backend == "dense":
        return _render_dense(means, cov, colors, mask, height, width)
    if capacity is None:
        if _is_traced(means, cov, mask):
            raise ValueError(
                "render() under jit/vmap needs a static capacity=; "
                "compute it outside with required_capacity()"
            )
        capacity = _reuse_capacity(
            (means.shape[0], height, width, backend, chunk),
            required_capacity(means, cov, mask, height, width, backend=backend),
        )
    return _render_binned(means, cov, colors, mask, height, width, capacity, backend, chunk)


def _reuse_capacity(shape: tuple, wanted: int) -> int:
    """An eager render's list length: a compiled one up to ``compile_cache.SLACK``× what the data
    need, rather than a new program (the images of a decoder or an RD run differ in list length,
    not in count bucket); ``wanted`` when none qualifies."""
    family = ("render", *shape)
    sizes = compile_cache.choose(family, (wanted,))
    compile_cache.compiled("render", family, sizes, lambda: _render_binned)  # records the size
    return sizes[0]


# One compiled program per (shapes, size, capacity, backend): eager callers pay one compile,
# not one per primitive; under an outer jit this simply inlines.
@functools.partial(jax.jit, static_argnums=(4, 5, 6, 7, 8))
def _render_binned(means, cov, colors, mask, height, width, capacity, backend, chunk):
    conics = covariance.conic_from_cov(cov)
    if backend == "reference":
        b = binning_lib.bin_gaussians(
            means, cov, mask, height, width, capacity, cell=rasterize_lib.DEFAULT_CELL
        )
        image = rasterize_lib.splat_reference(means, conics, colors, b, height, width, chunk=chunk)
    elif backend == "cpu-native":
        from pallas_kernels import splat_native

        nb = splat_native.bin_gaussians(
            means, cov, mask, height, width, capacity, cell=rasterize_lib.DEFAULT_CELL
        )
        b = nb.binning
        image = splat_native.rasterize(means, conics, colors, nb, height, width)
    else:
        from pallas_kernels import splat  # deferred: Pallas imports are heavy and GPU-oriented

        b = binning_lib.bin_gaussians(means, cov, mask, height, width, capacity)
        image = splat.rasterize(
            means, conics, colors, b, height, width, chunk=chunk, interpret=backend == "pallas-interpret"
        )
    return image, b.num_entries


@functools.partial(jax.jit, static_argnums=(4, 5))
def _render_dense(means, cov, colors, mask, height, width):
    count = binning_lib.count_intersections(means, cov, mask, height, width)
    return render_dense(means, cov, colors, mask, height, width), count


def render_gaussians(g: Gaussians, **kwargs) -> jax.Array:
    """Render a :class:`Gaussians` set at its own size; ``kwargs`` go to :func:`render`.

    The set is padded to its size bucket (masked entries add nothing), so that sets of
    neighbouring counts (a decoder's files, an RD run's images) share compiled programs."""
    g = gaussians_lib.pad_to_bucket(g)
    return render(g.means(), g.covariances(), g.colors, g.mask, g.height, g.width, **kwargs)


def color_operator(
    means: jax.Array,
    cov: jax.Array,
    mask: jax.Array,
    height: int,
    width: int,
    **kwargs,
) -> tuple[Callable[[jax.Array], jax.Array], Callable[[jax.Array], jax.Array]]:
    """The render as a linear map of the colours, for a fixed geometry.

    Returns ``(A, At)`` with ``A: colors [N, 3] → image [H, W, 3]`` and its adjoint
    ``At: image [H, W, 3] → colors [N, 3]`` (the renderer's VJP in the colours). The binning is
    computed once here; ``kwargs`` go to :func:`render` (e.g. ``capacity``, ``backend``), except
    ``max_chunks``: the reference backend's weight-store size (see :func:`required_chunks`),
    sized from the data when the inputs are concrete.
    Overflowing any bound makes both maps return NaN.
    """
    max_chunks = kwargs.pop("max_chunks", None)
    concrete = not _is_traced(means, cov, mask)
    if kwargs.get("capacity") is None and concrete:
        kwargs["capacity"] = required_capacity(
            means, cov, mask, height, width, backend=kwargs.get("backend", "auto")
        )
    means, cov = jax.lax.stop_gradient(means), jax.lax.stop_gradient(cov)
    # The weight store serves both cell backends: with a fixed geometry it beats re-splatting.
    if resolve_backend(kwargs.get("backend", "auto")) in CELL_BACKENDS and kwargs.get("capacity"):
        chunk = kwargs.get("chunk", rasterize_lib.DEFAULT_CHUNK)
        if max_chunks is None and concrete:
            max_chunks = required_chunks(means, cov, mask, height, width, chunk=chunk)
        # Fixed geometry: evaluate the weights once; A and Aᵀ become gathers + small contractions.
        _check_inputs(means, cov, jnp.zeros((means.shape[0], 3)), mask, height, width)
        b = binning_lib.bin_gaussians(
            means, cov, mask, height, width, kwargs["capacity"], cell=rasterize_lib.DEFAULT_CELL
        )
        basis = rasterize_lib.color_basis(
            means, covariance.conic_from_cov(cov), b, height, width, chunk=chunk, max_chunks=max_chunks
        )
        poison = jnp.where(b.overflowed() | basis.overflowed(), jnp.nan, 0.0)

        def forward(colors: jax.Array) -> jax.Array:
            return rasterize_lib.basis_render(basis, colors, height, width) + poison

        def adjoint(image: jax.Array) -> jax.Array:
            return rasterize_lib.basis_adjoint(basis, image, means.shape[0]) + poison

        return forward, adjoint

    def forward(colors: jax.Array) -> jax.Array:
        return render(means, cov, colors, mask, height, width, **kwargs)

    zeros = jnp.zeros((means.shape[0], 3), jnp.float32)
    _, vjp = jax.vjp(forward, zeros)

    def adjoint(image: jax.Array) -> jax.Array:
        return vjp(image)[0]

    return forward, adjoint
