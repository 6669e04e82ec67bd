// The positions of every atom within a cutoff of this rank's sub-domain (periodic images included),
// exchanged by a fix itself instead of through LAMMPS' ghost atoms.
//
// fix glass/predict's native sum needs atoms one receptive field (5.4 sigma for softness) around each
// owned atom, about twice LAMMPS' own ghost shell (pair cutoff + skin). Enlarging LAMMPS' shell means
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
  // type() holds their LAMMPS types and in_group() whether they are in the group of `groupbit` on
  // their owner.
  void build(LAMMPS_NS::LAMMPS *lmp, double cut, int groupbit);

  // Collective, after build(): adds the values v[i] of every halo atom i to the same entry of the rank
  // that sent it, hop by hop in reverse, so that each owned atom ends with the sum over all its copies
  // (periodic images on this rank included). v has n() entries; halo entries are left changed.
  void reverse_sum(LAMMPS_NS::LAMMPS *lmp, double *v);

  int n() const { return static_cast<int>(type_.size()); }
  const double *x() const { return x_.data(); }
  const int *type() const { return type_.data(); }
  const char *in_group() const { return group_.data(); }

 private:
  // one message of the staged exchange: the local indices sent to `to`, the range received from `from`
  struct Swap {
    int to, from, recv0, nrecv;
    std::vector<int> sent;
  };
  std::vector<Swap> swaps_;
  std::vector<double> x_, pos_, sendbuf_, recvbuf_;
  std::vector<int> type_;
  std::vector<char> group_;
};

}    // namespace glassfix

#endif
