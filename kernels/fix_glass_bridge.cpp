#include "fix_glass_bridge.h"

#include "bridge_views.h"
#include "positions_check.h"
#include "pyembed.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "pair.h"
#include "memory.h"
#include "modify.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "update.h"

#include <cmath>
#include <algorithm>
#include <functional>
#include <cstring>

#include "collective.h"
#include "neigh_request_compat.h"

using namespace LAMMPS_NS;
using glassfix::GilGuard;
using glassfix::PyRef;
namespace bc = LAMMPS_NS::bridge_contract;

using glassfix::BRIDGE_MODULE;
using glassfix::box_tuple;
using glassfix::release_views;
using glassfix::ro_view;
using glassfix::rw_view;
using glassfix::set_item;

/* ---------------------------------------------------------------------- */

// Parses N only: everything after it is the bridge's (create_handler), so that the bridge is the one
// place that knows each style's keywords and usage line.
FixGlassBridge::FixGlassBridge(LAMMPS *lmp, int narg, char **arg, const char *style_name) :
    Fix(lmp, narg, arg), pystyle(style_name), handler(nullptr), bridge_error(nullptr), nout(1),
    receptive_field(0.0), gather(0), list(nullptr), values(nullptr), has_outputs(0), last_eval(-1),
    ghost_auto(0), ghost_big(0), ghost_user(0.0), halo_width(0), halo_exchanges(0), halo_buf(nullptr), halo_col0(0),
    halo_ncol(0)
{
  if (narg < 5) error->all(FLERR, "Fix {}: too few arguments; usage: {}", style, usage());

  char *end = nullptr;
  long n = strtol(arg[3], &end, 10);
  if (end == arg[3] || *end != '\0' || n <= 0 || n > 2147483647L)
    error->all(FLERR, "Fix {}: N must be a positive integer (evaluation interval in steps), got '{}'",
               style, arg[3]);
  nevery = static_cast<int>(n);
}

std::string FixGlassBridge::usage()
{
  std::string text = "see docs/plugin.md";
  if (!glassfix::ensure_python().empty()) return text;
  GilGuard gil;
  PyRef module(PyImport_ImportModule(BRIDGE_MODULE));
  PyRef u(module ? PyObject_CallMethod(module.get(), "usage", "s", pystyle.c_str()) : nullptr);
  const char *s = u ? PyUnicode_AsUTF8(u.get()) : nullptr;
  if (s) text = s;
  else PyErr_Clear();
  return text;
}

void FixGlassBridge::create_handler(int narg, char **arg, RankNaming naming)
{
  std::string err = glassfix::ensure_python();
  fail_if_any(!err.empty(), err, RANK_IF_PARTIAL);

  std::string msg;
  {
    GilGuard gil;
    PyRef module(PyImport_ImportModule(BRIDGE_MODULE));
    if (!module) {
      msg = "cannot import " + std::string(BRIDGE_MODULE) + " in the embedded Python (" +
          py_error_message() + "); is glassfix installed in the environment of GLASSFIX_PYTHON?";
    } else {
      // errors of this class carry complete messages: printed without their type name
      bridge_error = PyObject_GetAttrString(module.get(), "BridgeError");
      if (!bridge_error) PyErr_Clear();
      PyRef args(PyList_New(0));
      for (int i = 4; i < narg; i++) {
        PyRef s(PyUnicode_FromString(arg[i]));
        PyList_Append(args.get(), s.get());
      }
      PyRef info(PyDict_New());
      set_item(info.get(), "contract_version", PyLong_FromLong(bc::VERSION));
      set_item(info.get(), "ntypes", PyLong_FromLong(atom->ntypes));
      set_item(info.get(), "dimension", PyLong_FromLong(domain->dimension));
      set_item(info.get(), "nprocs", PyLong_FromLong(comm->nprocs));
      set_item(info.get(), "rank", PyLong_FromLong(comm->me));
      set_item(info.get(), "fix_id", PyUnicode_FromString(id));
      set_item(info.get(), "nevery", PyLong_FromLong(nevery));
      PyRef h(PyObject_CallMethod(module.get(), "create", "sOO", pystyle.c_str(), args.get(),
                                  info.get()));
      if (!h) {
        msg = py_error_message();
      } else {
        PyRef pn(PyObject_GetAttrString(h.get(), "n_outputs"));
        PyRef prf(PyObject_GetAttrString(h.get(), "receptive_field"));
        PyRef pg(PyObject_GetAttrString(h.get(), "gather"));
        if (!pn || !prf || !pg) {
          msg = "bridge handler lacks n_outputs/receptive_field/gather (" + py_error_message() + ")";
        } else {
          nout = static_cast<int>(PyLong_AsLong(pn.get()));
          receptive_field = PyFloat_AsDouble(prf.get());
          gather = PyObject_IsTrue(pg.get());
          if (!PyErr_Occurred() && PyObject_HasAttrString(h.get(), "ghost_auto")) {
            PyRef ga(PyObject_GetAttrString(h.get(), "ghost_auto"));
            ghost_auto = ga ? PyObject_IsTrue(ga.get()) : 0;
          }
          if (!PyErr_Occurred() && PyObject_HasAttrString(h.get(), "halo_width")) {
            PyRef hw(PyObject_GetAttrString(h.get(), "halo_width"));
            halo_width = hw ? static_cast<int>(PyLong_AsLong(hw.get())) : 0;
            PyRef hn(hw ? PyObject_GetAttrString(h.get(), "halo_exchanges") : nullptr);
            halo_exchanges = hn ? static_cast<int>(PyLong_AsLong(hn.get())) : 0;
          }
          if (PyErr_Occurred()) msg = py_error_message();
          else handler = h.release();
        }
      }
    }
  }
  fail_if_any(!msg.empty(), msg, naming);
}

void FixGlassBridge::setup_outputs()
{
  if (nout < 1) error->all(FLERR, "Fix {}: the model declares {} outputs; need at least one", style, nout);

  if (gather || receptive_field <= 0.0) ghost_auto = 0;
  setup_halo();
  // ghost auto: reneighbour at every evaluation step with a ghost shell covering the receptive field;
  // the next ordinary re-neighbouring goes back to the user's shell
  if (ghost_auto) force_reneighbor = 1;
  next_reneighbor = -1;

  peratom_flag = 1;
  size_peratom_cols = (nout == 1) ? 0 : nout;
  peratom_freq = nevery;
  scalar_flag = 1;
  vector_flag = 1;
  size_vector = nout;
  global_freq = nevery;
  extscalar = 0;
  extvector = 0;
  create_attribute = 1;
  maxexchange = nout;    // values pack_exchange() sends per atom
  means.assign(nout, 0.0);

  FixGlassBridge::grow_arrays(atom->nmax);
  atom->add_callback(Atom::GROW);
  has_outputs = 1;
  for (int i = 0; i < atom->nmax; i++)
    for (int k = 0; k < nout; k++) values[i][k] = 0.0;
}

/* ---------------------------------------------------------------------- */

FixGlassBridge::~FixGlassBridge()
{
  if (copymode) return;
  if (ghost_auto && ghost_big) comm->cutghostuser = ghost_user;
  if (has_outputs) atom->delete_callback(id, Atom::GROW);
  memory->destroy(values);
  if (Py_IsInitialized() && (handler || bridge_error)) {
    GilGuard gil;
    Py_XDECREF(handler);
    Py_XDECREF(bridge_error);
  }
}

int FixGlassBridge::setmask()
{
  return FixConst::END_OF_STEP | FixConst::PRE_EXCHANGE;
}

// Change the ghost cutoff between re-neighbourings: the communication pattern and the neighbour bins
// (which extend over the ghost region) are rebuilt, exactly as LAMMPS does after a box change.
void FixGlassBridge::set_ghost(bool big)
{
  double want = big ? std::max(ghost_user, receptive_field) : ghost_user;
  ghost_big = big ? 1 : 0;
  if (comm->cutghostuser == want) return;
  comm->cutghostuser = want;
  comm->setup();
  neighbor->setup_bins();
}

void FixGlassBridge::pre_exchange()
{
  if (!ghost_auto) return;
  bigint now = update->ntimestep;
  // The enlarged shell is dropped at the next re-neighbouring LAMMPS does anyway, not forced one step
  // later: until then forward communication carries more ghosts, which costs less (measured) than an
  // extra re-neighbouring.
  if (now % nevery == 0) {
    // positions no longer change before end_of_step of this step: the receptive field itself suffices
    set_ghost(true);
  } else {
    set_ghost(false);
  }
  next_reneighbor = (now / nevery + 1) * nevery;
}

void FixGlassBridge::post_run()
{
  if (ghost_auto && ghost_big) {
    comm->cutghostuser = ghost_user;
    ghost_big = 0;
  }
}

/* ---------------------------------------------------------------------- */

void FixGlassBridge::init()
{
  // LAMMPS stops on a NaN position in Domain::pbc() during setup with error->one on the owning rank,
  // and mpirun can drop that rank's message when it aborts: check here first, collectively
  check_positions(true);
  if (ghost_auto) {
    // the run's setup (and so the first evaluation) uses the enlarged shell; LAMMPS also checks the
    // custom neighbour-list cutoff against it when neighbour lists are initialised
    if (!ghost_big) ghost_user = comm->cutghostuser;
    comm->cutghostuser = std::max(ghost_user, receptive_field + neighbor->skin);
    ghost_big = 1;
    // the native path bins atoms itself (RadialTable); the Python path gets LAMMPS' full list, and
    // every evaluation step re-neighbours first, so the list is always fresh: the cutoff suffices
    if (uses_neighbor_list()) {
      auto req = neighbor->add_request(this, NeighConst::REQ_FULL | NeighConst::REQ_OCCASIONAL);
      req->set_cutoff(receptive_field);
    }
  } else if (!gather && receptive_field > 0.0 && needs_ghost_shell()) {
    // Every atom within the receptive field of an owned atom must be present as a ghost, also after
    // atoms have moved up to the neighbour skin since the last reneighbouring. Checked here, before
    // Neighbor::init() would stop with a generic message. The ghost cutoff LAMMPS will use is the
    // larger of comm_modify cutoff and the pair cutoff + skin (pair->init() has run by now).
    double cutghost = comm->cutghostuser;
    if (force->pair) cutghost = std::max(cutghost, force->pair->cutforce + neighbor->skin);
    double need = receptive_field + neighbor->skin;
    if (cutghost < need && halo_width > 0)
      error->all(FLERR,
                 "Fix {} {}: ghost cutoff {:.6g} is below the edge cutoff {:.6g} plus neighbor skin "
                 "{:.6g} that distributed message passing (mode local) needs: every rank builds the "
                 "graph of its atoms over ghosts one edge cutoff deep and receives the ghosts' node "
                 "states between cycles; add 'comm_modify cutoff {:.6g}' (or larger) before the run, "
                 "or use 'ghost auto' or 'mode gather'",
                 id, style, cutghost, receptive_field, neighbor->skin, need);
    if (cutghost < need)
      error->all(FLERR,
                 "Fix {} {}: ghost cutoff {:.6g} is below the receptive field {:.6g} plus neighbor "
                 "skin {:.6g}; add 'comm_modify cutoff {:.6g}' (or larger) before the run, or use "
                 "'mode gather'",
                 id, style, cutghost, receptive_field, neighbor->skin, need);
    if (uses_neighbor_list()) {
      auto req = neighbor->add_request(this, NeighConst::REQ_FULL | NeighConst::REQ_OCCASIONAL);
      // Neighbor::build_one() does not rebuild a list already built since the last re-neighbouring, so
      // between two evaluations without re-neighbouring the list is reused: its reach must include the
      // skin (atoms move < skin/2 before LAMMPS re-neighbours). Pairs beyond the cutoff are skipped.
      req->set_cutoff(receptive_field + neighbor->skin);
    }
  }
}

void FixGlassBridge::init_list(int, NeighList *ptr)
{
  list = ptr;
}

void FixGlassBridge::setup(int)
{
  // Always evaluate at setup so dumps/thermo on the first step of every run see current values.
  evaluate();
  if (ghost_auto) next_reneighbor = (update->ntimestep / nevery + 1) * nevery;
}

void FixGlassBridge::end_of_step()
{
  evaluate();
}

/* ---------------------------------------------------------------------- */

std::string FixGlassBridge::py_error_message()
{
  return glassfix::fetch_python_error(bridge_error);
}

// Report an error that may have happened on only some ranks without deadlocking: all ranks learn the
// lowest failing rank, that rank broadcasts its message, and everyone stops through error->all, so
// exactly one clean ERROR line is printed and every rank exits non-zero. The line names the failing
// rank when only some ranks failed (e.g. an import that works on one node and not on another), and
// always for RANK_ALWAYS (a callback that sees only that rank's atoms); never for RANK_NEVER (work that
// rank 0 does alone, where "1 of N ranks failed" would mislead).
void FixGlassBridge::fail_if_any(bool failed, const std::string &msg, RankNaming naming)
{
  auto fail = glassfix::first_failure(world, failed, msg);
  if (!fail) return;
  std::string where = (naming == RANK_NEVER) ? "" : fail.where(naming == RANK_ALWAYS);
  error->all(FLERR, "Fix {} {}{}: {}", id, style, where, fail.text);
}

void FixGlassBridge::check_positions(bool before_run)
{
  std::string msg = glassfix::nonfinite_position(atom->nlocal, domain->dimension, atom->x, atom->tag,
                                                 update->ntimestep, before_run);
  fail_if_any(!msg.empty(), msg, RANK_IF_PARTIAL);
}

/* ---------------------------------------------------------------------- */

void FixGlassBridge::evaluate()
{
  if (last_eval == update->ntimestep && update->ntimestep > 0) return;
  last_eval = update->ntimestep;
  check_positions();
  if (gather) {
    evaluate_gather();
  } else {
    std::vector<int> centers;
    std::vector<double> out;
    int nlocal = atom->nlocal;
    int *mask = atom->mask;
    for (int i = 0; i < nlocal; i++)
      if (mask[i] & groupbit) centers.push_back(i);
    out.assign(centers.size() * static_cast<size_t>(nout), 0.0);
    evaluate_local(out.data(), centers);
    for (int i = 0; i < nlocal; i++)
      for (int k = 0; k < nout; k++) values[i][k] = 0.0;
    for (size_t c = 0; c < centers.size(); c++)
      for (int k = 0; k < nout; k++) values[centers[c]][k] = out[c * nout + k];
  }
  update_means();
}

FixGlassBridge::ViewAtoms FixGlassBridge::view_atoms()
{
  const int nall = atom->nlocal + atom->nghost;
  ViewAtoms va{nall, nall ? atom->x[0] : nullptr, atom->type, atom->tag};
  own_view_atoms(va);
  return va;
}

void FixGlassBridge::evaluate_local(double *out, std::vector<int> &centers)
{
  if (evaluate_natively(out, centers)) return;
  int nlocal = atom->nlocal;
  const ViewAtoms va = view_atoms();
  const int nall = va.nall;
  int ncenter = static_cast<int>(centers.size());

  // Flatten LAMMPS' full neighbour list of the centre atoms into CSR (its pages are not contiguous).
  // Distributed message passing needs the edges of every owned atom (the group selects outputs only):
  // the CSR rows are then all owned atoms 0..nlocal-1 (view["owned_rows"] = 1).
  std::vector<int> all_owned;
  if (halo_width > 0) {
    all_owned.resize(nlocal);
    for (int i = 0; i < nlocal; i++) all_owned[i] = i;
  }
  const std::vector<int> &rows = halo_width > 0 ? all_owned : centers;
  const int nrows = static_cast<int>(rows.size());
  std::vector<long long> offsets(nrows + 1, 0);
  std::vector<int> neigh;
  if (receptive_field > 0.0 && uses_neighbor_list()) {
    neighbor->build_one(list);
    // a full list has every owned atom as an I atom; index them by local index
    std::vector<int> row(nlocal, -1);
    for (int ii = 0; ii < list->inum; ii++) row[list->ilist[ii]] = ii;
    size_t total = 0;
    for (int c = 0; c < nrows; c++) total += list->numneigh[row[rows[c]]];
    neigh.reserve(total);
    for (int c = 0; c < nrows; c++) {
      int ii = row[rows[c]];
      int *jlist = list->firstneigh[ii];
      int jnum = list->numneigh[ii];
      for (int jj = 0; jj < jnum; jj++) neigh.push_back(jlist[jj] & NEIGHMASK);
      offsets[c + 1] = static_cast<long long>(neigh.size());
    }
  }

  std::string msg;
  {
    GilGuard gil;
    PyRef view(PyDict_New());
    PyObject *v = view.get();
    bool ok = set_item(v, "step", PyLong_FromLongLong(update->ntimestep)) &&
        set_item(v, "time", PyFloat_FromDouble(update->atime + (update->ntimestep - update->atimestep) * update->dt)) &&
        set_item(v, "nlocal", PyLong_FromLong(nlocal)) &&
        set_item(v, "nall", PyLong_FromLong(nall)) &&
        set_item(v, "x", ro_view(va.x, sizeof(double) * 3 * nall)) &&
        set_item(v, "type", ro_view(va.type, sizeof(int) * nall)) &&
        set_item(v, "tag", ro_view(va.tag, sizeof(tagint) * nall)) &&
        set_item(v, "tag_itemsize", PyLong_FromLong(sizeof(tagint))) &&
        set_item(v, "centers", ro_view(centers.data(), sizeof(int) * ncenter)) &&
        set_item(v, "offsets", ro_view(offsets.data(), sizeof(long long) * (nrows + 1))) &&
        set_item(v, "neighbors", ro_view(neigh.data(), sizeof(int) * neigh.size())) &&
        set_item(v, "owned_rows", PyLong_FromLong(halo_width > 0 ? 1 : 0)) &&
        set_item(v, "out", rw_view(out, sizeof(double) * ncenter * nout)) &&
        set_item(v, "box", box_tuple(domain));
    PyObject *halo = nullptr;    // borrowed from the view
    if (ok && halo_width > 0) {
      ok = set_item(v, "halo", new_halo_callable()) && set_item(v, "halo_width", PyLong_FromLong(halo_width));
      if (ok) halo = PyDict_GetItemString(v, "halo");
    }
    if (!ok) {
      msg = "cannot build the view passed to Python (" + py_error_message() + ")";
      // the bridge never ran on this rank: join the other ranks' exchanges without data
      for (int k = 0; k < halo_exchanges && halo_width > 0; k++) Py_XDECREF(halo_exchange(Py_None));
      PyErr_Clear();
    } else {
      PyRef r(PyObject_CallMethod(handler, "compute_local", "O", v));
      if (!r) msg = py_error_message();
      end_halo_callable(halo);
      release_views(v);
    }
  }
  fail_if_any(!msg.empty(), msg, RANK_ALWAYS);
}

// Gather, for every owned atom, (id, type, in-group) and `nd` doubles filled by `fill(i, row)` to rank
// 0 in rank order. Rank 0 gets `ints` (INTS_PER_ATOM per atom) and `dbls` (nd per atom); `counts`/`displs` (atoms
// per rank) are valid on rank 0 for scattering results back.
void FixGlassBridge::gather_atoms(int nd, const std::function<void(int, double *)> &fill, Gathered &g)
{
  int nlocal = atom->nlocal;
  int me = comm->me, nprocs = comm->nprocs;
  if (atom->natoms > 2000000000) error->all(FLERR, "Fix {} {}: gathering supports < 2e9 atoms", id, style);
  const int ni = bc::INTS_PER_ATOM;
  std::vector<int> ibuf(ni * static_cast<size_t>(nlocal));
  std::vector<double> dbuf(static_cast<size_t>(nd) * nlocal);
  for (int i = 0; i < nlocal; i++) {
    ibuf[ni * i + bc::INT_ID] = static_cast<int>(atom->tag[i]);
    ibuf[ni * i + bc::INT_TYPE] = atom->type[i];
    ibuf[ni * i + bc::INT_IN_GROUP] = (atom->mask[i] & groupbit) ? 1 : 0;
    fill(i, &dbuf[static_cast<size_t>(nd) * i]);
  }
  g.counts.assign(nprocs, 0);
  g.displs.assign(nprocs, 0);
  MPI_Gather(&nlocal, 1, MPI_INT, g.counts.data(), 1, MPI_INT, 0, world);
  g.ntot = 0;
  if (me == 0)
    for (int p = 0; p < nprocs; p++) {
      g.displs[p] = g.ntot;
      g.ntot += g.counts[p];
    }
  std::vector<int> ci(nprocs), di(nprocs), cd(nprocs), dd(nprocs);
  for (int p = 0; p < nprocs; p++) {
    ci[p] = ni * g.counts[p];
    di[p] = ni * g.displs[p];
    cd[p] = nd * g.counts[p];
    dd[p] = nd * g.displs[p];
  }
  g.ints.assign(me == 0 ? ni * static_cast<size_t>(g.ntot) : 0, 0);
  g.dbls.assign(me == 0 ? static_cast<size_t>(nd) * g.ntot : 0, 0.0);
  MPI_Gatherv(ibuf.data(), ni * nlocal, MPI_INT, g.ints.data(), ci.data(), di.data(), MPI_INT, 0, world);
  MPI_Gatherv(dbuf.data(), nd * nlocal, MPI_DOUBLE, g.dbls.data(), cd.data(), dd.data(), MPI_DOUBLE, 0,
              world);
}

// Rank 0 calls handler.METHOD(view) with the gathered atoms (plus `out` if given); collective errors.
void FixGlassBridge::call_on_root(const char *method, const Gathered &g, int nd, std::vector<double> *out)
{
  std::string msg;
  if (comm->me == 0) {
    GilGuard gil;
    PyRef view(PyDict_New());
    PyObject *v = view.get();
    bool ok = set_item(v, "step", PyLong_FromLongLong(update->ntimestep)) &&
        set_item(v, "time", PyFloat_FromDouble(update->atime + (update->ntimestep - update->atimestep) * update->dt)) &&
        set_item(v, "n", PyLong_FromLong(g.ntot)) &&
        set_item(v, "ncol", PyLong_FromLong(nd)) &&
        set_item(v, "ints", ro_view(g.ints.data(), sizeof(int) * g.ints.size())) &&
        set_item(v, "doubles", ro_view(g.dbls.data(), sizeof(double) * g.dbls.size())) &&
        set_item(v, "box", box_tuple(domain));
    if (ok && out) ok = set_item(v, "out", rw_view(out->data(), sizeof(double) * out->size()));
    if (ok) ok = add_root_items(v);
    if (!ok) {
      msg = "cannot build the view passed to Python (" + py_error_message() + ")";
    } else {
      PyRef r(PyObject_CallMethod(handler, method, "O", v));
      if (!r) msg = py_error_message();
      release_views(v);
    }
  }
  fail_if_any(!msg.empty(), msg, RANK_NEVER);
}

void FixGlassBridge::evaluate_gather()
{
  int nlocal = atom->nlocal;
  Gathered g;
  gather_atoms(bc::POSITION_COLUMNS, [this](int i, double *row) {
    for (int d = 0; d < 3; d++) row[d] = atom->x[i][d];
  }, g);
  std::vector<double> outall(comm->me == 0 ? static_cast<size_t>(g.ntot) * nout : 0, 0.0);
  call_on_root("compute_gather", g, bc::POSITION_COLUMNS, &outall);

  std::vector<int> cn(comm->nprocs), dn(comm->nprocs);
  for (int p = 0; p < comm->nprocs; p++) {
    cn[p] = nout * g.counts[p];
    dn[p] = nout * g.displs[p];
  }
  std::vector<double> mine(static_cast<size_t>(nlocal) * nout);
  MPI_Scatterv(outall.data(), cn.data(), dn.data(), MPI_DOUBLE, mine.data(), nlocal * nout,
               MPI_DOUBLE, 0, world);
  for (int i = 0; i < nlocal; i++)
    for (int k = 0; k < nout; k++)
      values[i][k] = (atom->mask[i] & groupbit) ? mine[static_cast<size_t>(i) * nout + k] : 0.0;
}

void FixGlassBridge::update_means()
{
  std::vector<double> local(2 * nout, 0.0), global(2 * nout, 0.0);
  int nlocal = atom->nlocal;
  for (int i = 0; i < nlocal; i++) {
    if (!(atom->mask[i] & groupbit)) continue;
    for (int k = 0; k < nout; k++) {
      // atoms a model has no head for (e.g. a species it was not trained on) carry NaN
      if (std::isnan(values[i][k])) continue;
      local[k] += values[i][k];
      local[nout + k] += 1.0;
    }
  }
  MPI_Allreduce(local.data(), global.data(), 2 * nout, MPI_DOUBLE, MPI_SUM, world);
  for (int k = 0; k < nout; k++)
    means[k] = (global[nout + k] > 0) ? global[k] / global[nout + k] : 0.0;
}

double FixGlassBridge::compute_scalar()
{
  return means[0];
}

double FixGlassBridge::compute_vector(int n)
{
  return means[n];
}

/* ---------------------------------------------------------------------- */

double FixGlassBridge::memory_usage()
{
  return static_cast<double>(atom->nmax) * nout * sizeof(double);
}

void FixGlassBridge::grow_arrays(int nmax)
{
  memory->grow(values, nmax, nout, "glass/python:values");
  array_atom = values;
  vector_atom = (nout == 1 && nmax > 0) ? values[0] : nullptr;
}

void FixGlassBridge::copy_arrays(int i, int j, int)
{
  for (int k = 0; k < nout; k++) values[j][k] = values[i][k];
}

void FixGlassBridge::set_arrays(int i)
{
  for (int k = 0; k < nout; k++) values[i][k] = 0.0;
}

int FixGlassBridge::pack_exchange(int i, double *buf)
{
  for (int k = 0; k < nout; k++) buf[k] = values[i][k];
  return nout;
}

int FixGlassBridge::unpack_exchange(int nlocal, double *buf)
{
  for (int k = 0; k < nout; k++) values[nlocal][k] = buf[k];
  return nout;
}
