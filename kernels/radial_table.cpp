#include "radial_table.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

// Three instruction-set paths, chosen once per process: plain C++, AVX2, and AVX-512 (F + VL) for the
// candidate scan. GLASSFIX_RADIAL_ISA=scalar|avx2 forces a narrower one (the tests compare them). All
// paths do the same floating-point operations in the same order and without FMA (this file is compiled
// with -ffp-contract=off), so they give the same bits and the result does not depend on the CPU:
//  - scan: r2 = (dx dx + dy dy) + dz dz for every candidate of a window; the hits (r2 < rc2) compacted
//    in order (AVX2: four per instruction through a table of lane permutations; AVX-512: eight, with
//    the compress instructions);
//  - evaluation: u = sqrt(r2) / h, the interval k = min(trunc(u), kmax), t = u - k, the quintic by
//    Horner's rule. The centre's own sum is kept in eight partial sums, hit q of a list into sum
//    q mod 8 (passive lists, then active ones, by species; each list from sum 0), reduced as
//    ((s0+s4)+(s2+s6)) + ((s1+s5)+(s3+s7)). AVX2 does four hits per instruction: u, k and t of a whole
//    list first (square roots four at a time), then the six coefficients of four hits by two 128-bit
//    loads per coefficient pair, unpacked into one vector per coefficient (no gathers: they are slow
//    on several CPUs). The eight sums also break the chain of one running sum, which bounded the old
//    scalar loop.
// A pair of two active atoms of the same species needs one quintic (F_aa serves both); others two.
// Measured on the overhead benchmark's rank-0 atoms (docs/benchmarks.md, 2026-12-03 note): 31.0 ms per
// call for the previous kernel (one scalar quintic per direction, one running sum, AVX2 scan) -> 22.0 ms.
// Tried and not kept: coefficient gathers (slower than the unpacked loads on the Intel VM), 64-byte
// padded coefficient blocks (no gain), other column and bin widths (within the noise).

namespace {

inline double reduce8(const double *s)
{
  return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

inline double horner(const double *c, double t)
{
  return c[0] + t * (c[1] + t * (c[2] + t * (c[3] + t * (c[4] + t * c[5]))));
}

// The candidates j0..j1-1 of one window, one at a time: hits compacted in order into hr2 (and their
// index j into hj unless hj is null). The stores are unconditional and the count moves only on a hit:
// no branch per candidate (a third of the candidates are hits, so a branch would mispredict often). The
// vector scans write up to 7 entries past the returned count.
int scan_scalar(const double *xs, const double *ys, const double *zs, int j0, int j1, double xi, double yi,
                double zi, double rc2, int *hj, double *hr2, int nh)
{
  for (int j = j0; j < j1; j++) {
    const double dx = xs[j] - xi, dy = ys[j] - yi, dz = zs[j] - zi;
    const double r2 = dx * dx + dy * dy + dz * dz;
    hr2[nh] = r2;
    if (hj) hj[nh] = j;
    nh += (r2 < rc2) ? 1 : 0;
  }
  return nh;
}

// The hit lists of one centre of species a: passive partners of species b (r2 at pr2 + b cap, np[b] of
// them), then active ones (r2 at ar2 + b cap, sorted index at aj + b cap, na[b]); off: scratch.
struct Centre {
  const double *tab;
  long nsp, node, kmax;
  double invh;
  long a, cap;
  double *pr2, *ar2;
  int *aj, *off;
  const int *np, *na;
  double *sacc;    // partner sums (an active partner j of species b gets F_ba)
  const double *block(long a1, long b1) const { return tab + (a1 * nsp + b1) * 6; }
};

inline double quintic_at(const Centre &c, const double *T, double r2)
{
  const double u = std::sqrt(r2) * c.invh;
  const long k = std::min(static_cast<long>(u), c.kmax);
  return horner(T + k * c.node, u - static_cast<double>(k));
}

// The centre's own sum (its partners' shares added to sacc).
double centre_scalar(const Centre &c)
{
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (long b = 0; b < c.nsp; b++) {
    const double *T = c.block(c.a, b), *r2 = c.pr2 + b * c.cap;
    for (int q = 0; q < c.np[b]; q++) s[q & 7] += quintic_at(c, T, r2[q]);
  }
  for (long b = 0; b < c.nsp; b++) {
    const double *Tab = c.block(c.a, b), *Tba = c.block(b, c.a), *r2 = c.ar2 + b * c.cap;
    const int *aj = c.aj + b * c.cap;
    for (int q = 0; q < c.na[b]; q++) {
      const double v = quintic_at(c, Tab, r2[q]);
      s[q & 7] += v;
      c.sacc[aj[q]] += (b == c.a) ? v : quintic_at(c, Tba, r2[q]);
    }
  }
  return reduce8(s);
}

}    // namespace

#if defined(__GNUC__) && defined(__x86_64__)
#define GLASSFIX_X86 1
#include <immintrin.h>
namespace {
// Compaction tables for the AVX2 scan: for a 4-bit hit mask, the lanes of the hits moved to the front,
// as 32-bit lane indices (the doubles) and as byte indices (the 32-bit indices j).
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

__attribute__((target("avx2"))) int scan_avx2(const double *xs, const double *ys, const double *zs, int j0,
                                               int j1, double xi, double yi, double zi, double rc2, int *hj,
                                               double *hr2, int nh)
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
    if (hj)
      _mm_storeu_si128(reinterpret_cast<__m128i *>(hj + nh),
                       _mm_shuffle_epi8(J, _mm_load_si128(reinterpret_cast<const __m128i *>(kLuts.b[m]))));
    nh += __builtin_popcount(static_cast<unsigned>(m));
    J = _mm_add_epi32(J, four);
  }
  return scan_scalar(xs, ys, zs, j, j1, xi, yi, zi, rc2, hj, hr2, nh);
}

// Eight candidates per instruction; the last block is loaded under a mask (no scalar tail).
__attribute__((target("avx512f,avx512vl"))) int scan_avx512(const double *xs, const double *ys,
                                                            const double *zs, int j0, int j1, double xi,
                                                            double yi, double zi, double rc2, int *hj,
                                                            double *hr2, int nh)
{
  const __m512d X = _mm512_set1_pd(xi), Y = _mm512_set1_pd(yi), Z = _mm512_set1_pd(zi);
  const __m512d R = _mm512_set1_pd(rc2);
  __m256i J = _mm256_add_epi32(_mm256_set1_epi32(j0), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const __m256i eight = _mm256_set1_epi32(8);
  for (int j = j0; j < j1; j += 8) {
    const __mmask8 in = (j1 - j >= 8) ? static_cast<__mmask8>(0xff) : static_cast<__mmask8>((1u << (j1 - j)) - 1);
    const __m512d dx = _mm512_sub_pd(_mm512_maskz_loadu_pd(in, xs + j), X);
    const __m512d dy = _mm512_sub_pd(_mm512_maskz_loadu_pd(in, ys + j), Y);
    const __m512d dz = _mm512_sub_pd(_mm512_maskz_loadu_pd(in, zs + j), Z);
    const __m512d r2 = _mm512_add_pd(_mm512_add_pd(_mm512_mul_pd(dx, dx), _mm512_mul_pd(dy, dy)),
                                     _mm512_mul_pd(dz, dz));
    const __mmask8 m = _mm512_mask_cmp_pd_mask(in, r2, R, _CMP_LT_OQ);
    _mm512_storeu_pd(hr2 + nh, _mm512_maskz_compress_pd(m, r2));
    if (hj) _mm256_storeu_si256(reinterpret_cast<__m256i *>(hj + nh), _mm256_maskz_compress_epi32(m, J));
    nh += __builtin_popcount(static_cast<unsigned>(m));
    J = _mm256_add_epi32(J, eight);
  }
  return nh;
}

#define GLASSFIX_AVX2_INLINE __attribute__((target("avx2"), always_inline)) inline

// In place over a list of n hits (padded with zeros to a multiple of four): r2 -> t, and the offsets
// k node of the hits' intervals into off.
GLASSFIX_AVX2_INLINE void prepare_avx2(const Centre &c, double *r2, int n)
{
  const __m256d vh = _mm256_set1_pd(c.invh);
  const __m128i km = _mm_set1_epi32(static_cast<int>(c.kmax)), nd = _mm_set1_epi32(static_cast<int>(c.node));
  for (int q = n; q < ((n + 3) & ~3); q++) r2[q] = 0.0;
  for (int q = 0; q < n; q += 4) {
    const __m256d u = _mm256_mul_pd(_mm256_sqrt_pd(_mm256_loadu_pd(r2 + q)), vh);
    const __m128i k = _mm_min_epi32(_mm256_cvttpd_epi32(u), km);
    _mm256_storeu_pd(r2 + q, _mm256_sub_pd(u, _mm256_cvtepi32_pd(k)));
    _mm_storeu_si128(reinterpret_cast<__m128i *>(c.off + q), _mm_mullo_epi32(k, nd));
  }
}

// The quintics of four hits at t, their coefficients at T + off[l]: per coefficient pair, the 128-bit
// loads of lanes (0, 2) and (1, 3) side by side, unpacked into one vector per coefficient.
GLASSFIX_AVX2_INLINE __m256d quintic4(const double *T, const int *off, __m256d t)
{
  const double *p0 = T + off[0], *p1 = T + off[1], *p2 = T + off[2], *p3 = T + off[3];
  __m256d c[6];
  for (int m = 0; m < 6; m += 2) {
    const __m256d a = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(p0 + m)), _mm_loadu_pd(p2 + m), 1);
    const __m256d b = _mm256_insertf128_pd(_mm256_castpd128_pd256(_mm_loadu_pd(p1 + m)), _mm_loadu_pd(p3 + m), 1);
    c[m] = _mm256_unpacklo_pd(a, b);
    c[m + 1] = _mm256_unpackhi_pd(a, b);
  }
  __m256d p = c[5];
  for (int m = 4; m >= 0; m--) p = _mm256_add_pd(c[m], _mm256_mul_pd(t, p));
  return p;
}

// All-ones in the first n lanes (n < 4), zeros after.
GLASSFIX_AVX2_INLINE __m256d keep4(int n)
{
  return _mm256_castsi256_pd(_mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3)));
}

// centre_scalar four hits at a time: the eight partial sums are s0 (sums 0-3) and s1 (4-7), so chunk
// q/4 of a list goes to s0 when even and s1 when odd.
__attribute__((target("avx2"))) double centre_avx2(const Centre &c)
{
  __m256d s[2] = {_mm256_setzero_pd(), _mm256_setzero_pd()};
  for (long b = 0; b < c.nsp; b++) {
    const double *T = c.block(c.a, b);
    double *t = c.pr2 + b * c.cap;
    const int n = c.np[b];
    prepare_avx2(c, t, n);
    int q = 0;
    for (; q + 8 <= n; q += 8) {    // (two independent chains per iteration)
      s[0] = _mm256_add_pd(s[0], quintic4(T, c.off + q, _mm256_loadu_pd(t + q)));
      s[1] = _mm256_add_pd(s[1], quintic4(T, c.off + q + 4, _mm256_loadu_pd(t + q + 4)));
    }
    for (int h = 0; q < n; q += 4, h++)
      s[h] = _mm256_add_pd(s[h], _mm256_and_pd(quintic4(T, c.off + q, _mm256_loadu_pd(t + q)), keep4(n - q)));
  }
  alignas(32) double e[4];
  for (long b = 0; b < c.nsp; b++) {
    const double *Tab = c.block(c.a, b), *Tba = c.block(b, c.a);
    double *t = c.ar2 + b * c.cap;
    const int *aj = c.aj + b * c.cap;
    const int n = c.na[b];
    prepare_avx2(c, t, n);
    for (int q = 0, h = 0; q < n; q += 4, h ^= 1) {
      const __m256d tq = _mm256_loadu_pd(t + q);
      const __m256d v = quintic4(Tab, c.off + q, tq);
      s[h] = _mm256_add_pd(s[h], _mm256_and_pd(v, keep4(n - q)));
      _mm256_store_pd(e, b == c.a ? v : quintic4(Tba, c.off + q, tq));
      for (int l = 0, m = std::min(4, n - q); l < m; l++) c.sacc[aj[q + l]] += e[l];
    }
  }
  alignas(32) double v[8];
  _mm256_store_pd(v, s[0]);
  _mm256_store_pd(v + 4, s[1]);
  return reduce8(v);
}

enum Isa { ISA_SCALAR = 0, ISA_AVX2 = 1, ISA_AVX512 = 2 };

// The widest path this CPU has, unless GLASSFIX_RADIAL_ISA names a narrower one (the tests compare them).
Isa chosen_isa()
{
  static const Isa isa = [] {
    Isa best = ISA_SCALAR;
    if (__builtin_cpu_supports("avx2")) best = ISA_AVX2;
    if (best == ISA_AVX2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl"))
      best = ISA_AVX512;
    const char *want = std::getenv("GLASSFIX_RADIAL_ISA");
    if (want && std::strcmp(want, "scalar") == 0) return ISA_SCALAR;
    if (want && std::strcmp(want, "avx2") == 0 && best >= ISA_AVX2) return ISA_AVX2;
    return best;
  }();
  return isa;
}
}    // namespace
#else
#define GLASSFIX_X86 0
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

void RadialTable::sum(int nall, const double *x, const int *sp, const char *active, int dim, double *acc)
{
  if (nall <= 0 || !loaded()) return;
  const int D = (dim == 2) ? 2 : 3;
  const long nsp = nsp_;
  double lo[3] = {0.0, 0.0, 0.0}, hi[3] = {0.0, 0.0, 0.0};
  for (int d = 0; d < D; d++) {
    lo[d] = std::numeric_limits<double>::infinity();
    hi[d] = -lo[d];
  }
  for (int i = 0; i < nall; i++)
    for (int d = 0; d < D; d++) {
      lo[d] = std::min(lo[d], x[3 * i + d]);
      hi[d] = std::max(hi[d], x[3 * i + d]);
    }

  // Columns of side ~3 rc/4 across y (and z), each cut into x-bins of ~rc/8: for a centre and a column,
  // the atoms within rc lie in one x-window of that column. Within a column come the active atoms, then
  // the passive ones, each part split by species and ordered by x-bin, so a window is one contiguous run
  // per part and species. (Column side measured on KA at rc = 5.4: 3 rc/4 beat rc/2 and 0.4 rc; wider
  // columns test more candidates but pay less per window.) For sparse atoms the cells grow so that the
  // grid stays proportional to the atom count.
  long nc[3] = {1, 1, 1};
  double side[3] = {0.125 * rc_, 0.75 * rc_, 0.75 * rc_};
  for (;;) {
    long total = 2 * nsp;
    for (int d = 0; d < D; d++) {
      nc[d] = std::max(1L, static_cast<long>(std::floor((hi[d] - lo[d]) / side[d])));
      total *= nc[d];
    }
    if (total <= 2L * nsp * nall + 64) break;
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
  const long nrun = 2 * nsp;    // runs per column: (active, species b) at b, (passive, species b) at nsp + b
  const long ncell = nrun * nx * ny * nz;
  // the same monotone map assigns atoms to bins and windows to bin ranges, so no atom inside a window
  // can fall outside its bin range (truncation, not floor: below 0 both clamp to bin 0)
  auto bin = [&](double v, int d) {
    const long q = static_cast<long>(std::max((v - lo[d]) * inv[d], -1.0));
    return std::min(std::max(q, 0L), nc[d] - 1);
  };

  // counting sort by cell = ((column, part, species), x-bin)
  cellof_.resize(nall);
  start_.assign(ncell + 1, 0);
  for (int i = 0; i < nall; i++) {
    const long col = (D == 3 ? bin(x[3 * i + 2], 2) * ny : 0) + bin(x[3 * i + 1], 1);
    const long c = ((col * 2 + (active[i] ? 0 : 1)) * nsp + sp[i]) * nx + bin(x[3 * i + 0], 0);
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
    xs_[s] = x[3 * i + 0];
    ys_[s] = x[3 * i + 1];
    zs_[s] = (D == 3) ? x[3 * i + 2] : 0.0;
    ssp_[s] = sp[i];
    orig_[s] = i;
  }
  sacc_.assign(nall, 0.0);
  // hit lists per part and species (+8: the scans store whole vectors past the count, the evaluation
  // pads to four), plus the interval offsets of one list
  const long cap = nall + 8;
  r2_.resize(2 * nsp * cap);
  idx_.resize((nsp + 1) * cap);
  count_.assign(2 * nsp, 0);

  const double rc2 = rc_ * rc_;
  // windows and column gaps use a slightly larger radius, so that rounding cannot drop a pair; the
  // final test r2 < rc2 is exact
  const double rw = rc_ * (1.0 + 1e-10), rw2 = rw * rw;
  const double *xs = xs_.data(), *ys = ys_.data(), *zs = zs_.data();
  const int *st = start_.data();
  int *np = count_.data(), *na = count_.data() + nsp;
  // (node: doubles per interval block)
  Centre cen{tab_.data(), nsp, 6 * nsp * nsp, n_ - 2L, 1.0 / h_, 0, cap, r2_.data(), r2_.data() + nsp * cap,
             idx_.data(), idx_.data() + nsp * cap, np, na, sacc_.data()};
  using ScanFn = int (*)(const double *, const double *, const double *, int, int, double, double, double, double,
                         int *, double *, int);
  ScanFn scan = scan_scalar;
  double (*centre)(const Centre &) = centre_scalar;
#if GLASSFIX_X86
  const Isa isa = chosen_isa();
  if (isa >= ISA_AVX2) {
    scan = (isa == ISA_AVX512) ? scan_avx512 : scan_avx2;
    // the vector evaluation keeps interval offsets k node in 32-bit lanes: tables too large for that
    // (n nsp^2 beyond ~3.5e8 doubles, far past any model so far) take the scalar evaluation
    if ((n_ - 1.0) * cen.node < static_cast<double>(std::numeric_limits<int>::max())) centre = centre_avx2;
  }
#endif

  for (long cz = 0; cz < nz; cz++)
    for (long cy = 0; cy < ny; cy++) {
      const long ci = cz * ny + cy;
      for (long a = 0; a < nsp; a++) {
        const int s0 = st[(ci * nrun + a) * nx], s1 = st[(ci * nrun + a + 1) * nx];    // active, species a
        cen.a = a;
        for (int s = s0; s < s1; s++) {
          const double xi = xs[s], yi = ys[s], zi = zs[s];
          const long y0 = bin(yi - rw, 1), y1 = bin(yi + rw, 1);
          const long z0 = (D == 3) ? bin(zi - rw, 2) : 0, z1 = (D == 3) ? bin(zi + rw, 2) : 0;
          std::fill(count_.begin(), count_.end(), 0);
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
              for (long b = 0; b < nsp; b++) {
                const int *run = st + (cq * nrun + nsp + b) * nx;
                np[b] = scan(xs, ys, zs, run[b0], run[b1], xi, yi, zi, rc2, nullptr, cen.pr2 + b * cap, np[b]);
              }
              if (cq < ci) continue;
              // active partners in the forward half: later columns; in its own column the later species
              // runs and the later atoms of its own run
              for (long b = (cq == ci) ? a : 0; b < nsp; b++) {
                const int *run = st + (cq * nrun + b) * nx;
                const int j0 = (cq == ci && b == a) ? std::max(s + 1, run[b0]) : run[b0];
                na[b] = scan(xs, ys, zs, j0, run[b1], xi, yi, zi, rc2, cen.aj + b * cap, cen.ar2 + b * cap, na[b]);
              }
            }
          }
          sacc_[s] += centre(cen);
        }
      }
    }
  for (int s = 0; s < nall; s++) acc[orig_[s]] = sacc_[s];
}

}    // namespace glassfix
