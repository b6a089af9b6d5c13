"""A tiled 2D Gaussian rasterizer in pure PyTorch, differentiated by torch autograd.

Same image as :mod:`igi_jax.render` by construction: the same covariance → conic math, the same
support and the same cuts (see :mod:`igi_jax.covariance` and :mod:`igi_jax.binning`):

* pixel ``(row i, col j)`` is evaluated at its centre ``(x, y) = (j + 0.5, i + 0.5)``;
* ``C(p) = Σ_n c_n · w_n(p)``, ``w = exp(−σ)``, ``σ = ½ (a dx² + c dy²) + b dx dy``, and a pair is
  skipped when ``σ < 0`` or ``exp(−σ) < 1/255``; no sorting, no alpha, black background;
* a Gaussian reaches only the 16×16 tiles overlapped by ``mean ± r``,
  ``r = ceil(3 sqrt(λ_max))``, ``λ_max = b + sqrt(max(0.1, b² − det))`` (GaussianImage's radius);
  Gaussians with a non-positive-definite covariance, or whose box misses the image, are skipped.

Work: every Gaussian is listed in the ``cell × cell`` cells of its tiles that its α-cut ellipse can
reach (``cell = 16`` lists whole tiles; smaller cells skip only pairs that are exactly zero, as in
the JAX CPU backend). Each (Gaussian, cell) entry is one row of ``cell²`` weights, so the work is
proportional to the entries; rows are summed into their cell with ``index_add``. The lists are
built without gradient (integer geometry); everything after is plain autograd.
"""

from __future__ import annotations

import math

import torch

TILE = 16
CELLS = (16, 8, 4)
ALPHA_MIN = 1.0 / 255.0
SIGMA_MAX = -math.log(ALPHA_MIN)  # exp(−σ) ≥ ALPHA_MIN ⇔ σ ≤ SIGMA_MAX
RADIUS_SIGMAS = 3.0


def conic_from_cov(cov: torch.Tensor) -> torch.Tensor:
    """``[N, 3]`` covariance ``(xx, xy, yy)`` → ``[N, 3]`` conic ``(a, b, c)``; zero where det ≤ 0."""
    xx, xy, yy = cov.unbind(-1)
    det = xx * yy - xy * xy
    ok = det > 0
    inv = torch.where(ok, 1.0 / torch.where(ok, det, torch.ones_like(det)), torch.zeros_like(det))
    return torch.stack([yy * inv, -xy * inv, xx * inv], dim=-1)


def valid_cov(cov: torch.Tensor) -> torch.Tensor:
    """``[N, 3]`` → ``[N]`` bool: positive definite."""
    return (cov[:, 0] > 0) & (cov[:, 0] * cov[:, 2] - cov[:, 1] ** 2 > 0)


def radius_from_cov(cov: torch.Tensor) -> torch.Tensor:
    """``[N]`` binning radius, pixels: ``ceil(3 sqrt(λ_max))``."""
    xx, xy, yy = cov.unbind(-1)
    b = 0.5 * (xx + yy)
    det = xx * yy - xy * xy
    lam = b + torch.sqrt(torch.clamp(b * b - det, min=0.1))
    return torch.ceil(RADIUS_SIGMAS * torch.sqrt(lam))


def grid(height: int, width: int, cell: int) -> tuple[int, int]:
    """Cells ``(rows, cols)`` covering the image."""
    return -(-height // cell), -(-width // cell)


def tile_boxes(means: torch.Tensor, cov: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, ...]:
    """Inclusive 16×16-tile box ``(tx0, ty0, tx1, ty1)`` per Gaussian, each ``[N]`` int64.

    An empty box (degenerate or off-image Gaussian) has ``tx1 < tx0``.
    """
    ty_n, tx_n = grid(height, width, TILE)
    r = radius_from_cov(cov)
    mx, my = means[:, 0], means[:, 1]
    x0 = torch.floor(torch.clamp(mx - r, min=0.0) / TILE)
    x1 = torch.floor(torch.clamp(mx + r, max=width - 1e-3) / TILE)
    y0 = torch.floor(torch.clamp(my - r, min=0.0) / TILE)
    y1 = torch.floor(torch.clamp(my + r, max=height - 1e-3) / TILE)
    live = valid_cov(cov) & torch.isfinite(means).all(-1)
    live &= (mx + r >= 0) & (mx - r < width) & (my + r >= 0) & (my - r < height)
    zero, minus = torch.zeros_like(x0), torch.full_like(x0, -1.0)
    x0 = torch.where(live, x0.clamp(0, tx_n - 1), zero).long()
    y0 = torch.where(live, y0.clamp(0, ty_n - 1), zero).long()
    x1 = torch.where(live, x1.clamp(0, tx_n - 1), minus).long()
    y1 = torch.where(live, y1.clamp(0, ty_n - 1), minus).long()
    return x0, y0, x1, y1


def cell_boxes(
    means: torch.Tensor, cov: torch.Tensor, height: int, width: int, cell: int
) -> tuple[torch.Tensor, ...]:
    """Inclusive ``cell``-index box per Gaussian: its tile box ∩ the box of its α-cut ellipse.

    The ellipse ``σ ≤ SIGMA_MAX`` spans ``±sqrt(2 SIGMA_MAX Σ_xx)`` in x (likewise y); the small
    widening keeps float rounding from cutting a non-zero weight.
    """
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {cell=}")
    x0, y0, x1, y1 = tile_boxes(means, cov, height, width)
    if cell == TILE:
        return x0, y0, x1, y1
    f = TILE // cell
    cy_n, cx_n = grid(height, width, cell)
    live = x1 >= x0
    ex = torch.sqrt(2.0 * SIGMA_MAX * torch.clamp(cov[:, 0], min=0.0)) * 1.001 + 0.01
    ey = torch.sqrt(2.0 * SIGMA_MAX * torch.clamp(cov[:, 2], min=0.0)) * 1.001 + 0.01
    mx = torch.where(live, means[:, 0], torch.zeros_like(ex))
    my = torch.where(live, means[:, 1], torch.zeros_like(ey))
    # Pixel k (centre k + 0.5) is reachable iff |k + 0.5 − μ| ≤ e.
    lo_x = torch.floor((mx - ex - 0.5) / cell).clamp(-1, cx_n).long()
    hi_x = torch.floor((mx + ex - 0.5) / cell).clamp(-1, cx_n).long()
    lo_y = torch.floor((my - ey - 0.5) / cell).clamp(-1, cy_n).long()
    hi_y = torch.floor((my + ey - 0.5) / cell).clamp(-1, cy_n).long()
    cx0 = torch.maximum(f * x0, lo_x)
    cy0 = torch.maximum(f * y0, lo_y)
    cx1 = torch.minimum(torch.clamp(f * x1 + f - 1, max=cx_n - 1), hi_x)
    cy1 = torch.minimum(torch.clamp(f * y1 + f - 1, max=cy_n - 1), hi_y)
    empty = ~live | (cx1 < cx0) | (cy1 < cy0)
    return (
        torch.where(empty, 0, cx0),
        torch.where(empty, 0, cy0),
        torch.where(empty, -1, cx1),
        torch.where(empty, -1, cy1),
    )


def list_entries(
    means: torch.Tensor, cov: torch.Tensor, height: int, width: int, cell: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every (Gaussian, cell) entry of the support: ``gauss_ids [E]``, ``cell_ids [E]`` (row-major), int64.

    Entries are grouped by Gaussian (no sort: the splat's ``index_add`` takes any order).
    """
    _, cx_n = grid(height, width, cell)
    x0, y0, x1, y1 = cell_boxes(means, cov, height, width, cell)
    w = torch.clamp(x1 - x0 + 1, min=0)
    counts = w * torch.clamp(y1 - y0 + 1, min=0)
    gid = torch.repeat_interleave(torch.arange(means.shape[0], device=means.device), counts)
    start = torch.cumsum(counts, 0) - counts
    local = torch.arange(gid.shape[0], device=means.device) - start[gid]
    wg = w[gid]
    return gid, (y0[gid] + local // wg) * cx_n + x0[gid] + local % wg


def render(
    means: torch.Tensor,
    cov: torch.Tensor,
    colors: torch.Tensor,
    height: int,
    width: int,
    *,
    cell: int = 8,
) -> torch.Tensor:
    """Render ``[H, W, 3]``, differentiable (autograd) in ``means``, ``cov`` and ``colors``.

    Args:
      means: ``[N, 2]`` centres, pixels (pixel (i, j) is sampled at (j + 0.5, i + 0.5)).
      cov: ``[N, 3]`` covariances ``(xx, xy, yy)``, pixels².
      colors: ``[N, 3]``.
      height, width: output size, pixels.
      cell: list granularity (16, 8 or 4 px); every value renders the same image.

    Returns:
      ``[H, W, 3]`` in the dtype of the inputs, unclamped.
    """
    n = means.shape[0]
    if cov.shape != (n, 3) or colors.shape != (n, 3) or means.shape != (n, 2):
        raise ValueError(
            f"expected means [N,2], cov [N,3], colors [N,3]; got {tuple(means.shape)=} "
            f"{tuple(cov.shape)=} {tuple(colors.shape)=}"
        )
    cy_n, cx_n = grid(height, width, cell)
    with torch.no_grad():
        gid, cid = list_entries(means.detach(), cov.detach(), height, width, cell)
    dtype, device = means.dtype, means.device
    # dx depends on the pixel's column only and dy on its row, so both are [E, cell] and σ is built
    # by broadcasting to [E, cell, cell]: ~3× fewer full-size ops (and autograd nodes) than [E, P].
    offs = torch.arange(cell, device=device).to(dtype) + 0.5
    m = means[gid]  # [E, 2]
    k = conic_from_cov(cov)[gid]  # [E, 3]
    dx = (((cid % cx_n) * cell).to(dtype)[:, None] + offs - m[:, 0:1])[:, None, :]  # [E, 1, cell]
    dy = (((cid // cx_n) * cell).to(dtype)[:, None] + offs - m[:, 1:2])[:, :, None]  # [E, cell, 1]
    a, b, c = (k[:, i, None, None] for i in range(3))
    # The same expression (and evaluation order) as igi_jax.covariance.mahalanobis.
    sigma = 0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy  # [E, cell, cell]
    alpha = torch.exp(-sigma)
    keep = (sigma >= 0) & (alpha >= torch.tensor(ALPHA_MIN, dtype=dtype, device=device))
    w = torch.where(keep, alpha, torch.zeros_like(alpha)).reshape(-1, cell * cell)  # [E, P], row-major
    rows = w[:, :, None] * colors[gid][:, None, :]  # [E, P, 3]
    cells = torch.zeros(cy_n * cx_n, cell * cell, 3, dtype=torch.result_type(w, colors), device=device)
    cells = cells.index_add(0, cid, rows)
    image = cells.view(cy_n, cx_n, cell, cell, 3).permute(0, 2, 1, 3, 4).reshape(cy_n * cell, cx_n * cell, 3)
    return image[:height, :width]
