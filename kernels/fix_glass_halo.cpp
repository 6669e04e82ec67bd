// Distributed message passing (fix glass/predict, mode local, message-passing models such as BOTAN):
// the node states of ghost atoms are refreshed from their owners between message-passing cycles by
// LAMMPS' forward communication, through a callable `view["halo"]` the bridge receives with the local
// view. Each rank then evaluates only its own atoms with a ghost shell of one edge cutoff (+ skin),
// never the whole receptive field, and no rank holds the whole system.
//
// States are float32 rows of `halo_width` values per atom, row i = local atom i (owned first, then
// ghosts, as LAMMPS orders them). Two float32 travel bit for bit in one double of the comm buffer
// (memcpy, no conversion), at most HALO_CHUNK_DOUBLES doubles per atom and forward_comm call: wider
// rows go in several calls, so LAMMPS' comm buffers grow by at most that many doubles per atom.
#include "fix_glass_bridge.h"

#include "bridge_views.h"
#include "pyembed.h"

#include "atom.h"
#include "comm.h"

#include <algorithm>
#include <cstring>
#include <string>

using namespace LAMMPS_NS;

namespace {
constexpr int HALO_CHUNK_DOUBLES = 32;    // 64 float32 per atom and call: BOTAN's h_v in one call

// the capsule's context is the fix while its evaluation runs, nullptr afterwards: a callable kept by
// Python beyond the call fails cleanly instead of touching a freed fix
PyObject *halo_call(PyObject *self, PyObject *arg)
{
  auto *fix = static_cast<FixGlassBridge *>(PyCapsule_GetContext(self));
  if (!fix) {
    if (!PyErr_Occurred())
      PyErr_SetString(PyExc_RuntimeError, "the halo exchange was called after its evaluation ended");
    return nullptr;
  }
  return fix->halo_exchange(arg);
}

PyMethodDef halo_def = {"halo", halo_call, METH_O,
                        "halo(rows): overwrite the ghost rows of a C-contiguous (nall, width) float32 "
                        "array with their owners' rows (LAMMPS forward communication; collective: every "
                        "rank calls it the same number of times, None joins without data)"};
char halo_dummy = 0;
}    // namespace

void FixGlassBridge::setup_halo()
{
  if (halo_width <= 0 || gather) {
    halo_width = 0;
    return;
  }
  comm_forward = std::min((halo_width + 1) / 2, HALO_CHUNK_DOUBLES);
}

PyObject *FixGlassBridge::new_halo_callable()
{
  PyObject *capsule = PyCapsule_New(&halo_dummy, "glassfix.halo", nullptr);
  if (!capsule) return nullptr;
  if (PyCapsule_SetContext(capsule, this) != 0) {
    Py_DECREF(capsule);
    return nullptr;
  }
  PyObject *f = PyCFunction_New(&halo_def, capsule);
  Py_DECREF(capsule);    // the function holds it
  return f;
}

void FixGlassBridge::end_halo_callable(PyObject *f)
{
  PyObject *capsule = f ? PyCFunction_GetSelf(f) : nullptr;
  if (capsule) PyCapsule_SetContext(capsule, nullptr);
}

// One collective exchange: every rank makes the same number of calls (the bridge makes sure of it, also
// when its own evaluation fails), so a bad buffer on one rank is reported after the communication, with
// zeros sent in its place, instead of leaving the other ranks waiting.
PyObject *FixGlassBridge::halo_exchange(PyObject *arg)
{
  const int nall = atom->nlocal + atom->nghost;
  const size_t need = static_cast<size_t>(nall) * halo_width * sizeof(float);
  Py_buffer b;
  bool have = false;
  std::string err;
  if (halo_width <= 0) {
    err = "this fix exchanges no node states (halo width 0)";
  } else if (arg != Py_None) {
    if (PyObject_GetBuffer(arg, &b, PyBUF_CONTIG) == 0) {
      have = true;
      if (static_cast<size_t>(b.len) != need)
        err = "halo needs a C-contiguous float32 array of " + std::to_string(nall) + " x " +
            std::to_string(halo_width) + " (" + std::to_string(need) + " bytes), got " +
            std::to_string(static_cast<long long>(b.len)) + " bytes";
    } else {
      PyErr_Clear();
      err = "halo needs a writable C-contiguous float32 array (a numpy array)";
    }
  }
  if (halo_width > 0) {
    if (have && err.empty()) {
      halo_buf = static_cast<float *>(b.buf);
    } else {
      halo_scratch.assign(static_cast<size_t>(nall) * halo_width, 0.0f);
      halo_buf = halo_scratch.data();
    }
    for (halo_col0 = 0; halo_col0 < halo_width; halo_col0 += 2 * HALO_CHUNK_DOUBLES) {
      halo_ncol = std::min(2 * HALO_CHUNK_DOUBLES, halo_width - halo_col0);
      comm->forward_comm(this, (halo_ncol + 1) / 2);
    }
    halo_buf = nullptr;
  }
  if (have) PyBuffer_Release(&b);
  if (!err.empty()) {
    PyErr_SetString(PyExc_ValueError, err.c_str());
    return nullptr;
  }
  Py_RETURN_NONE;
}

int FixGlassBridge::pack_forward_comm(int n, int *list, double *buf, int, int *)
{
  // node states do not depend on the periodic image: pbc shifts do not apply
  const int nd = (halo_ncol + 1) / 2;
  const size_t bytes = sizeof(float) * halo_ncol;
  int m = 0;
  for (int i = 0; i < n; i++) {
    buf[m + nd - 1] = 0.0;    // the pad of an odd count is defined
    memcpy(&buf[m], halo_buf + static_cast<size_t>(list[i]) * halo_width + halo_col0, bytes);
    m += nd;
  }
  return m;
}

void FixGlassBridge::unpack_forward_comm(int n, int first, double *buf)
{
  const int nd = (halo_ncol + 1) / 2;
  const size_t bytes = sizeof(float) * halo_ncol;
  int m = 0;
  for (int i = first; i < first + n; i++) {
    memcpy(halo_buf + static_cast<size_t>(i) * halo_width + halo_col0, &buf[m], bytes);
    m += nd;
  }
}
