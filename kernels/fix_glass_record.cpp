#include "fix_glass_record.h"

#include "pyembed.h"
#include "fix_glass_label.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "modify.h"
#include "update.h"

#include <cstdlib>

using namespace LAMMPS_NS;
using glassfix::GilGuard;
using glassfix::PyRef;
namespace bc = LAMMPS_NS::bridge_contract;

FixGlassRecord::FixGlassRecord(LAMMPS *lmp, int narg, char **arg) :
    FixGlassBridge(lmp, narg, arg, "record")
{
  // rank 0 alone opens the store: "1 of N ranks failed" would mislead, so no rank is named
  create_handler(narg, arg, RANK_NEVER);
  std::string msg;
  {
    GilGuard gil;
    PyRef pv(PyObject_GetAttrString(handler, "values"));
    PyRef seq(pv ? PySequence_Fast(pv.get(), "values must be a sequence") : nullptr);
    if (seq) {
      for (Py_ssize_t k = 0; k < PySequence_Fast_GET_SIZE(seq.get()); k++) {
        const char *name = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(seq.get(), k));
        if (!name) break;
        recnames.emplace_back(name);
      }
    }
    if (PyErr_Occurred()) msg = py_error_message();
  }
  fail_if_any(!msg.empty(), msg, RANK_NEVER);
  // a recorder has no outputs of its own; it only needs the per-atom values of other fixes
  check_names();
}

// parse "f_ID" / "f_ID[k]" references (syntax only; the fixes are resolved in init())
void FixGlassRecord::check_names()
{
  for (const auto &name : recnames) {
    if (name.rfind("f_", 0) != 0 || name.size() < 3)
      error->all(FLERR, "Fix {} {}: can record per-atom values of fixes only ('f_ID' or 'f_ID[k]'), got '{}'",
                 id, style, name);
  }
}

void FixGlassRecord::init()
{
  check_positions(true);    // before LAMMPS' own single-rank check in setup (see FixGlassBridge::init)
  recfix.clear();
  reccol.clear();
  const auto &fixes = modify->get_fix_list();
  int me_index = -1;
  for (size_t k = 0; k < fixes.size(); k++)
    if (fixes[k] == this) me_index = static_cast<int>(k);
  for (const auto &name : recnames) {
    std::string fid = name.substr(2);
    int col = 0;
    auto lb = fid.find('[');
    if (lb != std::string::npos) {
      if (fid.back() != ']')
        error->all(FLERR, "Fix {} {}: malformed value '{}'; use f_ID or f_ID[k]", id, style, name);
      col = atoi(fid.substr(lb + 1, fid.size() - lb - 2).c_str());
      fid = fid.substr(0, lb);
      if (col < 1) error->all(FLERR, "Fix {} {}: column in '{}' must be >= 1", id, style, name);
    }
    Fix *f = modify->get_fix_by_id(fid);
    if (!f) error->all(FLERR, "Fix {} {}: no fix with ID '{}' (value '{}')", id, style, fid, name);
    if (!f->peratom_flag)
      error->all(FLERR, "Fix {} {}: fix {} does not produce per-atom values", id, style, fid);
    if (col == 0 && f->size_peratom_cols != 0)
      error->all(FLERR, "Fix {} {}: fix {} has {} per-atom columns; name one as f_{}[k]", id, style, fid,
                 f->size_peratom_cols, fid);
    if (col > 0 && col > f->size_peratom_cols)
      error->all(FLERR, "Fix {} {}: fix {} has no per-atom column {}", id, style, fid, col);
    if (nevery % f->peratom_freq)
      error->all(FLERR, "Fix {} {}: N = {} is not a multiple of the interval {} at which fix {} updates",
                 id, style, nevery, f->peratom_freq, fid);
    int idx = -1;
    for (size_t k = 0; k < fixes.size(); k++)
      if (fixes[k] == f) idx = static_cast<int>(k);
    if (idx > me_index)
      error->all(FLERR, "Fix {} {}: define it after fix {} so that the values it records are current",
                 id, style, fid);
    recfix.push_back(f);
    reccol.push_back(col);
  }
  // tell the recorder what each value means (label kind, parameters, step offset) for the store
  std::string msg;
  {
    GilGuard gil;
    PyRef meta(PyList_New(0));
    for (size_t k = 0; k < recfix.size(); k++) {
      auto *gl = dynamic_cast<FixGlassLabel *>(recfix[k]);
      std::string js = gl ? gl->label_meta()
                          : fmt::format("{{\"fix_style\": \"{}\"}}", recfix[k]->style);
      PyRef s(PyUnicode_FromString(js.c_str()));
      PyList_Append(meta.get(), s.get());
    }
    if (PyObject_HasAttrString(handler, "set_sources")) {
      PyRef r(PyObject_CallMethod(handler, "set_sources", "O", meta.get()));
      if (!r) msg = py_error_message();
    }
  }
  fail_if_any(!msg.empty(), msg, RANK_NEVER);
}

void FixGlassRecord::evaluate()
{
  if (last_eval == update->ntimestep && update->ntimestep > 0) return;
  if (update->ntimestep % nevery) return;    // a recorder only writes on its own interval
  last_eval = update->ntimestep;
  check_positions();
  evaluate_record();
}

bool FixGlassRecord::add_root_items(PyObject *v)
{
  // per recorded value: 1 if its fix has defined values at this step (see evaluate_record)
  PyObject *valid = PyList_New(static_cast<Py_ssize_t>(recvalid.size()));
  if (!valid) return false;
  for (size_t k = 0; k < recvalid.size(); k++)
    PyList_SET_ITEM(valid, static_cast<Py_ssize_t>(k), PyBool_FromLong(recvalid[k]));
  int rc = PyDict_SetItemString(v, "valid", valid);
  Py_DECREF(valid);
  return rc == 0;
}

void FixGlassRecord::evaluate_record()
{
  int nval = static_cast<int>(recfix.size());
  // A label fix (glass/phop, glass/d2min) outputs NaN until its history covers the window or lag;
  // those are not labels, so the bridge leaves them out of the frame instead of storing NaN. Every
  // other fix has evaluated by now (its interval divides ours and it is defined before us).
  recvalid.assign(nval, 1);
  for (int k = 0; k < nval; k++) {
    auto *lab = dynamic_cast<FixGlassLabel *>(recfix[k]);
    if (lab && !lab->values_valid()) recvalid[k] = 0;
  }
  // x(3), unwrapped x(3), recorded values: the layout of bridge.VIEW_LAYOUT
  int nd = bc::DOUBLES_BEFORE_VALUES + nval;
  Gathered g;
  gather_atoms(nd, [this, nval](int i, double *row) {
    domain->unmap(atom->x[i], atom->image[i], row + 3);
    for (int d = 0; d < 3; d++) row[d] = atom->x[i][d];
    for (int k = 0; k < nval; k++)
      row[bc::DOUBLES_BEFORE_VALUES + k] = (reccol[k] == 0) ? recfix[k]->vector_atom[i] : recfix[k]->array_atom[i][reccol[k] - 1];
  }, g);
  call_on_root("record", g, nd, nullptr);
}
