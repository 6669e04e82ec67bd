// The positions of every atom within a cutoff of this rank's sub-domain (periodic images included),
// exchanged by a fix itself instead of through LAMMPS' ghost atoms.
//
// fix glass/predict's native softness sum and the ACE kernel need atoms one receptive field (5.4 and 4
// sigma) around each owned atom, up to twice LAMMPS' own ghost shell (pair cutoff + skin). Enlarging LAMMPS' shell means
// re-neighbouring on every evaluation step and carrying the larger shell in every forward communication
// until the next re-neighbouring; this halo costs one staged exchange per evaluation instead and leaves
// LAMMPS' ghosts, neighbour lists and re-neighbouring schedule untouched.
//
// The exchange follows LAMMPS' brick communication (CommBrick::borders): dimension by dimension, each
// rank sends its neighbour below the atoms (owned and already received) within the cutoff of its lower
// face and its neighbour above those within the cutoff of its upper face, shifted by a box period when
// the message crosses a periodic boundary, in as many hops as the thinnest sub-domain needs. Triclinic
// boxes are handled in lamda coordinates with the cutoff measured between lattice planes, as LAMMPS does.
// Only brick communication (comm_style brick, uniform or balanced) is supported: see supported().
#ifndef GLASSFIX_POSITION_HALO_H
#define GLASSFIX_POSITION_HALO_H

#include "lmptype.h"

#include <vector>

namespace LAMMPS_NS {
class LAMMPS;
}

namespace glassfix {

class PositionHalo {
 public:
  // whether the current communication layout can be served (comm_style brick)
  static bool supported(LAMMPS_NS::LAMMPS *lmp);

  // Collective: every rank calls it. Afterwards x() holds n() positions (3 per atom, z unused in 2D):
  // the nlocal owned atoms in LAMMPS order (atom->x exactly), then every atom within `cut` (length units)
  // of this rank's sub-domain that is not one of them, including periodic images of owned atoms;
  // type() and tag() hold their LAMMPS types and atom ids.
  void build(LAMMPS_NS::LAMMPS *lmp, double cut);

  int n() const { return static_cast<int>(type_.size()); }
  const double *x() const { return x_.data(); }
  const int *type() const { return type_.data(); }
  const LAMMPS_NS::tagint *tag() const { return tag_.data(); }

 private:
  std::vector<double> x_, pos_, sendbuf_, recvbuf_;
  std::vector<int> type_;
  std::vector<LAMMPS_NS::tagint> tag_;
};

}    // namespace glassfix

#endif
