// fix glass/record: append frames and per-atom values of other fixes to a glassfix dataset store.
//
//   fix ID group glass/record N FILE [keywords...]   (usage: bridge.RECORD_USAGE)
//
// Every N steps all atoms (positions, unwrapped positions, ids, types, group membership) and the
// per-atom values of the named fixes are gathered to rank 0, where the bridge's RecordHandler writes
// them (HDF5). Everything after N is parsed by the bridge; the fix has no outputs of its own.
#pragma once

#include "fix_glass_bridge.h"

#include <string>
#include <vector>

namespace LAMMPS_NS {

class FixGlassRecord : public FixGlassBridge {
 public:
  FixGlassRecord(class LAMMPS *, int, char **);
  void init() override;

 protected:
  void evaluate() override;
  bool add_root_items(PyObject *view) override;

 private:
  std::vector<std::string> recnames;   // the per-atom references to record, e.g. "f_ph", "f_soft[2]"
  std::vector<class Fix *> recfix;     // resolved in init()
  std::vector<int> reccol;             // 0 = per-atom vector, k >= 1 = column k of a per-atom array
  std::vector<int> recvalid;           // per recorded value: 1 = its fix has defined values now
  void check_names();
  void evaluate_record();
};

}    // namespace LAMMPS_NS
