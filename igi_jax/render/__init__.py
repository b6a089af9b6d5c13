"""Rendering: binning → rasterization, with a choice of backend.

``render`` is the one entry point. It validates its inputs once, sizes the intersection
list from the data when it can (concrete inputs) and dispatches to a backend:

* ``"cpu-native"``: C++ kernels through XLA's FFI (:mod:`pallas_kernels.splat_native`), the
  fastest on CPU, compiled at first use;
* ``"reference"``: the tiled XLA rasterizer with a hand-written backward (its pure-JAX twin);
* ``"pallas"`` / ``"pallas-interpret"``: the Pallas kernels (GPU / interpreted on CPU);
* ``"dense"``: all pixels × all Gaussians with autodiff (tests and tiny images only);
* ``"auto"``: on CPU ``"cpu-native"`` where it builds (else the XLA reference, with one note);
  elsewhere the XLA reference, until the splat kernel is listed as verified on that platform in
  :data:`igi_jax.backend.VERIFIED_PALLAS` (then Pallas there).
"""

from igi_jax.render.api import (
    BACKENDS,
    color_operator,
    render,
    render_gaussians,
    render_with_count,
    required_capacity,
    resolve_backend,
)

__all__ = [
    "BACKENDS",
    "color_operator",
    "render",
    "render_gaussians",
    "render_with_count",
    "required_capacity",
    "resolve_backend",
]
