// fix glass/python: per-atom values from a user Python function every N steps.
//
//   fix ID group glass/python N MODULE.FUNCTION [keywords...]   (usage: bridge.PYTHON_USAGE)
//
// Everything after N is parsed by the bridge (glassfix.engines.lammps.bridge.PythonHandler); all the
// LAMMPS-side work is FixGlassBridge's.
#pragma once

#include "fix_glass_bridge.h"

namespace LAMMPS_NS {

class FixGlassPyCall : public FixGlassBridge {
 public:
  FixGlassPyCall(class LAMMPS *, int, char **);
};

}    // namespace LAMMPS_NS
