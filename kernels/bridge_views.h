// Building the views FixGlassBridge passes to the Python bridge: zero-copy memoryviews over LAMMPS
// memory (valid only during the call that receives them), the box tuple, and their release afterwards.
// The entries and their layout are the contract of docs/plugin.md ("Contract between the fix and the
// bridge").
#pragma once

#include "pyembed.h"

#include "domain.h"

namespace glassfix {

inline const char *BRIDGE_MODULE = "glassfix.engines.lammps.bridge";

inline PyObject *ro_view(const void *ptr, size_t nbytes)
{
  // Zero-copy, read-only view of LAMMPS memory; valid only during the call that receives it.
  return PyMemoryView_FromMemory(const_cast<char *>(static_cast<const char *>(ptr)),
                                 static_cast<Py_ssize_t>(nbytes), PyBUF_READ);
}

inline PyObject *rw_view(void *ptr, size_t nbytes)
{
  return PyMemoryView_FromMemory(static_cast<char *>(ptr), static_cast<Py_ssize_t>(nbytes),
                                 PyBUF_WRITE);
}

// Put a new reference into a dict (steals `value`); returns false on failure.
inline bool set_item(PyObject *dict, const char *key, PyObject *value)
{
  if (!value) return false;
  int rc = PyDict_SetItemString(dict, key, value);
  Py_DECREF(value);
  return rc == 0;
}

inline PyObject *box_tuple(LAMMPS_NS::Domain *domain)
{
  return Py_BuildValue("((ddd)(ddd)(ddd)(iii)ii)", domain->boxlo[0], domain->boxlo[1],
                       domain->boxlo[2], domain->boxhi[0], domain->boxhi[1], domain->boxhi[2],
                       domain->xy, domain->xz, domain->yz, domain->xperiodic, domain->yperiodic,
                       domain->zperiodic, domain->triclinic, domain->dimension);
}

// Release the memoryviews we handed out so that Python cannot keep reading LAMMPS memory that may
// be reallocated later (a view still exported by a live numpy array cannot be released; ignore that).
inline void release_views(PyObject *dict)
{
  PyObject *key, *value;
  Py_ssize_t pos = 0;
  while (PyDict_Next(dict, &pos, &key, &value)) {
    if (PyMemoryView_Check(value)) {
      PyObject *r = PyObject_CallMethod(value, "release", nullptr);
      if (!r) PyErr_Clear();
      Py_XDECREF(r);
    }
  }
}

}    // namespace glassfix
