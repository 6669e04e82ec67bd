#include "fix_glass_pycall.h"

using namespace LAMMPS_NS;

FixGlassPyCall::FixGlassPyCall(LAMMPS *lmp, int narg, char **arg) :
    FixGlassBridge(lmp, narg, arg, "python")
{
  create_handler(narg, arg, RANK_IF_PARTIAL);
  setup_outputs();
}
