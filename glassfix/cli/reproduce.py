"""``glassfix reproduce …``: long, resumable science runs that write a report under ``docs/``."""

from __future__ import annotations

import argparse
import functools
from pathlib import Path
from typing import Callable


def _cmd_ka_tau(args: argparse.Namespace) -> int:
    from glassfix.reproduce.ka_tau import KaTauConfig, run

    cfg = KaTauConfig(n=args.n, temperature=args.T, n_configs=args.configs, t_equil=args.t_equil,
                      seed=args.seed)
    report = run(cfg, Path(args.workdir), Path(args.report), workers=args.workers)
    print(f"report: {report}")
    return 0


def _cmd_ka_creep(args: argparse.Namespace) -> int:
    from glassfix.reproduce.ka_creep import KaCreepConfig, run

    cfg = KaCreepConfig(n=args.n, temperature=args.T, sigma0=args.sigma0, runs=args.runs, steps=args.steps,
                        seed=args.seed, snapshot_every=args.snapshot_every)
    report = run(cfg, Path(args.workdir), Path(args.report), workers=args.workers)
    print(f"report: {report}")
    return 0


def _cmd_jbb_swap(args: argparse.Namespace) -> int:
    from glassfix.reproduce.jbb_swap import write_report

    command = args.ladder_command or "glassfix swap jbb ... --out " + args.store
    command += (f"` then `glassfix reproduce jbb-swap --store {args.store} --report {args.report}"
                + (f" --report-T {' '.join(f'{t:g}' for t in args.report_T)}" if args.report_T else "")
                + f" --md-steps {' '.join(str(n) for n in args.md_steps)}")
    report = write_report(Path(args.store), Path(args.report), args.report_T, md_steps=args.md_steps,
                          md_every=args.md_every, md_dt=args.md_dt, command=command)
    print(f"report: {report}")
    return 0


def _cmd_botan_mini(args: argparse.Namespace) -> int:
    from glassfix.reproduce.botan_mini import BotanMiniConfig, run

    cfg = BotanMiniConfig(epochs=args.epochs, n_test=args.n_test, p=args.p, lr=args.lr, seed=args.seed,
                          threads=args.threads)
    report = run(cfg, Path(args.workdir), Path(args.report))
    print(f"report: {report}")
    return 0


def _cmd_ace_thermal(args: argparse.Namespace) -> int:
    from glassfix.reproduce.ace_thermal import AceThermalConfig, run

    cfg = AceThermalConfig(fraction=args.fraction, r_cuts=tuple(args.r_cuts), C=args.C, seed=args.seed)
    report = run(cfg, Path(args.workdir), Path(args.report))
    print(f"report: {report}")
    return 0


def _cmd_ace_aqs(args: argparse.Namespace) -> int:
    from glassfix.reproduce.ace_aqs import AceAqsConfig
    from glassfix.reproduce.ace_aqs_report import run

    if args.samples < 1:
        raise SystemExit(f"error: --samples {args.samples}: need at least 1 glass (the report wants >= 2; the "
                         "paper used 30)")
    cfg = AceAqsConfig(n=args.n, samples=args.samples, seed=args.seed, strain=args.strain,
                       max_active_fraction=args.max_active_fraction, r_cuts=tuple(args.r_cuts), C=args.C,
                       otf_rcut=args.otf_rcut, otf_every=args.otf_every, quench_steps=args.quench_steps,
                       prestrain=args.prestrain, dgamma_pre=args.dgamma_pre, dgamma=args.dgamma,
                       collect_ftol=args.collect_ftol, otf_strain=args.otf_strain)
    report = run(cfg, Path(args.workdir), Path(args.report), stages=tuple(args.stages), workers=args.workers)
    print(f"report: {report}" if report else f"done: {' '.join(args.stages)}")
    return 0


def _cmd_ka_looseness(args: argparse.Namespace) -> int:
    from glassfix.reproduce.ka_looseness import KaLoosenessConfig, run

    cfg = KaLoosenessConfig(d0=args.d0, n_top=args.top, seed=args.seed, allow_partial=args.allow_partial,
                            avalanche_fraction=args.avalanche_fraction, n_bootstrap=args.bootstraps,
                            otf_steps=args.otf_steps, otf_every=args.otf_every, workers=args.workers)
    if cfg.otf_steps < 0 or cfg.otf_every < 1:
        raise ValueError(f"--otf-steps must be >= 0 (got {cfg.otf_steps}) and --otf-every >= 1 (got {cfg.otf_every})")
    command = (f"glassfix reproduce ka-looseness --creep-dir {args.creep_dir} --workdir {args.workdir} "
               f"--report {args.report}" + (" --allow-partial" if args.allow_partial else "")
               + (f" --otf-steps {cfg.otf_steps}" if cfg.otf_steps != 200_000 else "")
               + (f" --otf-every {cfg.otf_every}" if cfg.otf_every != 1000 else ""))
    report = run(cfg, Path(args.creep_dir), Path(args.workdir), Path(args.report), command=command)
    print(f"report: {report}")
    return 0


def _cmd_softness(args: argparse.Namespace) -> int:
    from glassfix.reproduce.softness import SoftnessConfig, run

    cfg = SoftnessConfig(n=args.n, temperatures=tuple(args.T), equil_tau=tuple(args.equil_tau),
                         chunks=tuple(args.chunks), chunk_steps=args.chunk_steps, otf_steps=args.otf_steps,
                         seed=args.seed, inherent=args.inherent)
    report = run(cfg, Path(args.workdir), Path(args.report), until=args.until,
                 compare=Path(args.compare_workdir) if args.compare_workdir else None)
    print(f"report: {report}" if report else f"stopped after stage {args.until}")
    return 0


def _cmd_tglassmlp(args: argparse.Namespace) -> int:
    import sys

    from glassfix.reproduce.tglassmlp import run

    argv = list(sys.argv[3:])
    if "--ladder-command" in argv:  # shown separately in the report
        i = argv.index("--ladder-command")
        del argv[i:i + 2]
    command = "glassfix reproduce tglassmlp " + " ".join(argv) if len(sys.argv) > 2 else ""
    try:
        run(args.scale, Path(args.workdir), Path(args.report), swap_store=args.swap_store, stages=args.stages,
            only_T=args.only_T, workers=args.workers, max_frames=args.max_frames, command=command,
            ladder_command=args.ladder_command or "", held_out=args.held_out)
    except RuntimeError as exc:
        raise SystemExit(f"error: {exc}") from None
    return 0


def _one_line_errors(cmd: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """``cmd`` with bad input (ValueError: a parameter, a work directory holding another run; a missing
    file) reported as one ``error:`` line instead of a traceback."""
    @functools.wraps(cmd)
    def guarded(args: argparse.Namespace) -> int:
        try:
            return cmd(args)
        except (ValueError, FileNotFoundError) as exc:
            raise SystemExit(f"error: {exc}") from None
    return guarded


def add_arguments(sub: argparse._SubParsersAction) -> None:
    """Register ``glassfix reproduce`` and its targets on the top-level subparsers."""
    rp = sub.add_parser("reproduce", help="long science runs (resumable) that write reports in docs/")
    rsub = rp.add_subparsers(dest="target", required=True)
    kt = rsub.add_parser("ka-tau", help="KA 3D tau_alpha from F_s(k=2pi) of A particles vs the BOTAN "
                                        "paper's 16.5 at T=0.64 (times in tau, LJ units)")
    kt.add_argument("--n", type=int, default=1000, help="particles per configuration")
    kt.add_argument("--T", type=float, default=0.64, help="temperature (epsilon_AA/k_B)")
    kt.add_argument("--configs", type=int, default=5, help="independent configurations")
    kt.add_argument("--t-equil", type=float, default=660.0, help="NVT equilibration at T (tau)")
    kt.add_argument("--seed", type=int, default=2026)
    kt.add_argument("--workers", type=int, default=2, help="configurations simulated in parallel")
    kt.add_argument("--workdir", default="repro_out/ka_tau", help="resumable working directory")
    kt.add_argument("--report", default="docs/ka_tau_alpha.md", help="markdown report (PNG beside it)")
    kt.set_defaults(func=_one_line_errors(_cmd_ka_tau))

    kc = rsub.add_parser("ka-creep", help="KA glass creep under constant compressive stress: strain vs log t "
                                          "and the creep modulus C (steps of dt = 0.01 tau)")
    kc.add_argument("--n", type=int, default=1000, help="particles per glass")
    kc.add_argument("--T", type=float, default=0.1, help="temperature (epsilon_AA/k_B)")
    kc.add_argument("--sigma0", type=float, default=0.5, help="compressive stress (epsilon_AA/sigma_AA^3)")
    kc.add_argument("--runs", type=int, default=4, help="independent glasses")
    kc.add_argument("--steps", type=int, default=300_000, help="creep MD steps per run")
    kc.add_argument("--snapshot-every", type=int, default=50_000,
                    help="steps between configurations minimised under the stress (the looseness paper: 10000)")
    kc.add_argument("--seed", type=int, default=31)
    kc.add_argument("--workers", type=int, default=2, help="runs simulated in parallel")
    kc.add_argument("--workdir", default="repro_out/ka_creep", help="resumable working directory")
    kc.add_argument("--report", default="docs/ka_creep.md", help="markdown report (PNG beside it)")
    kc.set_defaults(func=_one_line_errors(_cmd_ka_creep))

    js = rsub.add_parser("jbb-swap", help="report of a finished `glassfix swap jbb` ladder: equilibration table, "
                                          "MD tau_alpha at the chosen temperatures and the swap speed-up")
    js.add_argument("--store", required=True, help="the ladder's dataset store (glassfix swap --out)")
    js.add_argument("--report", default="docs/swap_jbb.md", help="markdown report (PNG beside it)")
    js.add_argument("--report-T", dest="report_T", type=float, nargs="+", default=None,
                    help="equilibrated temperatures for the MD comparison (default: all equilibrated)")
    js.add_argument("--md-steps", type=int, nargs="+", default=[200_000],
                    help="MD steps: one value for every report temperature or one per --report-T temperature")
    js.add_argument("--md-every", type=int, default=500, help="MD snapshot spacing (steps)")
    js.add_argument("--md-dt", type=float, default=0.005, help="MD time step (tau)")
    js.add_argument("--ladder-command", default=None, help="the `glassfix swap` command line, for the report")
    js.set_defaults(func=_one_line_errors(_cmd_jbb_swap))

    bm = rsub.add_parser("botan-mini", help="BOTAN fine-tuned from the authors' pretrained weights on the shared "
                                           "KA configurations (T=0.44, t=tau_alpha), tested on held-out ones")
    bm.add_argument("--epochs", type=int, default=20, help="epochs (one step per training graph)")
    bm.add_argument("--n-test", type=int, default=2, help="configurations held out for testing")
    bm.add_argument("--p", type=float, default=0.4, help="node-loss weight (0.4 BOTAN, 1 NT-GNN)")
    bm.add_argument("--lr", type=float, default=1e-4)
    bm.add_argument("--seed", type=int, default=0)
    bm.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    bm.add_argument("--workdir", default="repro_out/botan_mini", help="resumable working directory")
    bm.add_argument("--report", default="docs/botan_mini.md", help="markdown report (PNG beside it)")
    bm.set_defaults(func=_one_line_errors(_cmd_botan_mini))

    at = rsub.add_parser("ace-thermal", help="ACE + logistic regression classifying thermal rearrangements "
                                            "(top/bottom 5%% of A by isoconfigurational D2min) on the shared KA data")
    at.add_argument("--fraction", type=float, default=0.05, help="fraction of A atoms per class")
    at.add_argument("--r-cuts", type=float, nargs="+", default=[2.5, 3.0, 3.5, 4.0], help="ACE cutoffs (sigma)")
    at.add_argument("--C", type=float, default=1.0, help="inverse L2 strength")
    at.add_argument("--seed", type=int, default=0)
    at.add_argument("--workdir", default="repro_out/ace_thermal", help="resumable working directory")
    at.add_argument("--report", default="docs/ace_thermal.md", help="markdown report (PNG beside it)")
    at.set_defaults(func=_one_line_errors(_cmd_ace_thermal))

    aq = rsub.add_parser("ace-aqs", help="ACE + logistic regression classifying mechanical rearrangements "
                                        "(AQS shear of KA glasses, D2min > 0.6 over the collection window), "
                                        "thermal vs AQS, the model on the fly in AQS")
    aq.add_argument("--n", type=int, default=1000, help="particles per glass (KA 80:20, rho = 1.2)")
    aq.add_argument("--samples", type=int, default=30, help="independent glasses (the report uses those complete)")
    aq.add_argument("--seed", type=int, default=7000)
    aq.add_argument("--quench-steps", type=int, default=10_000, help="T = 1 -> 0 quench (MD steps of 0.005 tau)")
    aq.add_argument("--prestrain", type=float, default=0.10, help="shear strain before collection")
    aq.add_argument("--dgamma-pre", type=float, default=5e-4, help="strain step of the pre-strain")
    aq.add_argument("--dgamma", type=float, default=1e-4, help="strain step of the collection window")
    aq.add_argument("--strain", type=float, default=0.08, help="collection window (strain; a longer one extends)")
    aq.add_argument("--collect-ftol", type=float, default=1e-7, help="CG force tolerance in the window (epsilon/sigma)")
    aq.add_argument("--otf-strain", type=float, default=0.08, help="strain sheared with the model on the fly")
    aq.add_argument("--max-active-fraction", type=float, default=0.2,
                    help="steps with more active A particles than this fraction are avalanches (no labels)")
    aq.add_argument("--r-cuts", type=float, nargs="+", default=[2.5, 3.0, 3.5, 4.0], help="ACE cutoffs (sigma)")
    aq.add_argument("--C", type=float, default=1.0, help="inverse L2 strength")
    aq.add_argument("--otf-rcut", type=float, default=3.0, help="ACE cutoff of the on-the-fly model (sigma)")
    aq.add_argument("--otf-every", type=int, default=1, help="AQS steps between on-the-fly evaluations")
    aq.add_argument("--stages", nargs="+", choices=["generate", "otf", "report"],
                    default=["generate", "otf", "report"], help="stages to run (each resumes)")
    aq.add_argument("--workers", type=int, default=2, help="samples simulated in parallel")
    aq.add_argument("--workdir", default="repro_out/ace_aqs", help="resumable working directory")
    aq.add_argument("--report", default="docs/ace_aqs.md", help="markdown report (PNGs beside it)")
    aq.set_defaults(func=_one_line_errors(_cmd_ace_aqs))

    kl = rsub.add_parser("ka-looseness", help="looseness (EasyEnsemble of logistic regressions on interstice "
                                             "features) on the minimised snapshots of `reproduce ka-creep`")
    kl.add_argument("--creep-dir", default="repro_out/ka_creep", help="work directory of reproduce ka-creep")
    kl.add_argument("--d0", type=float, default=0.25, help="D2min threshold of 'loose' (sigma^2)")
    kl.add_argument("--top", type=int, default=10, help="features kept after RFE")
    kl.add_argument("--seed", type=int, default=0)
    kl.add_argument("--bootstraps", type=int, default=5, help="balanced bootstraps for RFE and the label scan")
    kl.add_argument("--avalanche-fraction", type=float, default=0.2,
                    help="snapshot pairs with a larger loose fraction are flagged as system-spanning avalanches "
                         "(reported, and excluded in a sensitivity row only)")
    kl.add_argument("--allow-partial", action="store_true",
                    help="write a report marked PARTIAL when not all creep runs are complete (default: refuse)")
    kl.add_argument("--otf-steps", type=int, default=200_000,
                    help="MD steps of the on-the-fly creep run (a new glass, the model in fix glass/predict); "
                         "a multiple of the creep snapshot spacing; 0 skips it")
    kl.add_argument("--otf-every", type=int, default=1000,
                    help="MD steps between on-the-fly evaluations (besides every minimised snapshot)")
    kl.add_argument("--workers", type=int, default=2,
                    help="processes for the feature extraction and the RFE bootstraps (the results do not depend "
                         "on it); the on-the-fly run takes one more process beside the analysis")
    kl.add_argument("--workdir", default="repro_out/ka_looseness", help="resumable working directory")
    kl.add_argument("--report", default="docs/ka_looseness.md", help="markdown report (PNG beside it)")
    kl.set_defaults(func=_one_line_errors(_cmd_ka_looseness))

    sf = rsub.add_parser("softness", help="KA 3D softness (Cubuk ch. 5): online p_hop, softness SVM at the lowest "
                                         "T, P_R(S) and its Arrhenius analysis at every T, softness on the fly")
    sf.add_argument("--n", type=int, default=1000, help="particles (80:20, rho = 1.2)")
    sf.add_argument("--T", type=float, nargs="+", default=[0.54, 0.60, 0.67, 0.80],
                    help="temperatures (epsilon_AA/k_B); the SVM is trained at the lowest")
    sf.add_argument("--equil-tau", type=float, nargs="+", default=[1200.0, 300.0, 150.0, 100.0],
                    help="NVT equilibration per temperature (tau), same order as --T")
    sf.add_argument("--chunks", type=int, nargs="+", default=[5, 1, 1, 1],
                    help="NVE production chunks per temperature, same order as --T")
    sf.add_argument("--chunk-steps", type=int, default=40_000, help="MD steps per chunk (dt = 0.005 tau)")
    sf.add_argument("--otf-steps", type=int, default=10_000, help="NVE steps with the model in fix glass/predict")
    sf.add_argument("--seed", type=int, default=1002)
    sf.add_argument("--inherent", action="store_true",
                    help="quench every recorded frame (LAMMPS CG) and compute p_hop and the structure functions on the "
                         "inherent structures, as the paper (stage quench; default: thermal positions)")
    sf.add_argument("--compare-workdir", default=None,
                    help="a finished run on the same MD with the other choice of positions: the report adds a table "
                         "comparing the two")
    sf.add_argument("--until", choices=["md", "tau", "quench", "train", "scan", "apply", "otf", "report"],
                    default="report",
                    help="stop after this stage (rerun the command to continue)")
    sf.add_argument("--workdir", default="repro_out/softness", help="resumable working directory")
    sf.add_argument("--report", default="docs/softness.md", help="markdown report (PNG beside it)")
    sf.set_defaults(func=_one_line_errors(_cmd_softness))

    tg = rsub.add_parser("tglassmlp", help="tGlassMLP (Jung, Biroli, Berthier 2024) at CPU scale: swap MC, iso bond-"
                                          "breaking labels, TTS, training + transfer, predictions, report")
    tg.add_argument("--scale", choices=["small", "medium"], default="small", help="sizes (see docs/tglassmlp.md)")
    tg.add_argument("--workdir", default="repro_out/tglassmlp", help="resumable working directory")
    tg.add_argument("--swap-store", default=None, nargs="+",
                    help="existing `glassfix swap jbb` store(s), possibly still running (read via a snapshot "
                         "copy): labels come from the first; later ones add samples at temperatures it lacks")
    tg.add_argument("--stages", nargs="+", default=None,
                    help="stages to run: swap labels tts features train predict bigbox otf report (default: all, each resumes)")
    tg.add_argument("--only-T", dest="only_T", type=float, nargs="+", default=None,
                    help="label only these temperatures in stage labels")
    tg.add_argument("--workers", type=int, default=1, help="replica processes in stage labels")
    tg.add_argument("--max-frames", type=int, default=None,
                    help="cap N_S per temperature in this invocation of stage labels (a later run adds the rest)")
    tg.add_argument("--held-out", dest="held_out", type=float, nargs="+", default=None,
                    help="temperatures held out of the transfer model's training (default: the scale's)")
    tg.add_argument("--ladder-command", default=None,
                    help="the `glassfix swap` command(s) of --swap-store, for the report")
    tg.add_argument("--report", default="docs/tglassmlp.md", help="markdown report (PNG beside it)")
    tg.set_defaults(func=_one_line_errors(_cmd_tglassmlp))
