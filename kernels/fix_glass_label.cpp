#include "fix_glass_label.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "pair.h"
#include "update.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "collective.h"
#include "positions_check.h"
#include "neigh_request_compat.h"

using namespace LAMMPS_NS;

namespace {
enum { PHOP = 0, D2MIN = 1 };
const double NaN = std::numeric_limits<double>::quiet_NaN();
const int RESTART_VERSION = 1;
const int RESTART_GLOBAL = 9;    // doubles in the global restart record (see write_restart)

long parse_positive(Error *error, const char *style, const char *what, const char *arg)
{
  char *end = nullptr;
  long v = strtol(arg, &end, 10);
  if (end == arg || *end != '\0' || v <= 0 || v > 2147483647L)
    error->all(FLERR, "Fix {}: {} must be a positive integer, got '{}'", style, what, arg);
  return v;
}

double parse_length(Error *error, const char *style, const char *what, const char *arg)
{
  char *end = nullptr;
  double v = strtod(arg, &end);
  if (end == arg || *end != '\0' || !(v > 0.0) || !std::isfinite(v))
    error->all(FLERR, "Fix {}: {} must be a positive length, got '{}'", style, what, arg);
  return v;
}

// inverse of a symmetric positive (semi)definite 3x3 (or 2x2 embedded) matrix; false if singular
bool invert(const double a[3][3], double inv[3][3], int dim)
{
  if (dim == 2) {
    double det = a[0][0] * a[1][1] - a[0][1] * a[1][0];
    double scale = std::max(std::fabs(a[0][0]), std::fabs(a[1][1]));
    if (!(std::fabs(det) > 1e-10 * scale * scale)) return false;
    inv[0][0] = a[1][1] / det;
    inv[0][1] = -a[0][1] / det;
    inv[1][0] = -a[1][0] / det;
    inv[1][1] = a[0][0] / det;
    return true;
  }
  double c00 = a[1][1] * a[2][2] - a[1][2] * a[2][1];
  double c01 = a[1][2] * a[2][0] - a[1][0] * a[2][2];
  double c02 = a[1][0] * a[2][1] - a[1][1] * a[2][0];
  double det = a[0][0] * c00 + a[0][1] * c01 + a[0][2] * c02;
  double scale = std::max({std::fabs(a[0][0]), std::fabs(a[1][1]), std::fabs(a[2][2])});
  if (!(std::fabs(det) > 1e-10 * scale * scale * scale)) return false;
  inv[0][0] = c00 / det;
  inv[1][0] = c01 / det;
  inv[2][0] = c02 / det;
  inv[0][1] = (a[0][2] * a[2][1] - a[0][1] * a[2][2]) / det;
  inv[1][1] = (a[0][0] * a[2][2] - a[0][2] * a[2][0]) / det;
  inv[2][1] = (a[0][1] * a[2][0] - a[0][0] * a[2][1]) / det;
  inv[0][2] = (a[0][1] * a[1][2] - a[0][2] * a[1][1]) / det;
  inv[1][2] = (a[0][2] * a[1][0] - a[0][0] * a[1][2]) / det;
  inv[2][2] = (a[0][0] * a[1][1] - a[0][1] * a[1][0]) / det;
  return true;
}
}    // namespace

/* ---------------------------------------------------------------------- */

FixGlassLabel::FixGlassLabel(LAMMPS *lmp, int narg, char **arg) :
    Fix(lmp, narg, arg), nslots(0), window(0), lagslots(0), rcut(0.0), margin(1.0), mean_norm(0),
    nsamples(0), last_sample(-1), hist(nullptr), label(nullptr), disp(nullptr), mean(0.0),
    list(nullptr)
{
  kind = (strcmp(style, "glass/d2min") == 0) ? D2MIN : PHOP;
  if (kind == PHOP) {
    if (narg != 5)
      error->all(FLERR, "Fix {}: expected 'fix ID group glass/phop N WINDOW' (WINDOW in samples, >= 2)",
                 style);
    nevery = static_cast<int>(parse_positive(error, style, "N", arg[3]));
    window = static_cast<int>(parse_positive(error, style, "WINDOW", arg[4]));
    if (window < 2) error->all(FLERR, "Fix {}: WINDOW must be >= 2 samples, got {}", style, window);
    nslots = 2 * (window / 2) + 1;
  } else {
    const char *usage = "fix ID group glass/d2min N LAG RCUT [normalize sum|mean] [margin M]";
    if (narg < 6) error->all(FLERR, "Fix {}: too few arguments; usage: {}", style, usage);
    nevery = static_cast<int>(parse_positive(error, style, "N", arg[3]));
    long lag = parse_positive(error, style, "LAG", arg[4]);
    if (lag % nevery)
      error->all(FLERR, "Fix {}: LAG ({}) must be a multiple of N ({})", style, lag, nevery);
    lagslots = static_cast<int>(lag / nevery);
    rcut = parse_length(error, style, "RCUT", arg[5]);
    for (int i = 6; i < narg; i += 2) {
      if (i + 1 >= narg) error->all(FLERR, "Fix {}: keyword '{}' needs a value; usage: {}", style, arg[i], usage);
      if (strcmp(arg[i], "normalize") == 0) {
        if (strcmp(arg[i + 1], "sum") == 0) mean_norm = 0;
        else if (strcmp(arg[i + 1], "mean") == 0) mean_norm = 1;
        else error->all(FLERR, "Fix {}: normalize must be 'sum' or 'mean', got '{}'", style, arg[i + 1]);
      } else if (strcmp(arg[i], "margin") == 0) {
        margin = parse_length(error, style, "margin", arg[i + 1]);
      } else {
        error->all(FLERR, "Fix {}: unknown keyword '{}'; usage: {}", style, arg[i], usage);
      }
    }
    nslots = lagslots + 1;
    comm_forward = 3;
  }

  peratom_flag = 1;
  size_peratom_cols = 0;
  peratom_freq = nevery;
  scalar_flag = 1;
  global_freq = nevery;
  extscalar = 0;
  create_attribute = 1;
  maxexchange = 3 * nslots + 1;    // values pack_exchange() sends per atom
  // the history goes into restart files: a restarted run continues it instead of starting a new one
  restart_global = 1;
  restart_peratom = 1;

  FixGlassLabel::grow_arrays(atom->nmax);
  atom->add_callback(Atom::GROW);
  atom->add_callback(Atom::RESTART);
  for (int i = 0; i < atom->nmax; i++) set_arrays(i);
}

FixGlassLabel::~FixGlassLabel()
{
  if (copymode) return;
  atom->delete_callback(id, Atom::GROW);
  atom->delete_callback(id, Atom::RESTART);
  memory->destroy(hist);
  memory->destroy(label);
  memory->destroy(disp);
}

int FixGlassLabel::setmask()
{
  return FixConst::END_OF_STEP;
}

void FixGlassLabel::init()
{
  check_positions(true);    // before LAMMPS' own single-rank check in setup (see FixGlassBridge::init)
  if (kind != D2MIN) return;
  double reach = rcut + margin;
  double cutghost = comm->cutghostuser;
  if (force->pair) cutghost = std::max(cutghost, force->pair->cutforce + neighbor->skin);
  if (cutghost < reach + neighbor->skin)
    error->all(FLERR,
               "Fix {} {}: ghost cutoff {:.6g} is below RCUT {:.6g} + margin {:.6g} + neighbor skin "
               "{:.6g}; add 'comm_modify cutoff {:.6g}' (or larger) before the run",
               id, style, cutghost, rcut, margin, neighbor->skin, reach + neighbor->skin);
  auto req = neighbor->add_request(this, NeighConst::REQ_FULL | NeighConst::REQ_OCCASIONAL);
  req->set_cutoff(reach + neighbor->skin);
}

std::string FixGlassLabel::label_meta() const
{
  // p_hop output at step s is the window centre: s - (WINDOW/2)*N; D2min output at s compares s with
  // its reference s - LAG and describes the reference configuration (the structure before the motion)
  if (kind == PHOP)
    return fmt::format("{{\"kind\": \"phop\", \"fix_style\": \"{}\", \"every\": {}, \"window\": {}, "
                       "\"step_offset\": {}}}",
                       style, nevery, window, -static_cast<bigint>(window / 2) * nevery);
  return fmt::format("{{\"kind\": \"d2min\", \"fix_style\": \"{}\", \"every\": {}, \"lag\": {}, "
                     "\"rcut\": {:.17g}, \"normalize\": \"{}\", \"step_offset\": {}}}",
                     style, nevery, static_cast<bigint>(lagslots) * nevery, rcut, mean_norm ? "mean" : "sum",
                     -static_cast<bigint>(lagslots) * nevery);
}

void FixGlassLabel::init_list(int, NeighList *ptr)
{
  list = ptr;
}

void FixGlassLabel::setup(int)
{
  if (update->ntimestep % nevery == 0) end_of_step();
}

void FixGlassLabel::end_of_step()
{
  if (last_sample == update->ntimestep) return;
  sample();
  if (kind == PHOP) compute_phop();
  else compute_d2min();
  update_mean();
}

/* ---------------------------------------------------------------------- */

// Positions are sampled into a history that outlives this step: a NaN would poison every label of
// the window without any error, so stop here, collectively (only the rank owning the atom sees it).
void FixGlassLabel::check_positions(bool before_run)
{
  std::string msg = glassfix::nonfinite_position(atom->nlocal, domain->dimension, atom->x, atom->tag,
                                                 update->ntimestep, before_run);
  auto fail = glassfix::first_failure(world, !msg.empty(), msg);
  if (fail) error->all(FLERR, "Fix {} {}: {}", id, style, fail.text);
}

bool FixGlassLabel::values_valid() const
{
  return (kind == PHOP) ? nsamples >= nslots : nsamples > lagslots;
}

void FixGlassLabel::sample()
{
  check_positions();
  int slot = static_cast<int>(nsamples % nslots);
  double **x = atom->x;
  imageint *image = atom->image;
  int nlocal = atom->nlocal;
  for (int i = 0; i < nlocal; i++) {
    double xu[3];
    domain->unmap(x[i], image[i], xu);
    for (int d = 0; d < 3; d++) hist[i][3 * slot + d] = xu[d];
  }
  nsamples++;
  last_sample = update->ntimestep;
}

// p_hop of the centre of the last 2h+1 samples: A = first h+1 samples, B = last h+1 (shared centre)
void FixGlassLabel::compute_phop()
{
  int nlocal = atom->nlocal;
  int *mask = atom->mask;
  int dim = domain->dimension;
  int h = window / 2;
  if (nsamples < nslots) {
    for (int i = 0; i < nlocal; i++) label[i] = NaN;
    return;
  }
  bigint first = nsamples - nslots;    // sample index of the oldest sample in the window
  for (int i = 0; i < nlocal; i++) {
    if (!(mask[i] & groupbit)) {
      label[i] = NaN;
      continue;
    }
    double ma[3] = {0, 0, 0}, mb[3] = {0, 0, 0};
    for (int s = 0; s <= h; s++) {
      const double *pa = &hist[i][3 * ((first + s) % nslots)];
      const double *pb = &hist[i][3 * ((first + h + s) % nslots)];
      for (int d = 0; d < dim; d++) {
        ma[d] += pa[d];
        mb[d] += pb[d];
      }
    }
    for (int d = 0; d < dim; d++) {
      ma[d] /= (h + 1);
      mb[d] /= (h + 1);
    }
    // <(r - <r>_B)^2>_A and <(r - <r>_A)^2>_B
    double va = 0.0, vb = 0.0;
    for (int s = 0; s <= h; s++) {
      const double *pa = &hist[i][3 * ((first + s) % nslots)];
      const double *pb = &hist[i][3 * ((first + h + s) % nslots)];
      for (int d = 0; d < dim; d++) {
        va += (pa[d] - mb[d]) * (pa[d] - mb[d]);
        vb += (pb[d] - ma[d]) * (pb[d] - ma[d]);
      }
    }
    label[i] = std::sqrt((va / (h + 1)) * (vb / (h + 1)));
  }
}

void FixGlassLabel::compute_d2min()
{
  int nlocal = atom->nlocal;
  int *mask = atom->mask;
  int dim = domain->dimension;
  if (nsamples <= lagslots) {
    for (int i = 0; i < nlocal; i++) label[i] = NaN;
    return;
  }
  int now = static_cast<int>((nsamples - 1) % nslots);
  int ref = static_cast<int>((nsamples - 1 - lagslots) % nslots);
  // displacement since the reference sample; image independent, so ghosts get it unchanged
  double umax = 0.0;
  for (int i = 0; i < nlocal; i++) {
    double u2 = 0.0;
    for (int d = 0; d < 3; d++) {
      disp[i][d] = hist[i][3 * now + d] - hist[i][3 * ref + d];
      u2 += disp[i][d] * disp[i][d];
    }
    umax = std::max(umax, std::sqrt(u2));
  }
  double umax_all = 0.0;
  MPI_Allreduce(&umax, &umax_all, 1, MPI_DOUBLE, MPI_MAX, world);
  // a pair within RCUT at the reference time is within RCUT + 2 umax now: the list must reach that
  if (rcut + 2.0 * umax_all > rcut + margin)
    error->all(FLERR,
               "Fix {} {}: a particle moved {:.4g} over the lag, so neighbours within RCUT at the "
               "reference time may lie beyond RCUT + margin ({:.4g}) now; increase 'margin' to at least "
               "{:.4g} (and comm_modify cutoff accordingly)",
               id, style, umax_all, rcut + margin, 2.0 * umax_all);
  comm->forward_comm(this);
  neighbor->build_one(list);

  double **x = atom->x;
  double rc2 = rcut * rcut;
  std::vector<int> row(nlocal, -1);
  for (int ii = 0; ii < list->inum; ii++) row[list->ilist[ii]] = ii;
  for (int i = 0; i < nlocal; i++) {
    if (!(mask[i] & groupbit)) {
      label[i] = NaN;
      continue;
    }
    int ii = row[i];
    int *jlist = list->firstneigh[ii];
    int jnum = list->numneigh[ii];
    double X[3][3] = {{0}}, Y[3][3] = {{0}};
    int z = 0;
    for (int jj = 0; jj < jnum; jj++) {
      int j = jlist[jj] & NEIGHMASK;
      double dnow[3], dref[3], r2 = 0.0;
      for (int d = 0; d < 3; d++) {
        dnow[d] = (d < dim) ? x[j][d] - x[i][d] : 0.0;
        dref[d] = (d < dim) ? dnow[d] - (disp[j][d] - disp[i][d]) : 0.0;
        r2 += dref[d] * dref[d];
      }
      if (!(r2 < rc2)) continue;
      z++;
      for (int a = 0; a < dim; a++)
        for (int b = 0; b < dim; b++) {
          X[a][b] += dnow[a] * dref[b];
          Y[a][b] += dref[a] * dref[b];
        }
    }
    double Yinv[3][3] = {{0}};
    if (z == 0 || !invert(Y, Yinv, dim)) {
      label[i] = NaN;
      continue;
    }
    double L[3][3] = {{0}};
    for (int a = 0; a < dim; a++)
      for (int b = 0; b < dim; b++)
        for (int c = 0; c < dim; c++) L[a][b] += X[a][c] * Yinv[c][b];
    double sum = 0.0;
    for (int jj = 0; jj < jnum; jj++) {
      int j = jlist[jj] & NEIGHMASK;
      double dnow[3], dref[3], r2 = 0.0;
      for (int d = 0; d < dim; d++) {
        dnow[d] = x[j][d] - x[i][d];
        dref[d] = dnow[d] - (disp[j][d] - disp[i][d]);
        r2 += dref[d] * dref[d];
      }
      if (!(r2 < rc2)) continue;
      for (int a = 0; a < dim; a++) {
        double res = dnow[a];
        for (int b = 0; b < dim; b++) res -= L[a][b] * dref[b];
        sum += res * res;
      }
    }
    label[i] = mean_norm ? sum / z : sum;
  }
}

void FixGlassLabel::update_mean()
{
  double local[2] = {0.0, 0.0}, global[2] = {0.0, 0.0};
  for (int i = 0; i < atom->nlocal; i++) {
    if (!(atom->mask[i] & groupbit) || std::isnan(label[i])) continue;
    local[0] += label[i];
    local[1] += 1.0;
  }
  MPI_Allreduce(local, global, 2, MPI_DOUBLE, MPI_SUM, world);
  mean = (global[1] > 0) ? global[0] / global[1] : NaN;
}

double FixGlassLabel::compute_scalar()
{
  return mean;
}

/* ---------------------------------------------------------------------- */

double FixGlassLabel::memory_usage()
{
  return static_cast<double>(atom->nmax) * (3.0 * nslots + 1.0 + (disp ? 3.0 : 0.0)) * sizeof(double);
}

void FixGlassLabel::grow_arrays(int nmax)
{
  memory->grow(hist, nmax, 3 * nslots, "glass/label:hist");
  memory->grow(label, nmax, "glass/label:label");
  if (kind == D2MIN) memory->grow(disp, nmax, 3, "glass/label:disp");
  vector_atom = label;
}

void FixGlassLabel::copy_arrays(int i, int j, int)
{
  for (int k = 0; k < 3 * nslots; k++) hist[j][k] = hist[i][k];
  label[j] = label[i];
}

// atoms created after the fix: their whole history is their current position (no motion yet)
void FixGlassLabel::set_arrays(int i)
{
  double xu[3] = {0.0, 0.0, 0.0};
  if (i < atom->nlocal) domain->unmap(atom->x[i], atom->image[i], xu);
  for (int s = 0; s < nslots; s++)
    for (int d = 0; d < 3; d++) hist[i][3 * s + d] = xu[d];
  label[i] = NaN;
}

int FixGlassLabel::pack_exchange(int i, double *buf)
{
  int m = 0;
  for (int k = 0; k < 3 * nslots; k++) buf[m++] = hist[i][k];
  buf[m++] = label[i];
  return m;
}

int FixGlassLabel::unpack_exchange(int nlocal, double *buf)
{
  int m = 0;
  for (int k = 0; k < 3 * nslots; k++) hist[nlocal][k] = buf[m++];
  label[nlocal] = buf[m++];
  return m;
}

/* ----------------------------------------------------------------------
   restart files: the global record holds the sampling state (and the arguments it depends on, to
   refuse a history sampled differently); each atom carries its ring buffer and its current label
------------------------------------------------------------------------- */

void FixGlassLabel::write_restart(FILE *fp)
{
  double list[RESTART_GLOBAL] = {static_cast<double>(RESTART_VERSION), static_cast<double>(kind),
                                 static_cast<double>(nevery),   static_cast<double>(nslots),
                                 static_cast<double>(window),   static_cast<double>(lagslots),
                                 static_cast<double>(nsamples), static_cast<double>(last_sample),
                                 mean};
  if (comm->me == 0) {
    int size = RESTART_GLOBAL * sizeof(double);
    fwrite(&size, sizeof(int), 1, fp);
    fwrite(list, sizeof(double), RESTART_GLOBAL, fp);
  }
}

void FixGlassLabel::restart(char *buf)
{
  auto *list = reinterpret_cast<double *>(buf);
  if (static_cast<int>(list[0]) != RESTART_VERSION)
    error->all(FLERR, "Fix {} {}: the restart file holds a history of format {} (this plugin reads {}); "
               "use a new fix ID to start a fresh history", id, style, static_cast<int>(list[0]),
               RESTART_VERSION);
  int r_every = static_cast<int>(list[2]), r_window = static_cast<int>(list[4]);
  int r_lagslots = static_cast<int>(list[5]);
  if (static_cast<int>(list[1]) != kind || r_every != nevery || static_cast<int>(list[3]) != nslots ||
      r_window != window || r_lagslots != lagslots) {
    if (kind == PHOP)
      error->all(FLERR, "Fix {} {}: the restart file holds a history sampled with N = {}, WINDOW = {} but "
                 "the fix now has N = {}, WINDOW = {}; use the same N and WINDOW to continue it, or a new "
                 "fix ID to start a fresh history", id, style, r_every, r_window, nevery, window);
    error->all(FLERR, "Fix {} {}: the restart file holds a history sampled with N = {}, LAG = {} but the "
               "fix now has N = {}, LAG = {}; use the same N and LAG to continue it, or a new fix ID to "
               "start a fresh history", id, style, r_every, static_cast<bigint>(r_lagslots) * r_every,
               nevery, static_cast<bigint>(lagslots) * nevery);
  }
  nsamples = static_cast<bigint>(list[6]);
  last_sample = static_cast<bigint>(list[7]);
  mean = list[8];
}

int FixGlassLabel::pack_restart(int i, double *buf)
{
  int m = 1;
  for (int k = 0; k < 3 * nslots; k++) buf[m++] = hist[i][k];
  buf[m++] = label[i];
  buf[0] = m;    // LAMMPS' convention: the first value is the length of this fix's record
  return m;
}

void FixGlassLabel::unpack_restart(int nlocal, int nth)
{
  double **extra = atom->extra;
  // skip the records of the fixes stored before this one
  int m = 0;
  for (int k = 0; k < nth; k++) m += static_cast<int>(extra[nlocal][m]);
  // restart() already checked the sampling arguments, so the length matches this fix's
  if (static_cast<int>(extra[nlocal][m]) != 3 * nslots + 2) return;
  m++;
  for (int k = 0; k < 3 * nslots; k++) hist[nlocal][k] = extra[nlocal][m++];
  label[nlocal] = extra[nlocal][m++];
}

int FixGlassLabel::size_restart(int)
{
  return 3 * nslots + 2;
}

int FixGlassLabel::maxsize_restart()
{
  return 3 * nslots + 2;
}

int FixGlassLabel::pack_forward_comm(int n, int *list_, double *buf, int, int *)
{
  int m = 0;
  for (int k = 0; k < n; k++) {
    int j = list_[k];
    buf[m++] = disp[j][0];
    buf[m++] = disp[j][1];
    buf[m++] = disp[j][2];
  }
  return m;
}

void FixGlassLabel::unpack_forward_comm(int n, int first, double *buf)
{
  int m = 0;
  for (int i = first; i < first + n; i++) {
    disp[i][0] = buf[m++];
    disp[i][1] = buf[m++];
    disp[i][2] = buf[m++];
  }
}
