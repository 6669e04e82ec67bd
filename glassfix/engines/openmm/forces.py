"""OpenMM forces of the model glass formers: one neighbour-listed ``CustomNonbondedForce`` per system.

Why one force: OpenMM restricts a ``CustomNonbondedForce`` to a species pair only through interaction
groups, and its CPU platform evaluates interaction groups without the cell list, so one force per pair
costs O(N²) per step (measured 84 k → 6 k atom-steps/s from N = 1000 to 16,000, issue 18). Here every
system is a single force over all pairs with the force's cutoff at the largest pair cutoff (cell list,
O(N)); the per-pair constants (ε_αβ, σ_αβ, r_c,αβ, shifts, …) are read off the two particles' type
parameters ``t1``, ``t2`` by the interpolating polynomial of :func:`pair_table` — plain arithmetic,
which OpenMM's CPU platform vectorises; ``Discrete2DFunction`` tables measured 2.5–3.7× slower — and the
exact per-pair cutoff is a ``step(r_c,αβ − r)`` factor in the energy (no switching function, no
long-range correction). Energies and forces equal the numba reference
(:mod:`glassfix.systems.potentials`) to double-precision round-off on the Reference platform.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

__all__ = ["pair_table", "lj_mixture_force", "poly_lj_force", "soft_poly_force", "kremer_grest_forces"]


def _mm():
    """The openmm module, imported on first use (an optional dependency)."""
    try:
        import openmm
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the OpenMM engine needs openmm: pip install 'glassfix[openmm]' (openmm==8.6.1)") from exc
    return openmm


def _g(v: float) -> str:
    return f"({float(v):.17g})"


def pair_table(values: np.ndarray) -> str:
    """OpenMM expression in the type parameters ``t1``, ``t2`` (0, 1, …) equal to ``values[t1, t2]``.

    The symmetric interpolating polynomial Σ c_ab (t1^a t2^b + t1^b t2^a), a ≤ b < n_types, is unique
    on the type grid; a constant table is the constant itself. Exact to double round-off (checked).
    """
    m = np.asarray(values, dtype=np.float64)
    n = m.shape[0]
    if m.shape != (n, n) or not np.array_equal(m, m.T):
        raise ValueError(f"a pair table must be a symmetric square matrix, got {m.tolist()}")
    if np.all(m == m[0, 0]):
        return _g(m[0, 0])
    basis = [(a, b) for a in range(n) for b in range(a, n)]
    pts = [(i, j) for i in range(n) for j in range(i, n)]

    def mono(a: int, b: int, x: float, y: float) -> float:
        return x ** a * y ** b + (x ** b * y ** a if a != b else 0.0)

    mat = np.array([[mono(a, b, i, j) for a, b in basis] for i, j in pts], dtype=np.float64)
    coef = np.linalg.solve(mat, np.array([m[i, j] for i, j in pts]))
    back = mat @ coef
    target = np.array([m[i, j] for i, j in pts])
    if np.abs(back - target).max() > 1e-13 * max(np.abs(target).max(), 1e-300):
        raise ValueError(f"pair table {m.tolist()} cannot be represented to double precision")

    def term(a: int, b: int) -> str:
        def pw(v: str, k: int) -> str:
            return "1" if k == 0 else (v if k == 1 else f"{v}^{k}")
        if a == b:
            return f"{pw('t1', a)}*{pw('t2', a)}"
        return f"({pw('t1', a)}*{pw('t2', b)}+{pw('t1', b)}*{pw('t2', a)})"

    parts = [_g(c) if (a, b) == (0, 0) else f"{_g(c)}*{term(a, b)}"
             for (a, b), c in zip(basis, coef) if c != 0.0]
    return "(" + "+".join(parts or ["0"]) + ")"


def _nonbonded(expr: str, cutoff: float, per_particle: list[str]):
    mm = _mm()
    force = mm.CustomNonbondedForce(expr)
    force.setNonbondedMethod(mm.CustomNonbondedForce.CutoffPeriodic)
    force.setCutoffDistance(float(cutoff))
    force.setUseSwitchingFunction(False)
    force.setUseLongRangeCorrection(False)
    for name in per_particle:
        force.addPerParticleParameter(name)
    return force


def _cut(rc: np.ndarray, body: str) -> str:
    """``body`` times step(r_c,αβ − r), the factor dropped when every pair is cut at the force's cutoff."""
    if np.all(rc == rc.max()):
        return body
    return f"step(rc-r)*({body})"


def lj_expression(system: Any) -> tuple[str, dict[str, np.ndarray]]:
    """(energy expression in r naming per-pair tables, {name: (n_types, n_types) table}) of an LJ mixture's
    cutoff style: truncated, truncated-shifted, force-shifted (``lj/smooth/linear``) or ``lj/smooth``."""
    from glassfix.systems.lj import _lj, _lj_force, smooth_force_coefficients

    eps, sig, rc = system.epsilon_matrix(), system.sigma_matrix(), system.cutoff_matrix()
    tables = {"eps4": 4.0 * eps, "sig6": sig ** 6, "rc": rc}
    lj = "eps4*x6*(x6-1)"
    style = system.cutoff_style
    if style == "truncated":
        body = lj
    elif style == "truncated-shifted":
        body = f"{lj}-e0"
        tables["e0"] = _lj(rc, eps, sig)
    elif style == "lj/smooth/linear":
        body = f"{lj}-e0+(r-rc)*f0"
        tables["e0"], tables["f0"] = _lj(rc, eps, sig), _lj_force(rc, eps, sig)
    elif style == "lj/smooth":
        rin = system.inner_matrix()
        n = rc.shape[0]
        c = np.zeros((4, n, n))
        for i, j in itertools.product(range(n), range(n)):
            c[:, i, j] = smooth_force_coefficients(rin[i, j], rc[i, j], eps[i, j], sig[i, j])
        tc = rc - rin
        prim_tc = c[0] * tc + c[1] * tc ** 2 / 2 + c[2] * tc ** 3 / 3 + c[3] * tc ** 4 / 4
        # E = ∫_r^rc F: the cubic force beyond r_in (t = r − r_in), LJ shifted to join it below
        tables.update(rin=rin, p1=c[0], p2=c[1] / 2, p3=c[2] / 3, p4=c[3] / 4, ptc=prim_tc,
                      ein=_lj(rin, eps, sig) - prim_tc)
        return _cut(rc, f"select(step(r-rin), ptc-t*(p1+t*(p2+t*(p3+t*p4))), {lj}-ein)") + "; t=r-rin", tables
    else:
        raise ValueError(f"cutoff style {style!r} has no OpenMM expression")
    return _cut(rc, body), tables


def _with_tables(expr: str, tables: dict[str, np.ndarray], extra: str) -> str:
    defs = "; ".join(f"{k}={pair_table(v)}" for k, v in tables.items())
    return f"{expr}; {extra}; {defs}" if extra else f"{expr}; {defs}"


def lj_mixture_force(system: Any, types: np.ndarray):
    """One ``CustomNonbondedForce`` of an LJ mixture (KA, Wahnström) with exact per-pair cutoffs."""
    body, tables = lj_expression(system)
    force = _nonbonded(_with_tables(body, tables, "x6=sig6/r^6"), system.max_cutoff, ["t"])
    force.setName(f"{system.name} pairs")
    for t in types:
        force.addParticle([float(t)])
    return force


def poly_lj_force(system: Any, types: np.ndarray):
    """The JBB pair force 4ε[(σ/r)^12 − (σ/r)^6 + C0 + C2 x² + C4 x⁴], x = r/σ_αβ, r < r_c,αβ (ε_AA, σ_AA;
    analytic: the function LAMMPS' tables interpolate, :meth:`glassfix.systems.jbb.JBB.table_error`)."""
    sig, rc = system.sigma_matrix(), system.cutoff_matrix()
    tables = {"eps4": 4.0 * system.epsilon_matrix(), "sig2": sig ** 2, "rc": rc}
    body = _cut(rc, f"eps4*(x6*(x6-1)+{_g(system.C0)}+y*({_g(system.C2)}+y*{_g(system.C4)}))")
    force = _nonbonded(_with_tables(body, tables, "x6=1/y^3; y=r^2/sig2"), system.max_cutoff, ["t"])
    force.setName("jbb pairs")
    for t in types:
        force.addParticle([float(t)])
    return force


def soft_poly_force(system: Any, diameters: np.ndarray):
    """NBC polydisperse soft spheres: per-particle diameter ``d``, non-additive σ_ij, cut at x_c σ_ij."""
    d = np.asarray(diameters, dtype=np.float64)
    c0, c2, c4 = system.polynomial_coefficients()
    na = float(system.nonadditivity)
    # the range the numba reference lists: x_c max σ (widened for ε_na < 0), as energy_forces computes it
    smax = float(d.max()) * (1.0 + max(-na, 0.0) * float(d.max() - d.min()))
    expr = (f"step({_g(system.xc)}-x)*{_g(system.epsilon)}*(x^(-12)+{_g(c0)}+y*({_g(c2)}+y*{_g(c4)})); "
            f"y=x^2; x=r/s; s=0.5*(d1+d2)*(1-{_g(na)}*abs(d1-d2))")
    force = _nonbonded(expr, system.xc * smax, ["d"])
    force.setName("polydisperse pairs")
    for v in d:
        force.addParticle([float(v)])
    return force


def kremer_grest_forces(system: Any, n: int, bonds: np.ndarray) -> list:
    """[non-bonded LJ (bonded pairs excluded), FENE bonds (+ special_lj12 × LJ of each bonded pair)]."""
    mm = _mm()
    from glassfix.systems.lj import _lj

    rc = float(system.lj_cutoff)
    e0 = float(_lj(np.float64(rc), 1.0, 1.0)) if system.cutoff_style == "truncated-shifted" else 0.0
    lj = f"(4*x6*(x6-1)-{_g(e0)}); x6=1/r^6"
    pair = _nonbonded(lj, rc, [])
    pair.setName("kremer-grest pairs")
    for _ in range(n):
        pair.addParticle([])
    b = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
    for i, j in b:
        pair.addExclusion(int(i), int(j))
    k, r0 = float(system.fene_k), float(system.fene_r0)
    fene = (f"-0.5*{_g(k)}*{_g(r0 * r0)}*log(1-r^2/{_g(r0 * r0)})"
            f"+step({_g(2.0 ** (1.0 / 6.0))}-r)*(4*w6*(w6-1)+1)")
    if system.special_lj12:
        # the excluded non-bonded term of a bonded pair, weighted as LAMMPS' special_bonds lj w12
        fene += f"+{_g(system.special_lj12)}*step({_g(rc)}-r)*(4*w6*(w6-1)-{_g(e0)})"
    bond = mm.CustomBondForce(fene + "; w6=1/r^6")
    bond.setName("fene bonds")
    bond.setUsesPeriodicBoundaryConditions(True)
    for i, j in b:
        bond.addBond(int(i), int(j), [])
    return [pair, bond]
