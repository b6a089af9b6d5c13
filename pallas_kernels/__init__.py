"""Pallas GPU kernels, each beside its pure-JAX reference (as in ``jax/experimental/pallas/ops``).

The rule, one for every op ``<op>``:

* ``pallas_kernels/<op>.py`` holds the Pallas kernel and its public wrapper (``interpret: bool``);
  ``pallas_kernels/<op>_reference.py`` holds the pure-JAX reference with the same arguments
  (minus ``interpret``), which is also the fast path on CPU. The kernel is tested against it:
  interpret-mode parity, forward and VJP, and lowering for ``cuda`` (``tests/pallas_kernels/``).
* This package imports only leaf modules of ``igi_jax`` (:mod:`igi_jax.covariance`,
  :mod:`igi_jax.binning`), never :mod:`igi_jax.render` or :mod:`igi_jax.geometry`: those dispatch
  *to* it (:func:`igi_jax.render.render`, :func:`igi_jax.geometry.dither.dither`), so there is no
  import cycle.
* Which backend ``"auto"`` picks is :func:`igi_jax.backend.resolve_backend`'s business: the XLA
  reference everywhere until a kernel is listed in :data:`igi_jax.backend.VERIFIED_PALLAS` for a
  platform (after ``bench/gpu_check.sh`` passes there).

All kernels target the **Triton** backend (``compiler_params=pallas.triton.CompilerParams``) and are
tested with jax 0.10.2; they are written without ``pl.load``/``pl.store`` and also trace on jax 0.12.
Why Triton: it runs on Ampere (the paper's A100) as well as Hopper, while Mosaic GPU, the default from
jax 0.11 (which deprecates Triton), is Hopper-first. Every public op takes ``interpret=True`` to run
in the Pallas interpreter on CPU, which is how CI tests them; lowering for ``cuda`` is tested too.

* :mod:`pallas_kernels.splat` — tile splatting, forward and backward kernels under one
  ``jax.custom_vjp`` (one program per 16×16 tile; backward writes per-intersection gradients to
  their own slots and ``segment_sum``-s them: no atomics, deterministic). Reference:
  :func:`pallas_kernels.splat_reference.splat_reference` (the tiled XLA rasterizer with a
  hand-written VJP, any cell size; the dense autodiff render :func:`igi_jax.render.dense.render_dense`
  is the source of truth both are tested against).
* :mod:`pallas_kernels.dither` — k×k max-pool + Floyd–Steinberg as a wavefront (row r handles
  column t − 2r at step t, one row per lane); bit-exact with the sequential algorithm. Reference:
  :func:`pallas_kernels.dither_reference.dither_reference` (a skewed-column ``lax.scan``; tests
  add a NumPy loop).
"""
