"""Pallas GPU kernels, each beside a pure-JAX reference with the same signature (``*_reference.py``).

All kernels target the **Triton** backend (``compiler_params=pallas.triton.CompilerParams``) and are
tested with jax 0.10.2; they are written without ``pl.load``/``pl.store`` and also trace on jax 0.12.
Why Triton: it runs on Ampere (the paper's A100) as well as Hopper, while Mosaic GPU, the default from
jax 0.11 (which deprecates Triton), is Hopper-first. Every public op takes ``interpret=True`` to run
in the Pallas interpreter on CPU, which is how CI tests them; lowering for ``cuda`` is tested too.

* :mod:`pallas_kernels.splat` — tile splatting, forward and backward kernels under one
  ``jax.custom_vjp`` (one program per 16×16 tile; backward writes per-intersection gradients to
  their own slots and ``segment_sum``-s them: no atomics, deterministic). Reference:
  :mod:`pallas_kernels.splat_reference` (the tiled XLA rasterizer and the dense autodiff render).
* :mod:`pallas_kernels.dither` — k×k max-pool + Floyd–Steinberg as a wavefront (row r handles
  column t − 2r at step t, one row per lane); bit-exact with the sequential algorithm. Reference:
  :mod:`pallas_kernels.dither_reference` (a skewed-column ``lax.scan``; tests add a NumPy loop).

Backend choice for rendering lives in :func:`igi_jax.render.resolve_backend`: ``"auto"`` picks
these kernels on GPU and the XLA path on CPU.
"""
