// fix glass/predict and fix glass/python: per-atom predictions computed by Python every N steps.
//
//   fix ID group glass/predict N model FILE [mode local|gather] [out NAME ...] [types S1 S2 ...]
//   fix ID group glass/python  N MODULE.FUNCTION [cutoff R] [ncol K] [mode local|gather] [nan error|allow]
//   fix ID group glass/record  N FILE [values f_ID f_ID[k] ...] [group NAME] [system NAME] [temperature T]
//
// glass/record gathers all atoms (positions, unwrapped positions, ids, types) and the per-atom values
// of the named fixes to rank 0 every N steps and appends them to a glassfix dataset store (HDF5).
//
// Everything after N is parsed by the Python bridge (glassfix.engines.lammps.bridge), so both styles
// share this one class: the C++ side owns what needs LAMMPS internals (neighbour list, ghost check,
// per-atom storage that migrates with atoms, MPI gather/scatter, collective error reporting).
#pragma once

#include "fix.h"
#include "radial_table.h"

#include <functional>
#include <string>
#include <vector>

typedef struct _object PyObject;

namespace LAMMPS_NS {

class FixGlassPython : public Fix {
 public:
  FixGlassPython(class LAMMPS *, int, char **);
  ~FixGlassPython() override;
  int setmask() override;
  void init() override;
  void init_list(int, class NeighList *) override;
  void pre_exchange() override;
  void post_run() override;
  void setup(int) override;
  void end_of_step() override;
  double compute_scalar() override;
  double compute_vector(int) override;
  double memory_usage() override;
  void grow_arrays(int) override;
  void copy_arrays(int, int, int) override;
  void set_arrays(int) override;
  int pack_exchange(int, double *) override;
  int unpack_exchange(int, double *) override;

 private:
  std::string pystyle;        // "predict" or "python": which bridge factory built the handler
  PyObject *handler;          // bridge object (owned reference)
  int nout;                   // number of per-atom output columns
  double receptive_field;     // model cutoff (length units); 0 = needs no neighbours
  int gather;                 // 1 = mode gather (evaluate once on rank 0)
  class NeighList *list;
  double **values;            // per-atom outputs, nmax x nout, migrate with atoms
  std::vector<double> means;  // global means over the group (NaN entries skipped)
  int record;                 // 1 = glass/record: no outputs, gather + extra per-atom columns
  std::vector<std::string> recnames;   // the per-atom references to record, e.g. "f_ph", "f_soft[2]"
  std::vector<class Fix *> recfix;     // resolved in init()
  std::vector<int> reccol;             // 0 = per-atom vector, k >= 1 = column k of a per-atom array
  std::vector<int> recvalid;           // per recorded value: 1 = its fix has defined values now
  bigint last_eval;           // step of the last evaluation
  int ghost_auto;             // 1 = enlarge the ghost shell on evaluation steps only
  int ghost_big;              // 1 while the enlarged shell is in force
  double ghost_user;          // the user's comm_modify cutoff, restored between evaluations
  void set_ghost(bool big);

  void evaluate();
  void evaluate_local(double *out, std::vector<int> &centers);
  struct Gathered {
    int ntot = 0;
    std::vector<int> counts, displs, ints;
    std::vector<double> dbls;
  };
  void gather_atoms(int nd, const std::function<void(int, double *)> &fill, Gathered &g);
  void call_on_root(const char *method, const Gathered &g, int nd, std::vector<double> *out);
  void evaluate_gather();
  void evaluate_record();
  void evaluate_native(double *out, std::vector<int> &centers);

  // native path: a linear model on radial structure functions as tabulated pair functions
  // (see glassfix.engines.lammps.bridge.native_spec); evaluated here without calling Python
  int native;
  glassfix::RadialTable nat_table;
  std::vector<double> nat_b;
  std::vector<int> nat_has, nat_tmap;
  std::vector<int> nat_sp;        // scratch per owned + ghost atom: species index
  std::vector<char> nat_active;   //   1 = an evaluated centre
  std::vector<double> nat_acc;    //   pair sums
  bool read_native(PyObject *spec);
  void nevery_check_names();
  void update_means();
  void check_positions();
  // which rank the ERROR line names: none (work done by rank 0 alone), the failing one when only some
  // ranks failed, or always (per-rank work whose message depends on that rank's atoms)
  enum RankNaming { RANK_NEVER, RANK_IF_PARTIAL, RANK_ALWAYS };
  void fail_if_any(bool failed, const std::string &msg, RankNaming naming);
  std::string py_error_message();
};

}    // namespace LAMMPS_NS
