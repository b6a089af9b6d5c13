"""Rendering: binning → rasterization, with a choice of backend.

``render`` is the one entry point. It validates its inputs once, sizes the intersection
list from the data when it can (concrete inputs) and dispatches to a backend:

* ``"reference"``: the tiled XLA rasterizer with a hand-written backward (fast on CPU);
* ``"pallas"`` / ``"pallas-interpret"``: the Pallas kernels (GPU / interpreted on CPU);
* ``"dense"``: all pixels × all Gaussians with autodiff (tests and tiny images only);
* ``"auto"``: Pallas on GPU, the XLA reference elsewhere.
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
