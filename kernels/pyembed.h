// Embedded-Python helpers for the glassfix LAMMPS plugin.
//
// The plugin works in two situations:
//  * plain `lmp` (no interpreter running): we start one, pointed at the Python environment glassfix
//    was built from (compile-time GLASSFIX_PYTHON, overridable with the GLASSFIX_PYTHON environment
//    variable) so that the installed packages are visible;
//  * LAMMPS driven from Python (`from lammps import lammps`): an interpreter exists, we only take the GIL.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string>

namespace glassfix {

// Start the interpreter if needed. Returns an empty string on success, else a message.
std::string ensure_python();

// RAII holder of the GIL (PyGILState_Ensure/Release): safe whether or not we already hold it.
class GilGuard {
 public:
  GilGuard() : state_(PyGILState_Ensure()) {}
  ~GilGuard() { PyGILState_Release(state_); }
  GilGuard(const GilGuard &) = delete;
  GilGuard &operator=(const GilGuard &) = delete;

 private:
  PyGILState_STATE state_;
};

// Fetch and clear the pending Python exception as one line, never the traceback. An exception of class
// `complete` (the bridge's BridgeError, matched by type, subclasses included) already reads as a
// complete sentence and is printed as it is; any other gets its type name in front.
std::string fetch_python_error(PyObject *complete = nullptr);

// Owned reference with automatic DECREF (GIL must be held when it dies).
class PyRef {
 public:
  PyRef() = default;
  explicit PyRef(PyObject *o) : o_(o) {}
  ~PyRef() { Py_XDECREF(o_); }
  PyRef(const PyRef &) = delete;
  PyRef &operator=(const PyRef &) = delete;
  PyRef(PyRef &&other) noexcept : o_(other.o_) { other.o_ = nullptr; }
  PyRef &operator=(PyRef &&other) noexcept {
    if (this != &other) {
      Py_XDECREF(o_);
      o_ = other.o_;
      other.o_ = nullptr;
    }
    return *this;
  }
  PyObject *get() const { return o_; }
  PyObject *release() {
    PyObject *r = o_;
    o_ = nullptr;
    return r;
  }
  explicit operator bool() const { return o_ != nullptr; }

 private:
  PyObject *o_ = nullptr;
};

}    // namespace glassfix
