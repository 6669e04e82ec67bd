// Base of the glassfix fixes that call Python (glass/predict, glass/python, glass/record).
//
// FixGlassBridge owns what needs LAMMPS internals: the bridge handler object (made by
// glassfix.engines.lammps.bridge.create, which parses every argument after N), the views passed to
// Python, MPI gather/scatter, per-atom storage that migrates with atoms, the ghost shell (ghost auto),
// the non-finite-position check and collective error reporting. Each style is a small subclass
// (fix_glass_predict.h, fix_glass_pycall.h, fix_glass_record.h).
//
// The contract with the bridge (docs/plugin.md, "Contract between the fix and the bridge") is
// versioned: BRIDGE_CONTRACT_VERSION must equal bridge.CONTRACT_VERSION, and the packed layout of the
// gathered arrays below must match bridge.VIEW_LAYOUT.
#pragma once

#include "fix.h"

#include <functional>
#include <string>
#include <vector>

typedef struct _object PyObject;

namespace LAMMPS_NS {

namespace bridge_contract {
constexpr int VERSION = 2;                 // bridge.CONTRACT_VERSION
constexpr int INTS_PER_ATOM = 3;           // gathered ints per atom: id, type, in-group (0/1)
constexpr int INT_ID = 0, INT_TYPE = 1, INT_IN_GROUP = 2;
constexpr int POSITION_COLUMNS = 3;        // gathered doubles start with x, y, z (wrapped)
constexpr int DOUBLES_BEFORE_VALUES = 6;   // glass/record: x(3), unwrapped x(3), then the values
}    // namespace bridge_contract

class FixGlassBridge : public Fix {
 public:
  FixGlassBridge(class LAMMPS *, int, char **, const char *pystyle);
  ~FixGlassBridge() override;
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
  // distributed message passing (fix_glass_halo.cpp): forward communication of per-atom float32 rows
  int pack_forward_comm(int, int *, double *, int, int *) override;
  void unpack_forward_comm(int, int, double *) override;
  // the body of view["halo"](rows): one collective exchange of the ghost rows (Python C-API result)
  PyObject *halo_exchange(PyObject *rows);

 protected:
  // which rank the ERROR line names: none (work done by rank 0 alone), the failing one when only some
  // ranks failed, or always (per-rank work whose message depends on that rank's atoms)
  enum RankNaming { RANK_NEVER, RANK_IF_PARTIAL, RANK_ALWAYS };

  std::string pystyle;        // "predict", "python" or "record": which bridge factory built the handler
  PyObject *handler;          // bridge object (owned reference)
  PyObject *bridge_error;     // the bridge's BridgeError class (owned): messages printed as they are
  int nout;                   // number of per-atom output columns
  double receptive_field;     // model cutoff (length units); 0 = needs no neighbours
  int gather;                 // 1 = mode gather (evaluate once on rank 0)
  class NeighList *list;
  double **values;            // per-atom outputs, nmax x nout, migrate with atoms
  int has_outputs;            // 1 once setup_outputs() registered the per-atom storage
  std::vector<double> means;  // global means over the group (NaN entries skipped)
  bigint last_eval;           // step of the last evaluation
  int ghost_auto;             // 1 = enlarge the ghost shell on evaluation steps only
  int ghost_big;              // 1 while the enlarged shell is in force
  double ghost_user;          // the user's comm_modify cutoff, restored between evaluations
  // distributed message passing: float32 node states per atom that ghosts receive from their owners
  // between cycles (handler.halo_width; 0 = none). The CSR then covers every owned atom (the graph needs
  // all of them, not only the group) and the view carries the `halo` callable.
  int halo_width;
  int halo_exchanges;               // exchanges per evaluation (handler.halo_exchanges)
  float *halo_buf;                  // the rows being exchanged (during halo_exchange only)
  std::vector<float> halo_scratch;  // zeros sent by a rank whose own buffer was unusable
  int halo_col0, halo_ncol;         // float columns of the current forward_comm chunk

  // create the handler: every rank, collective errors named as `naming`
  void create_handler(int narg, char **arg, RankNaming naming);
  // styles with per-atom outputs: flags, storage, ghost auto (call once the handler exists)
  void setup_outputs();
  // the style's usage line, from the bridge (the one place it is written)
  std::string usage();
  std::string py_error_message();
  void fail_if_any(bool failed, const std::string &msg, RankNaming naming);
  // before_run: called from init(), before LAMMPS' own (single-rank, racy under mpirun) check in setup
  void check_positions(bool before_run = false);

  virtual void evaluate();
  // a style that evaluates its centres without Python (and without LAMMPS' neighbour list) returns true
  virtual bool evaluate_natively(double *, std::vector<int> &) { return false; }
  virtual bool uses_neighbor_list() const { return true; }
  // false for a style that gathers the atoms around its sub-domain itself (no ghost-shell check in init())
  virtual bool needs_ghost_shell() const { return true; }
  // the owned + surrounding atoms a local evaluation sees (the Python view, or the native sum): LAMMPS'
  // owned + ghost atoms unless a style supplies its own (it then fills `atoms`, owned atoms first, and
  // returns true); view_atoms() gives whichever applies
  struct ViewAtoms {
    int nall;
    const double *x;    // 3 per atom
    const int *type;
    const tagint *tag;
  };
  virtual bool own_view_atoms(ViewAtoms &) { return false; }
  ViewAtoms view_atoms();
  // extra entries of the view passed to Python on rank 0 (gather modes)
  virtual bool add_root_items(PyObject *) { return true; }
  void evaluate_local(double *out, std::vector<int> &centers);
  struct Gathered {
    int ntot = 0;
    std::vector<int> counts, displs, ints;
    std::vector<double> dbls;
  };
  void gather_atoms(int nd, const std::function<void(int, double *)> &fill, Gathered &g);
  void call_on_root(const char *method, const Gathered &g, int nd, std::vector<double> *out);
  void evaluate_gather();
  void update_means();

 private:
  void set_ghost(bool big);
  void setup_halo();
  PyObject *new_halo_callable();
  void end_halo_callable(PyObject *f);
};

}    // namespace LAMMPS_NS
