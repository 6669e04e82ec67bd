// Online labels with per-atom history that migrates with atoms between ranks:
//
//   fix ID group glass/phop  N WINDOW
//   fix ID group glass/d2min N LAG RCUT [normalize sum|mean] [margin M]
//
// Both sample the unwrapped positions of every atom every N steps into a per-atom ring buffer.
// glass/phop outputs the Candelier p_hop of the window of WINDOW samples that ends now; it refers to
// the centre of that window, i.e. to step (now - (WINDOW/2)*N). glass/d2min outputs the Falk-Langer
// D2min between now and LAG steps ago (LAG a multiple of N), with neighbours within RCUT at the
// reference time. Values not yet defined (not enough history) are NaN. Definitions equal those of
// glassfix.labels.phop.phop and glassfix.labels.d2min.d2min (form "unwrapped").
//
// The history (per-atom ring buffer and label) and the sample counter are written to restart files:
// a fix with the same ID and style defined after read_restart continues exactly where the old one
// stopped (it must have the same N and WINDOW / LAG, or it stops with an error). A non-finite position
// at a sample step stops every rank with one error naming the atom.
#pragma once

#include "fix.h"

#include <string>

namespace LAMMPS_NS {

class FixGlassLabel : public Fix {
 public:
  FixGlassLabel(class LAMMPS *, int, char **);
  ~FixGlassLabel() override;
  int setmask() override;
  void init() override;
  void init_list(int, class NeighList *) override;
  void setup(int) override;
  void end_of_step() override;
  double compute_scalar() override;
  double memory_usage() override;
  void grow_arrays(int) override;
  void copy_arrays(int, int, int) override;
  void set_arrays(int) override;
  int pack_exchange(int, double *) override;
  int unpack_exchange(int, double *) override;
  int pack_forward_comm(int, int *, double *, int, int *) override;
  void unpack_forward_comm(int, int, double *) override;
  void write_restart(FILE *) override;
  void restart(char *) override;
  int pack_restart(int, double *) override;
  void unpack_restart(int, int) override;
  int size_restart(int) override;
  int maxsize_restart() override;

  // 1 once the history covers the window (phop) or the lag (d2min): the per-atom values of this step
  // are defined (glass/record stores only such values)
  bool values_valid() const;

  // JSON description of the label (kind, parameters, and the step offset from the step at which a
  // value is output to the step it describes); fix glass/record stores it with the recorded values
  std::string label_meta() const;

 private:
  int kind;           // PHOP or D2MIN
  int nslots;         // ring buffer length (samples)
  int window;         // p_hop window in samples
  int lagslots;       // D2min lag in samples
  double rcut;        // D2min neighbour cutoff at the reference time
  double margin;      // extra neighbour-list reach for displacements (length units)
  int mean_norm;      // D2min: 1 = divide by the number of neighbours
  bigint nsamples;    // samples taken so far (same on every rank)
  bigint last_sample; // step of the last sample
  double **hist;      // nmax x (nslots*3) unwrapped positions, slot = sample index % nslots
  double *label;      // per-atom output
  double **disp;      // nmax x 3 displacement since the reference sample (owned + ghost)
  double mean;        // mean of the label over defined group atoms
  class NeighList *list;

  void sample();
  void check_positions(bool before_run = false);
  void compute_phop();
  void compute_d2min();
  void update_mean();
};

}    // namespace LAMMPS_NS
