// The non-finite-position check shared by the glassfix fixes: a NaN/inf coordinate would poison every
// prediction or label without an error, and LAMMPS' own check stops on one rank only (see
// FixGlassBridge::init), so each fix scans its owned atoms and reports through first_failure().
#pragma once

#include "fmt/format.h"
#include "lmptype.h"

#include <cmath>
#include <string>

namespace glassfix {

// Message for the first owned atom with a non-finite coordinate ("" if none). before_run: the check runs
// from init(), before the run's first step (the cause is the input, not the dynamics).
inline std::string nonfinite_position(int nlocal, int dim, double **x, const LAMMPS_NS::tagint *tag,
                                      LAMMPS_NS::bigint step, bool before_run)
{
  for (int i = 0; i < nlocal; i++) {
    bool bad = false;
    for (int d = 0; d < dim; d++) bad = bad || !std::isfinite(x[i][d]);
    if (!bad) continue;
    if (before_run)
      return fmt::format("atom id {} has a non-finite position ({}, {}, {}) before the run starts (step {}); "
                         "check the data file and any set or displace_atoms command",
                         tag[i], x[i][0], x[i][1], x[i][2], step);
    return fmt::format("atom id {} has a non-finite position ({}, {}, {}) at step {}; the simulation has "
                       "blown up (check the time step and the initial overlaps)",
                       tag[i], x[i][0], x[i][1], x[i][2], step);
  }
  return "";
}

}    // namespace glassfix
