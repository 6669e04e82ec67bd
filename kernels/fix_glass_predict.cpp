#include "fix_glass_predict.h"

#include "pyembed.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "neighbor.h"

#include <cstring>
#include <limits>

using namespace LAMMPS_NS;
using glassfix::GilGuard;
using glassfix::PyRef;

FixGlassPredict::FixGlassPredict(LAMMPS *lmp, int narg, char **arg) :
    FixGlassBridge(lmp, narg, arg, "predict"), native(0), bins_atoms(0), own_halo(0)
{
  create_handler(narg, arg, RANK_IF_PARTIAL);
  std::string msg;
  {
    GilGuard gil;
    if (PyObject_HasAttrString(handler, "native")) {
      PyRef spec(PyObject_GetAttrString(handler, "native"));
      if (spec && spec.get() != Py_None && !read_native(spec.get()) && !PyErr_Occurred())
        PyErr_SetString(PyExc_ValueError, "malformed native model specification");
    }
    if (!PyErr_Occurred() && PyObject_HasAttrString(handler, "bins_atoms")) {
      PyRef flag(PyObject_GetAttrString(handler, "bins_atoms"));
      if (flag) {
        int truth = PyObject_IsTrue(flag.get());
        if (truth >= 0) bins_atoms = truth;
      }
    }
    if (PyErr_Occurred()) msg = py_error_message();
  }
  fail_if_any(!msg.empty(), msg, RANK_IF_PARTIAL);
  // (before setup_outputs(), which makes ghost auto force re-neighbouring)
  if ((native || bins_atoms) && ghost_auto && !gather && glassfix::PositionHalo::supported(lmp)) {
    own_halo = 1;
    ghost_auto = 0;
  }
  setup_outputs();
}

void FixGlassPredict::init()
{
  if (own_halo && !glassfix::PositionHalo::supported(lmp))
    error->all(FLERR,
               "Fix {} {}: 'ghost auto' with this model exchanges positions through brick communication, "
               "but comm_style is tiled; use comm_style brick, or 'ghost static' with 'comm_modify cutoff "
               "{:.6g}' (or larger)",
               id, style, receptive_field + neighbor->skin);
  FixGlassBridge::init();
}

namespace {
bool dict_double(PyObject *d, const char *key, double &v)
{
  PyObject *o = PyDict_GetItemString(d, key);    // borrowed
  if (!o) return false;
  v = PyFloat_AsDouble(o);
  return !PyErr_Occurred();
}

bool list_doubles(PyObject *o, std::vector<double> &out)
{
  if (!o || !PyList_Check(o)) return false;
  out.clear();
  for (Py_ssize_t k = 0; k < PyList_Size(o); k++) {
    out.push_back(PyFloat_AsDouble(PyList_GetItem(o, k)));
    if (PyErr_Occurred()) return false;
  }
  return true;
}
}    // namespace

bool FixGlassPredict::read_native(PyObject *spec)
{
  if (!PyDict_Check(spec)) return false;
  PyObject *kind = PyDict_GetItemString(spec, "kind");
  if (!kind || !PyUnicode_Check(kind) || strcmp(PyUnicode_AsUTF8(kind), "radial_quintic") != 0) return false;
  double nsp = 0, n = 0, h = 0, rc = 0;
  if (!dict_double(spec, "n_species", nsp) || !dict_double(spec, "n", n) || !dict_double(spec, "cutoff", rc) ||
      !dict_double(spec, "spacing", h))
    return false;
  const int nsp_n = static_cast<int>(nsp);
  const int nn = static_cast<int>(n);
  std::vector<double> tmp;
  if (!list_doubles(PyDict_GetItemString(spec, "type_map"), tmp)) return false;
  nat_tmap.assign(tmp.begin(), tmp.end());
  for (int t : nat_tmap)
    if (t < 0 || t >= nsp_n) return false;
  if (!list_doubles(PyDict_GetItemString(spec, "has_head"), tmp) || static_cast<int>(tmp.size()) != nsp_n)
    return false;
  nat_has.assign(tmp.begin(), tmp.end());
  if (!list_doubles(PyDict_GetItemString(spec, "bias"), nat_b) || static_cast<int>(nat_b.size()) != nsp_n)
    return false;
  if (nsp_n < 1 || nn < 2) return false;
  const size_t total = static_cast<size_t>(nsp_n) * nsp_n * nn;
  std::vector<double> tabs[3];
  const char *names[3] = {"F", "dF", "d2F"};
  for (int k = 0; k < 3; k++) {
    PyObject *b = PyDict_GetItemString(spec, names[k]);
    if (!b || !PyBytes_Check(b) || static_cast<size_t>(PyBytes_Size(b)) != total * sizeof(double)) return false;
    tabs[k].resize(total);
    memcpy(tabs[k].data(), PyBytes_AsString(b), total * sizeof(double));
  }
  // (also checks that every pair inside the cutoff falls between two table nodes)
  if (!nat_table.load(nsp_n, nn, rc, h, tabs[0], tabs[1], tabs[2])) return false;
  native = 1;
  return true;
}

// With the fix's own halo, the native sum and a model that bins atoms itself (ACE) see the owned atoms
// and the halo instead of LAMMPS' ghosts.
bool FixGlassPredict::own_view_atoms(ViewAtoms &atoms)
{
  if (!own_halo) return false;
  halo.build(lmp, receptive_field + neighbor->skin);
  atoms.nall = halo.n();
  atoms.x = halo.x();
  atoms.type = halo.type();
  atoms.tag = halo.tag();
  return true;
}

// S_i = b'_t(i) + sum_j F_{t(i) t(j)}(r_ij), F by quintic Hermite interpolation of exact values and
// derivatives (tables from glassfix.engines.lammps.bridge.native_spec), summed over the owned + ghost
// atoms by RadialTable's own cell grid (LAMMPS' ghost shell covers the cutoff, checked in init(), or the
// fix's own halo reaches the cutoff + skin, like the shell LAMMPS would need).
bool FixGlassPredict::evaluate_natively(double *out, std::vector<int> &centers)
{
  if (!native) return false;
  // owned atoms first in both cases, then LAMMPS' ghosts or the fix's own halo
  const ViewAtoms va = view_atoms();
  const int nall = va.nall;
  const int *type = va.type;
  nat_sp.resize(nall);
  nat_active.assign(nall, 0);
  nat_acc.resize(nall);
  for (int i = 0; i < nall; i++) nat_sp[i] = nat_tmap[type[i] - 1];
  for (int i : centers) nat_active[i] = 1;
  nat_table.sum(nall, va.x, nat_sp.data(), nat_active.data(), domain->dimension, nat_acc.data());
  for (size_t c = 0; c < centers.size(); c++) {
    const int i = centers[c];
    const int ti = nat_sp[i];
    out[c] = nat_has[ti] ? nat_b[ti] + nat_acc[i] : std::numeric_limits<double>::quiet_NaN();
  }
  return true;
}
