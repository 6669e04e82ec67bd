#include "position_halo.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "lammps.h"

#include <mpi.h>

#include <algorithm>
#include <cmath>

using namespace LAMMPS_NS;

namespace glassfix {

namespace {
constexpr int kWidth = 5;    // doubles per atom in the exchange: working coordinates (3), type, id (< 2^53)
constexpr int kTagCount = 7411, kTagData = 7412;
}    // namespace

bool PositionHalo::supported(LAMMPS *lmp)
{
  return lmp->comm->style == Comm::BRICK && lmp->comm->layout != Comm::LAYOUT_TILED;
}

void PositionHalo::build(LAMMPS *lmp, double cut)
{
  Atom *atom = lmp->atom;
  Domain *domain = lmp->domain;
  Comm *comm = lmp->comm;
  MPI_Comm world = lmp->world;
  const int nlocal = atom->nlocal;
  const int dims = domain->dimension;
  const bool tri = domain->triclinic != 0;

  // working coordinates: x for orthogonal boxes, lamda (fractions of the box vectors) for triclinic
  // ones, where sub-domains are slabs between lattice planes and a period is 1
  double lo[3], hi[3], period[3], reach[3];
  for (int d = 0; d < 3; d++) {
    lo[d] = tri ? domain->sublo_lamda[d] : domain->sublo[d];
    hi[d] = tri ? domain->subhi_lamda[d] : domain->subhi[d];
    period[d] = tri ? 1.0 : domain->prd[d];
    reach[d] = cut;
  }
  if (tri) {
    // distance between lattice planes per unit of lamda (as Comm::get_comm_cutoff and CommBrick::setup)
    const double *hi_ = domain->h_inv;
    reach[0] = cut * std::sqrt(hi_[0] * hi_[0] + hi_[5] * hi_[5] + hi_[4] * hi_[4]);
    reach[1] = cut * std::sqrt(hi_[1] * hi_[1] + hi_[3] * hi_[3]);
    reach[2] = cut * hi_[2];
  }

  pos_.resize(static_cast<size_t>(kWidth) * nlocal);
  for (int i = 0; i < nlocal; i++) {
    double *p = &pos_[static_cast<size_t>(kWidth) * i];
    if (tri) domain->x2lamda(atom->x[i], p);
    else std::copy(atom->x[i], atom->x[i] + 3, p);
    p[3] = atom->type[i];
    p[4] = static_cast<double>(atom->tag[i]);
  }

  int n = nlocal;
  for (int d = 0; d < dims; d++) {
    // hops: enough for the thinnest sub-domain along d to pass atoms one reach deep
    double width = hi[d] - lo[d], thinnest = width;
    MPI_Allreduce(&width, &thinnest, 1, MPI_DOUBLE, MPI_MIN, world);
    const int hops = thinnest > 0.0 ? std::max(1, static_cast<int>(std::ceil(reach[d] / thinnest))) : 1;
    const int first_end = n;    // atoms present before this dimension: candidates of the first hop
    const bool periodic = domain->periodicity[d] != 0;
    for (int dir = 0; dir < 2; dir++) {    // 0: send to the neighbour below, 1: to the one above
      const int to = comm->procneigh[d][dir], from = comm->procneigh[d][1 - dir];
      // crossing the box boundary: the atoms arrive as images one period away (or not at all if the
      // dimension is not periodic)
      const bool at_edge = (dir == 0) ? comm->myloc[d] == 0 : comm->myloc[d] == comm->procgrid[d] - 1;
      const double shift = at_edge ? (dir == 0 ? period[d] : -period[d]) : 0.0;
      int c0 = 0, c1 = first_end;
      for (int hop = 0; hop < hops; hop++) {
        sendbuf_.clear();
        if (!at_edge || periodic) {
          for (int i = c0; i < c1; i++) {
            const double *p = &pos_[static_cast<size_t>(kWidth) * i];
            // within reach of the receiver's face (its upper face is our lower one and vice versa)
            const bool send = (dir == 0) ? p[d] < lo[d] + reach[d] : p[d] >= hi[d] - reach[d];
            if (!send) continue;
            const size_t k = sendbuf_.size();
            sendbuf_.insert(sendbuf_.end(), p, p + kWidth);
            sendbuf_[k + d] += shift;
          }
        }
        int nsend = static_cast<int>(sendbuf_.size() / kWidth), nrecv = 0;
        MPI_Sendrecv(&nsend, 1, MPI_INT, to, kTagCount, &nrecv, 1, MPI_INT, from, kTagCount, world,
                     MPI_STATUS_IGNORE);
        recvbuf_.resize(static_cast<size_t>(kWidth) * nrecv);
        MPI_Sendrecv(sendbuf_.data(), kWidth * nsend, MPI_DOUBLE, to, kTagData, recvbuf_.data(), kWidth * nrecv,
                     MPI_DOUBLE, from, kTagData, world, MPI_STATUS_IGNORE);
        pos_.insert(pos_.end(), recvbuf_.begin(), recvbuf_.end());
        // the next hop forwards what just arrived
        c0 = n;
        n += nrecv;
        c1 = n;
      }
    }
  }

  x_.resize(3 * static_cast<size_t>(n));
  type_.resize(n);
  tag_.resize(n);
  for (int i = 0; i < n; i++) {
    const double *p = &pos_[static_cast<size_t>(kWidth) * i];
    double *q = &x_[3 * static_cast<size_t>(i)];
    if (i < nlocal) std::copy(atom->x[i], atom->x[i] + 3, q);    // owned atoms exactly as LAMMPS has them
    else if (tri) domain->lamda2x(const_cast<double *>(p), q);
    else std::copy(p, p + 3, q);
    type_[i] = static_cast<int>(p[3]);
    tag_[i] = static_cast<tagint>(p[4]);
  }
}

}    // namespace glassfix
