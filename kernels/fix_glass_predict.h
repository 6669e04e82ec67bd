// fix glass/predict: per-atom predictions of a trained glassfix model every N steps.
//
//   fix ID group glass/predict N model FILE [keywords...]   (usage: bridge.PREDICT_USAGE)
//
// Everything after N is parsed by the bridge (glassfix.engines.lammps.bridge.PredictHandler). A model
// that is linear in radial structure functions comes back as tabulated pair functions (its `native`
// specification, bridge.native_spec) and is then evaluated here, without calling Python; with `ghost
// auto` it gets the atoms around its sub-domain from its own exchange (PositionHalo), not LAMMPS' ghosts.
#pragma once

#include "fix_glass_bridge.h"
#include "position_halo.h"
#include "radial_table.h"

#include <vector>

namespace LAMMPS_NS {

class FixGlassPredict : public FixGlassBridge {
 public:
  FixGlassPredict(class LAMMPS *, int, char **);
  void init() override;

 protected:
  bool evaluate_natively(double *out, std::vector<int> &centers) override;
  // native tables bin atoms in C++; a model that finds its environments itself (handler.bins_atoms, e.g.
  // the ACE kernel) gets positions only: no LAMMPS list is requested, built or copied for either
  bool uses_neighbor_list() const override { return !native && !bins_atoms; }
  bool needs_ghost_shell() const override { return !own_halo; }
  bool own_view_atoms(ViewAtoms &atoms) override;

 private:
  int native;
  int bins_atoms;
  // ghost auto on the native path or for a model that bins atoms itself (ACE): the fix exchanges the
  // positions it needs itself (position_halo.h) instead of enlarging LAMMPS' ghost shell and
  // re-neighbouring on every evaluation step
  int own_halo;
  glassfix::PositionHalo halo;
  glassfix::RadialTable nat_table;
  std::vector<double> nat_b;
  std::vector<int> nat_has, nat_tmap;
  std::vector<int> nat_sp;        // scratch per owned + ghost atom: species index
  std::vector<char> nat_active;   //   1 = an evaluated centre
  std::vector<double> nat_acc;    //   pair sums
  bool read_native(PyObject *spec);
};

}    // namespace LAMMPS_NS
