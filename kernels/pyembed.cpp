#include "pyembed.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

#ifndef GLASSFIX_PYTHON
#define GLASSFIX_PYTHON ""
#endif
#ifndef GLASSFIX_LIBPYTHON
#define GLASSFIX_LIBPYTHON ""
#endif

namespace glassfix {

namespace {
std::once_flag init_once;
std::string init_error;

void do_init()
{
  if (Py_IsInitialized()) return;

  // LAMMPS dlopen()s plugins with local symbol visibility; C extension modules (numpy, numba) expect
  // the libpython symbols to be global. Re-open libpython with RTLD_GLOBAL before starting Python.
  const char *libpy = GLASSFIX_LIBPYTHON;
  if (libpy[0] != '\0' && !dlopen(libpy, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD)) {
    if (!dlopen(libpy, RTLD_NOW | RTLD_GLOBAL)) {
      init_error = std::string("cannot load ") + libpy + ": " + dlerror();
      return;
    }
  } else if (libpy[0] != '\0') {
    dlopen(libpy, RTLD_NOW | RTLD_GLOBAL);    // promote an already loaded copy to global
  }

  const char *exe = std::getenv("GLASSFIX_PYTHON");
  if (!exe || !exe[0]) exe = GLASSFIX_PYTHON;

  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  // Do not let Python install its own SIGINT handler inside an MPI program.
  config.install_signal_handlers = 0;
  config.parse_argv = 0;
  PyStatus status = PyStatus_Ok();
  if (exe[0] != '\0') {
    // Setting the executable of the virtualenv makes Python find its pyvenv.cfg, hence the env's
    // site-packages where glassfix and its dependencies are installed.
    status = PyConfig_SetBytesString(&config, &config.program_name, exe);
    if (!PyStatus_Exception(status)) status = PyConfig_SetBytesString(&config, &config.executable, exe);
  }
  if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  if (PyStatus_Exception(status)) {
    init_error = std::string("cannot start the embedded Python interpreter (") +
        (status.err_msg ? status.err_msg : "unknown error") + "); set GLASSFIX_PYTHON to the python " +
        "executable of the environment where glassfix is installed";
    return;
  }
  // Py_InitializeFromConfig leaves the GIL held by this thread; release it so that every later use
  // goes through PyGILState_Ensure uniformly.
  PyEval_SaveThread();
}
}    // namespace

std::string ensure_python()
{
  std::call_once(init_once, do_init);
  return init_error;
}

std::string fetch_python_error(PyObject *complete)
{
  PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
  PyErr_Fetch(&type, &value, &tb);
  if (!type) return "unknown Python error";
  PyErr_NormalizeException(&type, &value, &tb);
  std::string msg;
  const char *tname = reinterpret_cast<PyTypeObject *>(type)->tp_name;
  PyObject *s = value ? PyObject_Str(value) : nullptr;
  const char *text = s ? PyUnicode_AsUTF8(s) : nullptr;
  if (!text) PyErr_Clear();
  // Our own bridge errors already read as complete messages; anything else gets its type name.
  std::string tn = tname ? tname : "Exception";
  if (complete && PyErr_GivenExceptionMatches(type, complete))
    msg = text ? text : tn;
  else
    msg = tn + ": " + (text ? text : "");
  Py_XDECREF(s);
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  // LAMMPS prints one line per error; keep it that way.
  for (auto &c : msg)
    if (c == '\n') c = ' ';
  return msg;
}

}    // namespace glassfix
