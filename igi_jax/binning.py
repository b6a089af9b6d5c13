"""Tile binning: which Gaussians touch which screen cell, as sorted flat lists.

The *support* of a Gaussian is fixed by 16×16 tiles for every backend: it reaches exactly the
tiles overlapped by the box ``mean ± r`` with ``r = ceil(3 sqrt(λ_max))`` (GaussianImage's
radius; see :mod:`igi_jax.covariance`); tile ``(tx, ty)`` covers pixels
``[16 tx, 16 tx + 16) × [16 ty, 16 ty + 16)``. The lists themselves may be built over finer
*cells* (``cell`` = 16, 8, 4 px): a Gaussian is listed in the cells of its tiles that its
α-cut ellipse (``exp(−σ) ≥ 1/255``) can reach. Cells it skips would only add exact zeros, so
every cell size renders the same image; smaller cells just evaluate fewer of them (the CPU
rasterizer uses 8 px, the Pallas kernels 16 px).

Everything has static shapes: the list is padded to a static ``capacity`` (sized from the data
with :func:`count_entries`, which needs no sort), and the true number of list entries is
returned, so callers detect (never silently suffer) an overflow and re-bucket.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from igi_jax import covariance

TILE = 16
CELLS = (16, 8, 4)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Binning:
    """Per-cell Gaussian lists.

    Attributes:
      gauss_ids: ``[S]`` int32, Gaussian index of each (cell, Gaussian) pair, sorted by cell
        (row-major) then by Gaussian index; unused slots hold ``N`` (one past the last).
      tile_start, tile_end: ``[C]`` int32, each cell's slice of ``gauss_ids``.
      num_intersections: int32 scalar, (Gaussian, 16×16 tile) pairs of the support.
      num_entries: int32 scalar, (Gaussian, cell) entries the data need (may exceed
        :attr:`capacity`; equals ``num_intersections`` for 16-px cells).
      cell: cell size in pixels (static).
    """

    gauss_ids: jax.Array
    tile_start: jax.Array
    tile_end: jax.Array
    num_intersections: jax.Array
    num_entries: jax.Array
    cell: int = dataclasses.field(default=TILE, metadata=dict(static=True))

    @property
    def capacity(self) -> int:
        """Entries the lists can hold (the ``capacity`` they were built with)."""
        return self.gauss_ids.shape[-1]

    def overflowed(self) -> jax.Array:
        """True when the lists are incomplete (every renderer then poisons its output with NaN)."""
        return self.num_entries > self.capacity


def tile_grid(height: int, width: int, tile: int = TILE) -> tuple[int, int]:
    """Number of tiles (or cells of size ``tile``) ``(rows, cols)`` covering an image."""
    return -(-height // tile), -(-width // tile)


def tile_boxes(
    means: jax.Array, cov: jax.Array, mask: jax.Array, height: int, width: int
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Inclusive tile-index box ``(tx0, ty0, tx1, ty1)`` per Gaussian, each ``[N]`` int32.

    Empty boxes (masked, degenerate or off-image Gaussians) have ``tx1 < tx0``.
    """
    ty_n, tx_n = tile_grid(height, width)
    r = covariance.radius_from_cov(cov)
    live = mask & covariance.valid_cov(cov) & jnp.all(jnp.isfinite(means), axis=-1)
    mx, my = means[..., 0], means[..., 1]
    # Box in continuous pixels, clipped to the image, mapped to tile indices.
    x0 = jnp.floor(jnp.maximum(mx - r, 0.0) / TILE)
    x1 = jnp.floor(jnp.minimum(mx + r, width - 1e-3) / TILE)
    y0 = jnp.floor(jnp.maximum(my - r, 0.0) / TILE)
    y1 = jnp.floor(jnp.minimum(my + r, height - 1e-3) / TILE)
    on_image = (mx + r >= 0) & (mx - r < width) & (my + r >= 0) & (my - r < height)
    live = live & on_image
    x0 = jnp.where(live, jnp.clip(x0, 0, tx_n - 1), 0).astype(jnp.int32)
    y0 = jnp.where(live, jnp.clip(y0, 0, ty_n - 1), 0).astype(jnp.int32)
    x1 = jnp.where(live, jnp.clip(x1, 0, tx_n - 1), -1).astype(jnp.int32)
    y1 = jnp.where(live, jnp.clip(y1, 0, ty_n - 1), -1).astype(jnp.int32)
    return x0, y0, x1, y1


def cell_boxes(
    means: jax.Array, cov: jax.Array, mask: jax.Array, height: int, width: int, cell: int
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Inclusive cell-index box per Gaussian: its tile box ∩ the box of its α-cut ellipse.

    The ellipse ``σ ≤ SIGMA_MAX`` spans ``±sqrt(2 SIGMA_MAX Σ_xx)`` in x (and likewise in y);
    the box is widened by a small margin so float rounding of σ never cuts a listed weight.
    """
    x0, y0, x1, y1 = tile_boxes(means, cov, mask, height, width)
    if cell == TILE:
        return x0, y0, x1, y1
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {cell}")
    f = TILE // cell
    cy_n, cx_n = tile_grid(height, width, cell)
    live = x1 >= x0

    def reach(var):
        return jnp.sqrt(2.0 * covariance.SIGMA_MAX * jnp.maximum(var, 0.0)) * 1.001 + 0.01

    ex, ey = reach(cov[..., 0]), reach(cov[..., 2])
    # Pixel i (centre i + 0.5) can be reached iff |i + 0.5 − μ| ≤ e.
    mx = jnp.where(live, means[..., 0], 0.0)
    my = jnp.where(live, means[..., 1], 0.0)
    lo_x = jnp.floor((mx - ex - 0.5) / cell).clip(-1, cx_n)
    hi_x = jnp.floor((mx + ex - 0.5) / cell).clip(-1, cx_n)
    lo_y = jnp.floor((my - ey - 0.5) / cell).clip(-1, cy_n)
    hi_y = jnp.floor((my + ey - 0.5) / cell).clip(-1, cy_n)
    cx0 = jnp.maximum(f * x0, lo_x.astype(jnp.int32))
    cy0 = jnp.maximum(f * y0, lo_y.astype(jnp.int32))
    cx1 = jnp.minimum(jnp.minimum(f * x1 + f - 1, cx_n - 1), hi_x.astype(jnp.int32))
    cy1 = jnp.minimum(jnp.minimum(f * y1 + f - 1, cy_n - 1), hi_y.astype(jnp.int32))
    empty = ~live | (cx1 < cx0) | (cy1 < cy0)
    return (
        jnp.where(empty, 0, cx0),
        jnp.where(empty, 0, cy0),
        jnp.where(empty, -1, cx1),
        jnp.where(empty, -1, cy1),
    )


def box_counts(x0: jax.Array, y0: jax.Array, x1: jax.Array, y1: jax.Array) -> jax.Array:
    """``[N]`` cells (or tiles) in each inclusive box; 0 for empty boxes."""
    return jnp.maximum(x1 - x0 + 1, 0) * jnp.maximum(y1 - y0 + 1, 0)


def count_intersections(
    means: jax.Array, cov: jax.Array, mask: jax.Array, height: int, width: int
) -> jax.Array:
    """Total (Gaussian, 16×16 tile) pairs: int32 scalar (= :func:`count_entries` at cell 16)."""
    return jnp.sum(box_counts(*tile_boxes(means, cov, mask, height, width)))


def count_entries(
    means: jax.Array, cov: jax.Array, mask: jax.Array, height: int, width: int, cell: int
) -> jax.Array:
    """Total (Gaussian, cell) list entries: int32 scalar. Cheap; use it to size ``capacity``."""
    return jnp.sum(box_counts(*cell_boxes(means, cov, mask, height, width, cell)))


def _sort_by_cell(cell_of: jax.Array, gid: jax.Array, num_cells: int, n: int):
    """Sort (cell, Gaussian) pairs lexicographically.

    One packed ``uint32`` key when it fits: XLA:CPU sorts a single key ~7× faster than it
    argsorts (a comparator over two operands).
    """
    if (num_cells + 1) * (n + 1) <= 2**32:
        key = cell_of.astype(jnp.uint32) * jnp.uint32(n + 1) + gid.astype(jnp.uint32)
        key = jnp.sort(key)
        return (key // jnp.uint32(n + 1)).astype(jnp.int32), (key % jnp.uint32(n + 1)).astype(jnp.int32)
    cell_sorted, gid_sorted = jax.lax.sort((cell_of, gid), num_keys=2)
    return cell_sorted, gid_sorted


def bin_gaussians(
    means: jax.Array,
    cov: jax.Array,
    mask: jax.Array,
    height: int,
    width: int,
    capacity: int,
    cell: int = TILE,
) -> Binning:
    """Build the per-cell Gaussian lists.

    Args:
      means: ``[N, 2]`` centres, pixels.
      cov: ``[N, 3]`` covariances, pixels².
      mask: ``[N]`` bool, live Gaussians.
      height, width: image size (static).
      capacity: static list length, (cell, Gaussian) entries (see :func:`count_entries`).
      cell: cell size in pixels, one of :data:`CELLS` (static).

    Returns:
      A :class:`Binning`. When ``num_entries > capacity`` the lists are incomplete and every
      renderer poisons its output with NaN.
    """
    if capacity < 1:
        raise ValueError(f"capacity must be positive, got {capacity=}")
    n = means.shape[0]
    cy_n, cx_n = tile_grid(height, width, cell)
    num_cells = cy_n * cx_n
    x0, y0, x1, y1 = cell_boxes(means, cov, mask, height, width, cell)
    w = jnp.maximum(x1 - x0 + 1, 0)
    counts = box_counts(x0, y0, x1, y1)
    ends = jnp.cumsum(counts)
    total = ends[-1] if n else jnp.int32(0)
    # Slot s belongs to the Gaussian whose [start, end) range holds it.
    slot = jnp.arange(capacity, dtype=jnp.int32)
    gid = jnp.searchsorted(ends, slot, side="right").astype(jnp.int32)
    used = slot < jnp.minimum(total, capacity)
    g = jnp.minimum(gid, n - 1)
    local = slot - (ends[g] - counts[g])
    wg = jnp.maximum(w[g], 1)
    cell_of = jnp.where(used, (y0[g] + local // wg) * cx_n + x0[g] + local % wg, num_cells)
    cell_sorted, gid_sorted = _sort_by_cell(cell_of, jnp.where(used, gid, n), num_cells, n)
    cells = jnp.arange(num_cells, dtype=jnp.int32)
    return with_counts(
        gid_sorted,
        jnp.searchsorted(cell_sorted, cells, side="left").astype(jnp.int32),
        jnp.searchsorted(cell_sorted, cells, side="right").astype(jnp.int32),
        total,
        means,
        cov,
        mask,
        height,
        width,
        cell,
    )


def with_counts(
    gauss_ids: jax.Array,
    tile_start: jax.Array,
    tile_end: jax.Array,
    total: jax.Array,
    means: jax.Array,
    cov: jax.Array,
    mask: jax.Array,
    height: int,
    width: int,
    cell: int,
) -> Binning:
    """The :class:`Binning` of sorted lists however they were sorted (here, or natively by
    :mod:`pallas_kernels.splat_native`): ``total`` is the entries the data need, and the 16×16
    tile pairs of the support are counted as every binning counts them."""
    num_tile_hits = count_intersections(means, cov, mask, height, width) if cell != TILE else total
    return Binning(
        gauss_ids=gauss_ids,
        tile_start=tile_start,
        tile_end=tile_end,
        num_intersections=jnp.asarray(num_tile_hits, jnp.int32),
        num_entries=jnp.asarray(total, jnp.int32),
        cell=cell,
    )


def tile_pixel_centres(tile_index: jax.Array, tiles_x: int) -> tuple[jax.Array, jax.Array]:
    """Pixel-centre coordinates of a tile's 256 pixels, row-major: two ``[..., 256]`` arrays."""
    lin = jnp.arange(TILE * TILE, dtype=jnp.int32)
    tx = (tile_index % tiles_x)[..., None]
    ty = (tile_index // tiles_x)[..., None]
    px = (tx * TILE + lin % TILE).astype(jnp.float32) + 0.5
    py = (ty * TILE + lin // TILE).astype(jnp.float32) + 0.5
    return px, py


def image_to_tiles(image: jax.Array, tiles_y: int, tiles_x: int, tile: int = TILE) -> jax.Array:
    """``[H, W, C]`` → ``[T, tile², C]`` (zero-padded to whole tiles)."""
    h, w, c = image.shape
    image = jnp.pad(image, ((0, tiles_y * tile - h), (0, tiles_x * tile - w), (0, 0)))
    t = image.reshape(tiles_y, tile, tiles_x, tile, c).transpose(0, 2, 1, 3, 4)
    return t.reshape(tiles_y * tiles_x, tile * tile, c)


def tiles_to_image(tiles: jax.Array, height: int, width: int, tile: int = TILE) -> jax.Array:
    """``[T, tile², C]`` → ``[H, W, C]`` (crops the padding)."""
    ty_n, tx_n = tile_grid(height, width, tile)
    c = tiles.shape[-1]
    img = tiles.reshape(ty_n, tx_n, tile, tile, c).transpose(0, 2, 1, 3, 4)
    return img.reshape(ty_n * tile, tx_n * tile, c)[:height, :width]
