// Tabulated radial pair sums S_i = sum_j F_{t(i) t(j)}(r_ij) over a rank's owned + ghost atoms, for the
// native (C++) evaluation of linear models on radial structure functions (fix glass/predict).
//
// The sum runs over its own cell grid instead of a LAMMPS neighbour list: the atoms are counting-sorted
// into columns (side ~3 rc/4 across y and z) cut into x-bins, with the atoms whose sums are wanted
// ("active") first in every column and each part split by species, so that the atoms of one species
// within rc of a centre lie in one contiguous run per column. Every pair with an active atom is visited
// once: an active centre takes the passive atoms of its whole neighbourhood and the active atoms of the
// forward half, and an active partner gets its share by a scattered add. Pairs between two passive atoms
// (ghosts, atoms outside the group) are skipped. No neighbour list is materialised, no reverse
// communication is needed (a pair with a ghost is also computed by the ghost's owner, for its own atom)
// and the result does not depend on newton.
#ifndef GLASSFIX_RADIAL_TABLE_H
#define GLASSFIX_RADIAL_TABLE_H

#include <cstddef>
#include <vector>

namespace glassfix {

class RadialTable {
 public:
  // nsp species, n nodes spaced h apart from r = 0 (rc <= (n-1) h); F, dF, d2F are (nsp, nsp, n)
  // row-major values, first and second derivatives of F_ab at the nodes (quintic Hermite
  // interpolation between them). Returns false (and stays empty) on inconsistent sizes.
  bool load(int nsp, int n, double rc, double h, const std::vector<double> &F, const std::vector<double> &dF,
            const std::vector<double> &d2F);
  bool loaded() const { return nsp_ > 0; }

  // acc[i] = sum over atoms j != i within rc of F_{sp[i] sp[j]}(r_ij), valid for every i with
  // active[i] != 0 (other entries are unspecified). x: nall positions, three per atom (x[3 i + d], z
  // ignored if dim == 2); sp: species index 0..nsp-1 per atom.
  void sum(int nall, const double *x, const int *sp, const char *active, int dim, double *acc);

 private:
  int nsp_ = 0, n_ = 0;
  double rc_ = 0.0, h_ = 0.0;
  // per interval k, per (a, b): the six power-form coefficients of F_ab
  std::vector<double> tab_;
  // scratch, kept between calls
  std::vector<double> xs_, ys_, zs_, sacc_, r2_;
  std::vector<int> ssp_, orig_, start_, fill_, cellof_, idx_, count_;
};

}    // namespace glassfix

#endif
