#include "radial_table.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

// The pair sum is also compiled for AVX2 (chosen at load time on CPUs that have it; measured 7 % faster
// than SSE2 on top of the errno-free square roots), and on x86-64 CPUs with AVX2 the candidate scan runs
// four candidates per instruction (scan_avx2; 43.5 -> 37.9 ms per call on the overhead benchmark's rank-0
// atoms). No FMA anywhere, and the vector scan does the scalar loop's operations in the same order, so
// every path rounds identically and the result does not depend on the CPU.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define GLASSFIX_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define GLASSFIX_CLONES
#endif


namespace {
// The candidates j0..j1-1 of one window, one at a time: r2 of every candidate, the hits (r2 < rc2)
// compacted in order into hr2/hj (hj: j itself, or tag[j] when tag is given); returns the new count.
// The store is unconditional and the count moves only on a hit, so there is no branch per candidate
// (about 2 in 3 candidates are hits, so a branch would mispredict often).
inline int scan_scalar(const double *xs, const double *ys, const double *zs, const int *tag, int j0, int j1,
                       double xi, double yi, double zi, double rc2, int *hj, double *hr2, int nh)
{
  for (int j = j0; j < j1; j++) {
    const double dx = xs[j] - xi, dy = ys[j] - yi, dz = zs[j] - zi;
    const double r2 = dx * dx + dy * dy + dz * dz;
    hr2[nh] = r2;
    hj[nh] = tag ? tag[j] : j;
    nh += (r2 < rc2) ? 1 : 0;
  }
  return nh;
}
}    // namespace

#if defined(__GNUC__) && defined(__x86_64__)
#define GLASSFIX_HAVE_AVX2_SCAN 1
#include <immintrin.h>
namespace {
// Compaction tables for the AVX2 candidate scan: for a 4-bit hit mask, the lanes of the hits moved to
// the front, as 32-bit lane indices (the doubles) and as byte indices (the 32-bit partner tags).
struct ScanLuts {
  alignas(32) int d[16][8];
  alignas(16) unsigned char b[16][16];
  ScanLuts() {
    for (int m = 0; m < 16; m++) {
      int k = 0;
      for (int l = 0; l < 4; l++)
        if (m & (1 << l)) {
          d[m][2 * k] = 2 * l;
          d[m][2 * k + 1] = 2 * l + 1;
          for (int c = 0; c < 4; c++) b[m][4 * k + c] = static_cast<unsigned char>(4 * l + c);
          k++;
        }
      for (; k < 4; k++) {
        d[m][2 * k] = d[m][2 * k + 1] = 0;
        for (int c = 0; c < 4; c++) b[m][4 * k + c] = 0x80;
      }
    }
  }
};
const ScanLuts kLuts;

// The candidates j0..j1-1 of one window: r2 of every candidate (the same operations in the same order as
// the scalar loop, no FMA, so the same bits), the hits compacted in order into hr2/hj (hj: j itself, or
// tag[j] when tag is given). Writes up to 3 entries past the returned count.
__attribute__((target("avx2"))) int scan_avx2(const double *xs, const double *ys, const double *zs,
                                               const int *tag, int j0, int j1, double xi, double yi,
                                               double zi, double rc2, int *hj, double *hr2, int nh)
{
  const __m256d X = _mm256_set1_pd(xi), Y = _mm256_set1_pd(yi), Z = _mm256_set1_pd(zi);
  const __m256d R = _mm256_set1_pd(rc2);
  __m128i J = _mm_add_epi32(_mm_set1_epi32(j0), _mm_setr_epi32(0, 1, 2, 3));
  const __m128i four = _mm_set1_epi32(4);
  int j = j0;
  for (; j + 4 <= j1; j += 4) {
    const __m256d dx = _mm256_sub_pd(_mm256_loadu_pd(xs + j), X);
    const __m256d dy = _mm256_sub_pd(_mm256_loadu_pd(ys + j), Y);
    const __m256d dz = _mm256_sub_pd(_mm256_loadu_pd(zs + j), Z);
    const __m256d r2 = _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(dx, dx), _mm256_mul_pd(dy, dy)),
                                     _mm256_mul_pd(dz, dz));
    const int m = _mm256_movemask_pd(_mm256_cmp_pd(r2, R, _CMP_LT_OQ));
    const __m256i pd = _mm256_load_si256(reinterpret_cast<const __m256i *>(kLuts.d[m]));
    _mm256_storeu_pd(hr2 + nh, _mm256_castps_pd(_mm256_permutevar8x32_ps(_mm256_castpd_ps(r2), pd)));
    const __m128i t = tag ? _mm_loadu_si128(reinterpret_cast<const __m128i *>(tag + j)) : J;
    _mm_storeu_si128(reinterpret_cast<__m128i *>(hj + nh),
                     _mm_shuffle_epi8(t, _mm_load_si128(reinterpret_cast<const __m128i *>(kLuts.b[m]))));
    nh += __builtin_popcount(static_cast<unsigned>(m));
    J = _mm_add_epi32(J, four);
  }
  return scan_scalar(xs, ys, zs, tag, j, j1, xi, yi, zi, rc2, hj, hr2, nh);
}

// The vector scan on CPUs with AVX2, unless GLASSFIX_SCALAR_SCAN is set (the tests compare both paths).
bool use_avx2_scan()
{
  static const bool use = __builtin_cpu_supports("avx2") && !std::getenv("GLASSFIX_SCALAR_SCAN");
  return use;
}
}    // namespace
#else
#define GLASSFIX_HAVE_AVX2_SCAN 0
#endif

namespace glassfix {


bool RadialTable::load(int nsp, int n, double rc, double h, const std::vector<double> &F,
                       const std::vector<double> &dF, const std::vector<double> &d2F)
{
  nsp_ = 0;
  const size_t total = static_cast<size_t>(nsp) * nsp * (n > 0 ? n : 0);
  if (nsp < 1 || n < 2 || !(h > 0.0) || !(rc > 0.0) || F.size() != total || dF.size() != total ||
      d2F.size() != total || (n - 1) * h < rc * (1.0 - 1e-12))
    return false;
  // per interval k and pair (a, b): the quintic Hermite polynomial in t = r/h - k in power form
  // c0 + c1 t + ... + c5 t^5 (Horner: five multiply-adds per pair and direction)
  const size_t nint = static_cast<size_t>(n - 1);
  tab_.assign(nint * nsp * nsp * 6, 0.0);
  for (int a = 0; a < nsp; a++)
    for (int b = 0; b < nsp; b++)
      for (size_t k = 0; k < nint; k++) {
        const size_t s0 = (static_cast<size_t>(a) * nsp + b) * n + k;
        const double f0 = F[s0], g0 = h * dF[s0], q0 = h * h * d2F[s0];
        const double f1 = F[s0 + 1], g1 = h * dF[s0 + 1], q1 = h * h * d2F[s0 + 1];
        double *c = &tab_[((k * nsp + a) * nsp + b) * 6];
        c[0] = f0;
        c[1] = g0;
        c[2] = 0.5 * q0;
        c[3] = -10.0 * f0 - 6.0 * g0 - 1.5 * q0 + 10.0 * f1 - 4.0 * g1 + 0.5 * q1;
        c[4] = 15.0 * f0 + 8.0 * g0 + 1.5 * q0 - 15.0 * f1 + 7.0 * g1 - q1;
        c[5] = -6.0 * f0 - 3.0 * g0 - 0.5 * q0 + 6.0 * f1 - 3.0 * g1 + 0.5 * q1;
      }
  nsp_ = nsp;
  n_ = n;
  rc_ = rc;
  h_ = h;
  return true;
}

GLASSFIX_CLONES void RadialTable::sum(int nall, const double *const *x, const int *sp, const char *active, int dim, double *acc)
{
  if (nall <= 0 || !loaded()) return;
  const int D = (dim == 2) ? 2 : 3;
  double lo[3] = {0.0, 0.0, 0.0}, hi[3] = {0.0, 0.0, 0.0};
  for (int d = 0; d < D; d++) {
    lo[d] = std::numeric_limits<double>::infinity();
    hi[d] = -lo[d];
  }
  for (int i = 0; i < nall; i++)
    for (int d = 0; d < D; d++) {
      lo[d] = std::min(lo[d], x[i][d]);
      hi[d] = std::max(hi[d], x[i][d]);
    }

  // Columns of side ~3 rc/4 across y (and z), each cut into x-bins of ~rc/8: for an atom i and a column,
  // the atoms within rc lie in one x-window of that column. Within a column the active atoms come
  // first, then the passive ones, each part ordered by x-bin, so a window is one contiguous run of the
  // sorted active atoms and one of the passive atoms. (Column side measured on KA at rc = 5.4 with the
  // vector scan: 35.5 ms per call at 3 rc/4, 37.9 at rc/2, 40.9 at 0.4 rc; wider columns test more
  // candidates but pay less per window.) For sparse atoms the cells grow so that the grid stays
  // proportional to the atom count.
  long nc[3] = {1, 1, 1};
  double side[3] = {0.125 * rc_, 0.75 * rc_, 0.75 * rc_};
  for (;;) {
    long total = 2;
    for (int d = 0; d < D; d++) {
      nc[d] = std::max(1L, static_cast<long>(std::floor((hi[d] - lo[d]) / side[d])));
      total *= nc[d];
    }
    if (total <= 2L * nall + 64) break;
    for (double &v : side) v *= 1.5;
  }
  double w[3], inv[3];
  for (int d = 0; d < 3; d++) {
    const double ext = hi[d] - lo[d];
    const bool spread = d < D && ext > 0.0;
    w[d] = spread ? ext / nc[d] : side[d];
    inv[d] = spread ? nc[d] / ext : 0.0;
  }
  const long nx = nc[0], ny = nc[1], nz = nc[2];
  const long ncell = 2 * nx * ny * nz;
  // the same monotone map assigns atoms to bins and windows to bin ranges, so no atom inside a window
  // can fall outside its bin range
  auto bin = [&](double v, int d) {
    long q = static_cast<long>(std::floor((v - lo[d]) * inv[d]));
    return std::min(std::max(q, 0L), nc[d] - 1);
  };

  // counting sort by cell = ((column, passive), x-bin)
  cellof_.resize(nall);
  start_.assign(ncell + 1, 0);
  for (int i = 0; i < nall; i++) {
    const long col = (D == 3 ? bin(x[i][2], 2) * ny : 0) + bin(x[i][1], 1);
    const long c = (2 * col + (active[i] ? 0 : 1)) * nx + bin(x[i][0], 0);
    cellof_[i] = static_cast<int>(c);
    start_[c + 1]++;
  }
  for (long k = 0; k < ncell; k++) start_[k + 1] += start_[k];
  fill_.assign(start_.begin(), start_.end() - 1);
  xs_.resize(nall);
  ys_.resize(nall);
  zs_.resize(nall);
  ssp_.resize(nall);
  orig_.resize(nall);
  for (int i = 0; i < nall; i++) {
    const int s = fill_[cellof_[i]]++;
    xs_[s] = x[i][0];
    ys_[s] = x[i][1];
    zs_[s] = (D == 3) ? x[i][2] : 0.0;
    ssp_[s] = sp[i];
    orig_[s] = i;
  }
  sacc_.assign(nall, 0.0);
  // (+4: the vector scan stores whole lanes past the last hit)
  hit_.resize(nall + 4);
  hitr2_.resize(nall + 4);
  phit_.resize(nall + 4);
  phitr2_.resize(nall + 4);

  const double rc2 = rc_ * rc_;
  // windows and column gaps use a slightly larger radius, so that rounding cannot drop a pair; the
  // final test r2 < rc2 is exact
  const double rw = rc_ * (1.0 + 1e-10), rw2 = rw * rw;
  const double *xs = xs_.data(), *ys = ys_.data(), *zs = zs_.data();
  const int *ssp = ssp_.data();
  double *sacc = sacc_.data();
  int *ahj = hit_.data(), *phs = phit_.data();
  double *ahr2 = hitr2_.data(), *phr2 = phitr2_.data();
  const int *st = start_.data();
  const double *tab = tab_.data();
  const long nsp = nsp_;
  const long node = 6 * nsp * nsp;    // doubles per interval block
  const double invh = 1.0 / h_;
  const long kmax = n_ - 2;
#if GLASSFIX_HAVE_AVX2_SCAN
  const bool avx2 = use_avx2_scan();
#endif

  // Every pair with an active atom once: an active i takes the passive atoms of its whole window and
  // the active atoms of the forward half (later columns, or later in its own column); the active
  // partner gets its share by a scattered add.
  for (long cz = 0; cz < nz; cz++)
    for (long cy = 0; cy < ny; cy++) {
      const long ci = cz * ny + cy;
      const int s0 = st[2 * ci * nx], s1 = st[(2 * ci + 1) * nx];    // the column's active atoms
      for (int s = s0; s < s1; s++) {
        const double xi = xs[s], yi = ys[s], zi = zs[s];
        const long y0 = bin(yi - rw, 1), y1 = bin(yi + rw, 1);
        const long z0 = (D == 3) ? bin(zi - rw, 2) : 0, z1 = (D == 3) ? bin(zi + rw, 2) : 0;
        // distances first, hits compacted without a branch per candidate (scan_scalar / scan_avx2)
        int na = 0, np = 0;
        auto scan = [&](int j0, int j1, int *hj, double *hr2, int &nh, bool want_index) {
          const int *tag = want_index ? nullptr : ssp;
#if GLASSFIX_HAVE_AVX2_SCAN
          if (avx2) {
            nh = scan_avx2(xs, ys, zs, tag, j0, j1, xi, yi, zi, rc2, hj, hr2, nh);
            return;
          }
#endif
          nh = scan_scalar(xs, ys, zs, tag, j0, j1, xi, yi, zi, rc2, hj, hr2, nh);
        };
        for (long qz = z0; qz <= z1; qz++) {
          const double zl = lo[2] + qz * w[2];
          const double gz = (D == 3) ? std::max(0.0, std::max(zl - zi, zi - (zl + w[2]))) : 0.0;
          for (long qy = y0; qy <= y1; qy++) {
            const double yl = lo[1] + qy * w[1];
            const double gy = std::max(0.0, std::max(yl - yi, yi - (yl + w[1])));
            const double g2 = gy * gy + gz * gz;
            if (!(g2 < rw2)) continue;
            const double hx = std::sqrt(rw2 - g2);
            const long cq = qz * ny + qy;
            const long b0 = bin(xi - hx, 0), b1 = bin(xi + hx, 0) + 1;
            const long pc = (2 * cq + 1) * nx;
            scan(st[pc + b0], st[pc + b1], phs, phr2, np, false);
            if (cq < ci) continue;
            const long ac = 2 * cq * nx;
            scan(cq == ci ? std::max(s + 1, st[ac + b0]) : st[ac + b0], st[ac + b1], ahj, ahr2, na, true);
          }
        }
        // u = r/h for every hit first, in loops the compiler vectorises (square roots)
        for (int q = 0; q < np; q++) phr2[q] = std::sqrt(phr2[q]) * invh;
        for (int q = 0; q < na; q++) ahr2[q] = std::sqrt(ahr2[q]) * invh;
        const long ti = ssp[s];
        const double *T = tab + ti * nsp * 6;    // F_{ti .} on interval 0
        double ai = 0.0;
        for (int q = 0; q < np; q++) {
          const double u = phr2[q];
          const long k = std::min(static_cast<long>(u), kmax);
          const double t = u - static_cast<double>(k);
          const double *c = T + k * node + phs[q] * 6;
          ai += c[0] + t * (c[1] + t * (c[2] + t * (c[3] + t * (c[4] + t * c[5]))));
        }
        for (int q = 0; q < na; q++) {
          const int j = ahj[q];
          const long tj = ssp[j];
          const double u = ahr2[q];
          const long k = std::min(static_cast<long>(u), kmax);
          const double t = u - static_cast<double>(k);
          const double *c = tab + k * node + (ti * nsp + tj) * 6;    // F_{ti tj} on interval k
          const double *e = tab + k * node + (tj * nsp + ti) * 6;    // F_{tj ti} on interval k
          ai += c[0] + t * (c[1] + t * (c[2] + t * (c[3] + t * (c[4] + t * c[5]))));
          sacc[j] += e[0] + t * (e[1] + t * (e[2] + t * (e[3] + t * (e[4] + t * e[5]))));
        }
        sacc[s] += ai;
      }
    }
  for (int s = 0; s < nall; s++) acc[orig_[s]] = sacc[s];
}

}    // namespace glassfix
