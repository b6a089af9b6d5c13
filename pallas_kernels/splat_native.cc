// The tile splat on the CPU as XLA FFI handlers: the native twin of splat_reference.py.
//
// Same inputs as the XLA path (the per-cell lists of igi_jax/binning.py), same maths:
//   forward  C(p) = sum_n c_n w_n(p),  w = exp(-sigma) cut at sigma < 0 and w < 1/255;
//   backward the exact VJP, recomputing w (see splat_reference.py's docstring for the algebra).
// A cell's pixels form the inner, contiguous loop (Gaussian-major, as the XLA path found fastest),
// so each Gaussian is one vectorised pass over cell^2 pixels with the accumulators in L1.
// Cells are shared among threads by an atomic counter; every cell's result depends only on its
// own list, so the output is the same for any thread count. The backward writes one gradient row
// per list slot, then each Gaussian adds its rows in list order (the binning's inverse index): a
// fixed reduction order for any thread count, no atomics.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#ifdef __linux__
#include <sched.h>
#endif

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

constexpr float kAlphaMin = 1.0f / 255.0f;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr float kSigmaCut = 5.5412635f;  // -ln(1/255): exp(-sigma) >= 1/255 <=> sigma <= this
constexpr int kGradWidth = 8;             // d(mean) 2, d(conic) 3, d(colour) 3
// Work handed to a thread at a time: cells vary widely in cost, Gaussians' sums are short.
constexpr int64_t kCellBlock = 8;
constexpr int64_t kGaussianBlock = 2048;

// exp(-s) for s in [0, 8]: 2^-k * exp(-u), k = round(s log2 e), |u| <= ln2 / 2, a degree-6
// Taylor polynomial (relative error < 2e-7). Plain arithmetic and bit casts, so it vectorises.
inline float exp_neg(float s) {
  const float t = s * kLog2e;
  const int k = static_cast<int>(t + 0.5f);
  const float u = (static_cast<float>(k) - t) * kLn2;  // exp(-s) = 2^-k exp(u)
  float p = 1.0f / 720.0f;
  p = p * u + 1.0f / 120.0f;
  p = p * u + 1.0f / 24.0f;
  p = p * u + 1.0f / 6.0f;
  p = p * u + 0.5f;
  p = p * u + 1.0f;
  p = p * u + 1.0f;
  const int32_t bits = (127 - k) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

// exp_neg's argument bound, read through a volatile: were it a constant, gcc would thread the
// clamp's branches into constant results and then refuse to vectorise the pixel loops.
volatile float g_sigma_clamp = 8.0f;

// The cut weight of one pixel, with `hi` = g_sigma_clamp. |sigma| and the clamp keep exp_neg's
// argument finite and in range (NaN -> hi); the 0/1 factor then applies both cuts.
inline float weight(float sigma, float hi) {
  const float m = std::fabs(sigma);
  const float alpha = exp_neg(m < hi ? m : hi);
  const float keep = static_cast<float>((sigma >= 0.0f) & (alpha >= kAlphaMin));
  return alpha * keep;
}

struct Problem {
  const float* means;   // [N, 2]
  const float* conics;  // [N, 3]
  const float* colors;  // [N, 3]
  const int32_t* ids;   // [S]
  const int32_t* start;  // [C]
  const int32_t* end;    // [C]
  int64_t n, slots, cells, height, width, cells_x;
};

// $IGI_NATIVE_THREADS when it is a positive whole number, else the CPUs this process may run on.
// Read at every call, so a change takes effect without recompiling the calling program.
int64_t thread_count() {
  if (const char* env = std::getenv("IGI_NATIVE_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n >= 1) return n;
  }
#ifdef __linux__
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
  return std::max(1u, std::thread::hardware_concurrency());
}

// Runs body(i) for every i < count (cells, or Gaussians) on `threads` threads, in blocks.
template <typename Body>
void parallel_for(int64_t count, int64_t block, int64_t threads, Body body) {
  std::atomic<int64_t> next{0};
  auto worker = [&] {
    for (int64_t b = next.fetch_add(block); b < count; b = next.fetch_add(block)) {
      for (int64_t i = b; i < std::min(b + block, count); ++i) body(i);
    }
  };
  threads = std::max<int64_t>(1, std::min(threads, (count + block - 1) / block));
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& th : pool) th.join();
}

// Pixel centres relative to the cell centre, as in splat_reference._local_pixels.
template <int kCell>
struct Local {
  float x[kCell * kCell], y[kCell * kCell];
  Local() {
    for (int p = 0; p < kCell * kCell; ++p) {
      x[p] = static_cast<float>(p % kCell) + 0.5f - kCell / 2.0f;
      y[p] = static_cast<float>(p / kCell) + 0.5f - kCell / 2.0f;
    }
  }
};

// The slice [lo, hi) of the lists that cell c owns, clipped to the list length.
inline void cell_range(const Problem& pr, int64_t c, int64_t* lo, int64_t* hi) {
  *lo = std::clamp<int64_t>(pr.start[c], 0, pr.slots);
  *hi = std::clamp<int64_t>(pr.end[c], *lo, pr.slots);
}

// Calls f(p, pixel) for the pixels of cell c inside the image: p in the cell, pixel = y·W + x.
template <int kCell, typename F>
inline void image_pixels(const Problem& pr, int64_t c, F f) {
  const int64_t x0 = (c % pr.cells_x) * kCell, y0 = (c / pr.cells_x) * kCell;
  for (int p = 0; p < kCell * kCell; ++p) {
    const int64_t x = x0 + p % kCell, y = y0 + p / kCell;
    if (x < pr.width && y < pr.height) f(p, y * pr.width + x);
  }
}

// The centre of cell c, pixels: the origin of the cell-local coordinates.
template <int kCell>
inline void cell_centre(const Problem& pr, int64_t c, float* cx, float* cy) {
  *cx = static_cast<float>((c % pr.cells_x) * kCell) + kCell / 2.0f;
  *cy = static_cast<float>((c / pr.cells_x) * kCell) + kCell / 2.0f;
}

// One Gaussian in cell-local coordinates, and the rows of the cell its cut ellipse can reach.
struct Local1 {
  float ux, uy, a, b, c;
  int p0, p1;  // pixel range [p0, p1): whole rows, contiguous in the cell
};

template <int kCell>
inline Local1 locate(const Problem& pr, int64_t g, float cx, float cy, const float* reach_y) {
  Local1 l;
  l.ux = pr.means[2 * g] - cx;
  l.uy = pr.means[2 * g + 1] - cy;
  l.a = pr.conics[3 * g];
  l.b = pr.conics[3 * g + 1];
  l.c = pr.conics[3 * g + 2];
  l.p0 = 0;
  l.p1 = kCell * kCell;
  const float reach = reach_y[g];
  if (reach >= 0.0f) {
    const float top = l.uy - reach + kCell / 2.0f, bottom = l.uy + reach + kCell / 2.0f;
    // Row r holds pixel centres at r + 0.5 (cell frame): rows within [top, bottom].
    const int r0 = std::max(0, static_cast<int>(std::ceil(std::max(top - 0.5f, -1.0f))));
    const int r1 = std::min(kCell - 1, static_cast<int>(std::floor(std::min(bottom - 0.5f, kCell + 1.0f))));
    l.p0 = r0 * kCell;
    l.p1 = r1 >= r0 ? (r1 + 1) * kCell : r0 * kCell;
  }
  return l;
}

// Per Gaussian, the vertical reach of its cut ellipse (-1: unknown, keep every row). Rows with
// ½ dy² (ac − b²)/a > σ_max (σ minimised over dx) are exact zeros; the margin keeps rounding from
// ever moving a nonzero row out.
std::vector<float> reach_y(const Problem& pr) {
  std::vector<float> out(pr.n);
  for (int64_t g = 0; g < pr.n; ++g) {
    const float a = pr.conics[3 * g], b = pr.conics[3 * g + 1], c = pr.conics[3 * g + 2];
    const float det = a * c - b * b;
    out[g] = (a > 0.0f && det > 0.0f) ? std::sqrt(2.0f * kSigmaCut * a / det) * 1.01f + 0.01f : -1.0f;
    if (!(out[g] < 1e30f)) out[g] = -1.0f;  // inf / NaN
  }
  return out;
}

inline float sigma_at(const Local1& l, float lx, float ly, float* dx, float* dy) {
  *dx = lx - l.ux;
  *dy = ly - l.uy;
  return 0.5f * (l.a * *dx * *dx + l.c * *dy * *dy) + l.b * *dx * *dy;
}

template <int kCell>
void splat_rows(const Local1& l, const float* __restrict lx, const float* __restrict ly, float r, float g,
                float b, float* __restrict acc_r, float* __restrict acc_g, float* __restrict acc_b) {
  const float hi = g_sigma_clamp;
  for (int p0 = l.p0; p0 < l.p1; p0 += kCell) {
#pragma omp simd
    for (int q = 0; q < kCell; ++q) {
      const int p = p0 + q;
      float dx, dy;
      const float w = weight(sigma_at(l, lx[p], ly[p], &dx, &dy), hi);
      acc_r[p] += w * r;
      acc_g[p] += w * g;
      acc_b[p] += w * b;
    }
  }
}

template <int kCell>
void forward(const Problem& pr, float* image, int64_t threads) {
  constexpr int P = kCell * kCell;
  static const Local<kCell> local;
  const std::vector<float> reach = reach_y(pr);
  parallel_for(pr.cells, kCellBlock, threads, [&](int64_t c) {
    alignas(64) float acc[3][P] = {};
    float cx, cy;
    cell_centre<kCell>(pr, c, &cx, &cy);
    int64_t lo, hi;
    cell_range(pr, c, &lo, &hi);
    for (int64_t s = lo; s < hi; ++s) {
      const int64_t g = pr.ids[s];
      if (g < 0 || g >= pr.n) continue;
      const Local1 l = locate<kCell>(pr, g, cx, cy, reach.data());
      splat_rows<kCell>(l, local.x, local.y, pr.colors[3 * g], pr.colors[3 * g + 1], pr.colors[3 * g + 2],
                        acc[0], acc[1], acc[2]);
    }
    image_pixels<kCell>(pr, c, [&](int p, int64_t pixel) {
      for (int d = 0; d < 3; ++d) image[3 * pixel + d] = acc[d][p];
    });
  });
}

// The gradient row of one list slot: see splat_reference.py for the algebra.
template <int kCell>
void slot_gradient(const Local1& l, const float* __restrict lx, const float* __restrict ly, float r, float g,
                   float b, const float* __restrict v_r, const float* __restrict v_g,
                   const float* __restrict v_b, float* row) {
  const float hi = g_sigma_clamp;
  // Per-lane partial sums over whole rows (one vector per row at 8 px), reduced once at the end.
  alignas(32) float m[8][kCell] = {};  // vc0, vc1, vc2, sx, sy, sxx, sxy, syy
  for (int p0 = l.p0; p0 < l.p1; p0 += kCell) {
#pragma omp simd
    for (int q = 0; q < kCell; ++q) {
      const int p = p0 + q;
      float dx, dy;
      const float w = weight(sigma_at(l, lx[p], ly[p], &dx, &dy), hi);
      m[0][q] += w * v_r[p];
      m[1][q] += w * v_g[p];
      m[2][q] += w * v_b[p];
      const float vs = -w * (r * v_r[p] + g * v_g[p] + b * v_b[p]);  // dL/dsigma
      m[3][q] += vs * dx;
      m[4][q] += vs * dy;
      m[5][q] += vs * dx * dx;
      m[6][q] += vs * dx * dy;
      m[7][q] += vs * dy * dy;
    }
  }
  float t[8];
  for (int k = 0; k < 8; ++k) {
    t[k] = 0.0f;
    for (int q = 0; q < kCell; ++q) t[k] += m[k][q];
  }
  const float sx = t[3], sy = t[4];
  // dsigma/dmean = -(a dx + b dy, b dx + c dy); dsigma/d(a, b, c) = (dx^2/2, dx dy, dy^2/2).
  row[0] = -(l.a * sx + l.b * sy);
  row[1] = -(l.b * sx + l.c * sy);
  row[2] = 0.5f * t[5];
  row[3] = t[6];
  row[4] = 0.5f * t[7];
  row[5] = t[0];
  row[6] = t[1];
  row[7] = t[2];
}

template <int kCell>
void backward(const Problem& pr, const float* v_image, const int32_t* slot_of_entry,
              const int32_t* entry_start, float* slot_grads, float* grads, int64_t threads) {
  constexpr int P = kCell * kCell;
  static const Local<kCell> local;
  const std::vector<float> reach = reach_y(pr);
  parallel_for(pr.cells, kCellBlock, threads, [&](int64_t c) {
    alignas(64) float v[3][P] = {};
    image_pixels<kCell>(pr, c, [&](int p, int64_t pixel) {
      for (int d = 0; d < 3; ++d) v[d][p] = v_image[3 * pixel + d];
    });
    float cx, cy;
    cell_centre<kCell>(pr, c, &cx, &cy);
    int64_t lo, hi;
    cell_range(pr, c, &lo, &hi);
    for (int64_t s = lo; s < hi; ++s) {
      float* row = slot_grads + kGradWidth * s;
      const int64_t g = pr.ids[s];
      if (g < 0 || g >= pr.n) {
        std::fill(row, row + kGradWidth, 0.0f);
        continue;
      }
      const Local1 l = locate<kCell>(pr, g, cx, cy, reach.data());
      slot_gradient<kCell>(l, local.x, local.y, pr.colors[3 * g], pr.colors[3 * g + 1], pr.colors[3 * g + 2],
                           v[0], v[1], v[2], row);
    }
  });
  // Each Gaussian sums its own rows, in list order, found through the binning's inverse index:
  // parallel, and the same order for any thread count.
  parallel_for(pr.n, kGaussianBlock, threads, [&](int64_t g) {
    float acc[kGradWidth] = {};
    for (int64_t k = entry_start[g]; k < entry_start[g + 1]; ++k) {
      const float* row = slot_grads + kGradWidth * static_cast<int64_t>(slot_of_entry[k]);
      for (int j = 0; j < kGradWidth; ++j) acc[j] += row[j];
    }
    std::copy(acc, acc + kGradWidth, grads + kGradWidth * g);
  });
}

ffi::Error make_problem(ffi::Buffer<ffi::F32> means, ffi::Buffer<ffi::F32> conics,
                        ffi::Buffer<ffi::F32> colors, ffi::Buffer<ffi::S32> ids,
                        ffi::Buffer<ffi::S32> start, ffi::Buffer<ffi::S32> end, int64_t height,
                        int64_t width, int64_t cell, Problem* pr) {
  const int64_t n = means.element_count() / 2;
  if (conics.element_count() != 3 * n || colors.element_count() != 3 * n) {
    return ffi::Error::InvalidArgument("splat_native: means, conics, colors disagree on N");
  }
  const int64_t cells_x = (width + cell - 1) / cell, cells_y = (height + cell - 1) / cell;
  if (static_cast<int64_t>(start.element_count()) != cells_x * cells_y ||
      end.element_count() != start.element_count()) {
    return ffi::Error::InvalidArgument("splat_native: cell lists do not match the image size");
  }
  *pr = Problem{means.typed_data(), conics.typed_data(), colors.typed_data(), ids.typed_data(),
                start.typed_data(), end.typed_data(), n, static_cast<int64_t>(ids.element_count()),
                cells_x * cells_y, height, width, cells_x};
  return ffi::Error::Success();
}

template <typename F>
ffi::Error dispatch_cell(int64_t cell, F f) {
  switch (cell) {
    case 4: f(std::integral_constant<int, 4>{}); break;
    case 8: f(std::integral_constant<int, 8>{}); break;
    case 16: f(std::integral_constant<int, 16>{}); break;
    default: return ffi::Error::InvalidArgument("splat_native: cell must be 4, 8 or 16");
  }
  return ffi::Error::Success();
}

ffi::Error forward_impl(ffi::Buffer<ffi::F32> means, ffi::Buffer<ffi::F32> conics,
                        ffi::Buffer<ffi::F32> colors, ffi::Buffer<ffi::S32> ids,
                        ffi::Buffer<ffi::S32> start, ffi::Buffer<ffi::S32> end,
                        ffi::ResultBuffer<ffi::F32> image, int64_t height, int64_t width,
                        int64_t cell) {
  const int64_t threads = thread_count();
  Problem pr;
  if (auto e = make_problem(means, conics, colors, ids, start, end, height, width, cell, &pr);
      e.failure()) {
    return e;
  }
  if (static_cast<int64_t>(image->element_count()) != 3 * height * width) {
    return ffi::Error::InvalidArgument("splat_native: image is not [H, W, 3]");
  }
  return dispatch_cell(cell, [&](auto k) { forward<decltype(k)::value>(pr, image->typed_data(), threads); });
}

ffi::Error backward_impl(ffi::Buffer<ffi::F32> means, ffi::Buffer<ffi::F32> conics,
                         ffi::Buffer<ffi::F32> colors, ffi::Buffer<ffi::S32> ids,
                         ffi::Buffer<ffi::S32> start, ffi::Buffer<ffi::S32> end,
                         ffi::Buffer<ffi::F32> v_image, ffi::Buffer<ffi::S32> slot_of_entry,
                         ffi::Buffer<ffi::S32> entry_start, ffi::ResultBuffer<ffi::F32> grads,
                         ffi::ResultBuffer<ffi::F32> slot_grads, int64_t height, int64_t width,
                         int64_t cell) {
  const int64_t threads = thread_count();
  Problem pr;
  if (auto e = make_problem(means, conics, colors, ids, start, end, height, width, cell, &pr);
      e.failure()) {
    return e;
  }
  if (static_cast<int64_t>(v_image.element_count()) != 3 * height * width ||
      static_cast<int64_t>(grads->element_count()) != kGradWidth * pr.n ||
      static_cast<int64_t>(slot_grads->element_count()) != kGradWidth * pr.slots ||
      static_cast<int64_t>(slot_of_entry.element_count()) != pr.slots ||
      static_cast<int64_t>(entry_start.element_count()) != pr.n + 1) {
    return ffi::Error::InvalidArgument("splat_native: backward buffers have the wrong size");
  }
  return dispatch_cell(cell, [&](auto k) {
    backward<decltype(k)::value>(pr, v_image.typed_data(), slot_of_entry.typed_data(),
                                 entry_start.typed_data(), slot_grads->typed_data(), grads->typed_data(),
                                 threads);
  });
}

// The per-cell lists of igi_jax/binning.bin_gaussians by a counting sort, from the same cell boxes
// (inclusive, empty when x1 < x0): sorted by cell, then by Gaussian index, unused slots = N. XLA's
// sort of the packed keys costs ~10× the whole native splat; this is one pass over the entries.
// Lists that do not fit the capacity are left empty (the caller poisons that render with NaN).
ffi::Error bin_impl(ffi::Buffer<ffi::S32> x0, ffi::Buffer<ffi::S32> y0, ffi::Buffer<ffi::S32> x1,
                    ffi::Buffer<ffi::S32> y1, ffi::ResultBuffer<ffi::S32> ids,
                    ffi::ResultBuffer<ffi::S32> start, ffi::ResultBuffer<ffi::S32> end,
                    ffi::ResultBuffer<ffi::S32> slot_of_entry, ffi::ResultBuffer<ffi::S32> entry_start,
                    int64_t cells_x, int64_t cells_y) {
  const int64_t n = x0.element_count(), cap = ids->element_count(), cells = cells_x * cells_y;
  if (y0.element_count() != n || x1.element_count() != n || y1.element_count() != n ||
      start->element_count() != cells || end->element_count() != cells ||
      slot_of_entry->element_count() != cap || entry_start->element_count() != n + 1) {
    return ffi::Error::InvalidArgument("splat_native: cell boxes or lists have the wrong size");
  }
  const int32_t *bx0 = x0.typed_data(), *by0 = y0.typed_data(), *bx1 = x1.typed_data(), *by1 = y1.typed_data();
  int32_t *out = ids->typed_data(), *s = start->typed_data(), *e = end->typed_data();
  int32_t *inv = slot_of_entry->typed_data(), *first = entry_start->typed_data();
  auto in_grid = [&](int64_t g) {
    return bx1[g] >= bx0[g] && by1[g] >= by0[g] && bx0[g] >= 0 && by0[g] >= 0 && bx1[g] < cells_x &&
           by1[g] < cells_y;
  };
  std::fill(e, e + cells, 0);  // counts first
  int64_t total = 0;
  for (int64_t g = 0; g < n; ++g) {
    if (!in_grid(g)) continue;
    for (int64_t y = by0[g]; y <= by1[g]; ++y) {
      for (int64_t x = bx0[g]; x <= bx1[g]; ++x) ++e[y * cells_x + x];
    }
    total += static_cast<int64_t>(bx1[g] - bx0[g] + 1) * (by1[g] - by0[g] + 1);
  }
  std::fill(out, out + cap, static_cast<int32_t>(n));
  std::fill(inv, inv + cap, 0);
  if (total > cap) {
    std::fill(s, s + cells, 0);
    std::fill(e, e + cells, 0);
    std::fill(first, first + n + 1, 0);
    return ffi::Error::Success();
  }
  int32_t offset = 0;
  for (int64_t c = 0; c < cells; ++c) {
    s[c] = offset;
    offset += e[c];
    e[c] = s[c];  // now the fill cursor; it ends at the list's end
  }
  // Gaussians in index order: each list comes out sorted. The inverse index (Gaussian g's list
  // slots are inv[first[g]] ... inv[first[g + 1] - 1]) lets the backward sum per Gaussian.
  int32_t k = 0;
  for (int64_t g = 0; g < n; ++g) {
    first[g] = k;
    if (!in_grid(g)) continue;
    for (int64_t y = by0[g]; y <= by1[g]; ++y) {
      for (int64_t x = bx0[g]; x <= bx1[g]; ++x) {
        const int32_t slot = e[y * cells_x + x]++;
        out[slot] = static_cast<int32_t>(g);
        inv[k++] = slot;
      }
    }
  }
  first[n] = k;
  return ffi::Error::Success();
}

// The inputs both splat handlers start with: means, conics, colours, then the cell lists.
auto bind_splat_inputs() {
  return ffi::Ffi::Bind()
      .Arg<ffi::Buffer<ffi::F32>>()
      .Arg<ffi::Buffer<ffi::F32>>()
      .Arg<ffi::Buffer<ffi::F32>>()
      .Arg<ffi::Buffer<ffi::S32>>()
      .Arg<ffi::Buffer<ffi::S32>>()
      .Arg<ffi::Buffer<ffi::S32>>();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(IgiBinCells, bin_impl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::S32>>()
                                  .Arg<ffi::Buffer<ffi::S32>>()
                                  .Arg<ffi::Buffer<ffi::S32>>()
                                  .Arg<ffi::Buffer<ffi::S32>>()
                                  .Ret<ffi::Buffer<ffi::S32>>()
                                  .Ret<ffi::Buffer<ffi::S32>>()
                                  .Ret<ffi::Buffer<ffi::S32>>()
                                  .Ret<ffi::Buffer<ffi::S32>>()
                                  .Ret<ffi::Buffer<ffi::S32>>()
                                  .Attr<int64_t>("cells_x")
                                  .Attr<int64_t>("cells_y"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(IgiSplatForward, forward_impl,
                              bind_splat_inputs()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<int64_t>("height")
                                  .Attr<int64_t>("width")
                                  .Attr<int64_t>("cell"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(IgiSplatBackward, backward_impl,
                              bind_splat_inputs()
                                  .Arg<ffi::Buffer<ffi::F32>>()  // v_image
                                  .Arg<ffi::Buffer<ffi::S32>>()
                                  .Arg<ffi::Buffer<ffi::S32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<int64_t>("height")
                                  .Attr<int64_t>("width")
                                  .Attr<int64_t>("cell"));
