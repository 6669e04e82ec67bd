// Collective reporting of a failure that only some MPI ranks see (a NaN in their atoms, a Python
// exception in their callback): every rank learns the lowest failing rank, how many ranks failed and
// that rank's message, so all of them can stop through error->all with one identical ERROR line.
// (error->all called by one rank alone deadlocks; error->one prints from one rank and aborts.)
#pragma once

#include <mpi.h>

#include <string>

namespace glassfix {

struct Failure {
  int rank = -1;       // lowest failing rank; -1 if no rank failed
  int nfailed = 0;     // number of ranks that failed
  int nprocs = 1;
  std::string text;    // the message of `rank`
  explicit operator bool() const { return rank >= 0; }
  // " (MPI rank 1; 1 of 2 ranks failed)" when only some ranks failed, or `always` and nprocs > 1
  std::string where(bool always) const
  {
    if (nprocs <= 1 || (!always && nfailed == nprocs)) return "";
    return " (MPI rank " + std::to_string(rank) + "; " + std::to_string(nfailed) + " of " +
        std::to_string(nprocs) + " ranks failed)";
  }
};

// Collective over `world`: call on every rank, whether or not it failed.
inline Failure first_failure(MPI_Comm world, bool failed, const std::string &msg)
{
  int me = 0, nprocs = 1;
  MPI_Comm_rank(world, &me);
  MPI_Comm_size(world, &nprocs);
  int mine = failed ? me : nprocs, lowest = nprocs;
  int one = failed ? 1 : 0, count = 0;
  MPI_Allreduce(&mine, &lowest, 1, MPI_INT, MPI_MIN, world);
  MPI_Allreduce(&one, &count, 1, MPI_INT, MPI_SUM, world);
  Failure f;
  f.nprocs = nprocs;
  if (count == 0) return f;
  f.rank = lowest;
  f.nfailed = count;
  int len = (me == f.rank) ? static_cast<int>(msg.size()) : 0;
  MPI_Bcast(&len, 1, MPI_INT, f.rank, world);
  f.text.assign(len, ' ');
  if (me == f.rank) f.text = msg;
  if (len > 0) MPI_Bcast(&f.text[0], len, MPI_CHAR, f.rank, world);
  return f;
}

}    // namespace glassfix
