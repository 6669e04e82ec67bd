"""The numba pair/bond kernels of glassfix.systems.potentials against direct formulas, finite differences
and LAMMPS' own pair functions (``pair_write``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from glassfix.core.frame import Frame
from glassfix.systems import JBB, KobAndersen3D, Polydisperse, Wahnstrom
from glassfix.systems import potentials as P
from glassfix.systems.lj import smooth_force_coefficients

LJ_STYLES = ["lj/smooth/linear", "truncated-shifted", "truncated", "lj/smooth"]


def lj(r, eps, sig):
    return 4 * eps * ((sig / r) ** 12 - (sig / r) ** 6)


def lj_f(r, eps, sig):
    return 24 * eps * (2 * (sig / r) ** 12 - (sig / r) ** 6) / r


def close(a, b, rel):
    """max |a − b| ≤ rel · max(max|b|, 1)."""
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b))) <= rel * max(float(np.max(np.abs(b))), 1.0)


# ---------------------------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("style", ["lj/smooth/linear", "truncated-shifted", "truncated"])
def test_simple_lj_kinds_match_direct_formula(style):
    ka = KobAndersen3D(cutoff_style=style)
    pot = ka.potential()
    for a, b in ((0, 0), (0, 1), (1, 1)):
        eps, sig, rc = ka.epsilon[a][b], ka.sigma[a][b], 2.5 * ka.sigma[a][b]
        r = np.linspace(0.7 * sig, 1.1 * rc, 701)
        e, f = pot.energy_force(r, a, b)
        e0, f0 = lj(r, eps, sig), lj_f(r, eps, sig)
        if style == "truncated-shifted":
            e0 = e0 - lj(rc, eps, sig)
        if style == "lj/smooth/linear":
            e0 = e0 - lj(rc, eps, sig) + (r - rc) * lj_f(rc, eps, sig)
            f0 = f0 - lj_f(rc, eps, sig)
        e0, f0 = np.where(r < rc, e0, 0), np.where(r < rc, f0, 0)
        assert close(e, e0, 1e-13) and close(f, f0, 1e-13)


@pytest.mark.parametrize("units", ["sigma", "absolute"])
def test_lj_smooth_kernel_matches_independent_construction(units):
    """The kernel uses LAMMPS' closed-form coefficients; the reference solves the defining 4×4 system."""
    w = Wahnstrom(cutoff_units=units)
    pot = w.potential()
    for a, b in ((0, 0), (0, 1), (1, 1)):
        rin, rc = w.inner_matrix()[a, b], w.cutoff_matrix()[a, b]
        r = np.linspace(0.75, 1.05 * rc, 901)
        e, f = pot.energy_force(r, a, b)
        e0, f0 = w.pair_energy_force(r, a, b)
        assert close(e, e0, 1e-12) and close(f, f0, 1e-12)
        # defining properties: LJ force below r_in, F = F′ = 0 and V = 0 at r_c
        inner = r < rin
        assert close(f[inner], lj_f(r[inner], 1.0, w.sigma[a][b]), 1e-13)
        coef = smooth_force_coefficients(rin, rc, 1.0, w.sigma[a][b])
        tc = rc - rin
        assert abs(coef @ [1, tc, tc ** 2, tc ** 3]) < 1e-12
        assert abs(coef[1:] @ [1, 2 * tc, 3 * tc ** 2]) < 1e-12
        e_end, f_end = pot.energy_force(np.array([rc * (1 - 1e-9)]), a, b)
        assert abs(e_end[0]) < 1e-14 and abs(f_end[0]) < 1e-12


def test_lj_smooth_unshifted_differs_by_constant():
    ka = KobAndersen3D(cutoff_style="lj/smooth")
    shifted = ka.potential()
    plain = P.lj_potential(ka.epsilon_matrix(), ka.sigma_matrix(), ka.cutoff_matrix(), "smooth",
                           inner=ka.inner_matrix())
    r = np.linspace(0.8, 2.49, 300)
    d = plain.energy_force(r, 0, 0)[0] - shifted.energy_force(r, 0, 0)[0]
    assert np.ptp(d) < 1e-14 and abs(d[0]) > 1e-4
    assert np.array_equal(plain.energy_force(r, 0, 0)[1], shifted.energy_force(r, 0, 0)[1])


def test_poly_lj_kernel_matches_science_formula():
    """JBB: 4ε[(σ/r)^12 − (σ/r)^6 + C0 + C2 x² + C4 x⁴] with the constants of 001_jung.md §1.2."""
    jbb = JBB()
    pot = jbb.potential()
    c0, c2, c4 = 0.04049023795, -0.00970155098, 0.00062012616
    for a in range(3):
        for b in range(3):
            eps, sig = jbb.epsilon[a][b], jbb.sigma[a][b]
            r = np.linspace(0.7 * sig, 2.6 * sig, 601)
            x = r / sig
            e0 = np.where(x < 2.5, 4 * eps * (x ** -12 - x ** -6 + c0 + c2 * x ** 2 + c4 * x ** 4), 0)
            # force factor quoted in the science digest: −(1/r)dV/dr
            fr0 = 4 * eps * ((12 * x ** -12 - 6 * x ** -6) / r ** 2 - (2 * c2 + 4 * c4 * x ** 2) / sig ** 2)
            e, f = pot.energy_force(r, a, b)
            assert close(e, e0, 1e-13) and close(f, np.where(x < 2.5, fr0 * r, 0), 1e-13)


@pytest.mark.parametrize("eps", [1.0, 2.5])
def test_soft_poly_kernel_matches_nbc_formula(eps):
    pd = Polydisperse(epsilon=eps)
    pot = pd.potential()
    xc = 1.25
    c0, c2, c4 = -28 / xc ** 12, 48 / xc ** 14, -21 / xc ** 16  # NBC PRX 2017, closed form
    for di, dj in ((1.0, 1.0), (0.73, 1.6), (1.2, 0.9)):
        sij = 0.5 * (di + dj) * (1 - 0.2 * abs(di - dj))
        r = np.linspace(0.7 * sij, 1.3 * sij, 401)
        x = r / sij
        e0 = np.where(x < xc, eps * (x ** -12 + c0 + c2 * x ** 2 + c4 * x ** 4), 0)
        f0 = np.where(x < xc, eps * (12 * x ** -13 - 2 * c2 * x - 4 * c4 * x ** 3) / sij, 0)
        e, f = pot.energy_force(r, 0, 0, di, dj)
        assert close(e, e0, 1e-13) and close(f, f0, 1e-13)
        e1, f1 = pd.pair_energy_force(r, di, dj)
        assert close(e1, e0, 1e-13) and close(f1, f0, 1e-13)


def test_smooth_polynomial_coefficients_make_v_v1_v2_vanish():
    for xc in (1.25, 1.5, 2.5):
        c0, c2, c4 = P.smooth_polynomial_coefficients(xc)
        assert abs(xc ** -12 + c0 + c2 * xc ** 2 + c4 * xc ** 4) < 1e-14
        assert abs(-12 * xc ** -13 + 2 * c2 * xc + 4 * c4 * xc ** 3) < 1e-13
        assert abs(156 * xc ** -14 + 2 * c2 + 12 * c4 * xc ** 2) < 1e-12
    assert P.smooth_polynomial_coefficients(1.25)[0] == pytest.approx(-28 / 1.25 ** 12, rel=1e-13)


def test_fene_kernel_matches_lammps_formula():
    bond = P.FENEBond()
    r = np.linspace(0.7, 1.49, 400)
    e, f = bond.energy_force(r)
    wca = r < 2 ** (1 / 6)
    e0 = -0.5 * 30 * 1.5 ** 2 * np.log(1 - (r / 1.5) ** 2) + np.where(wca, lj(r, 1, 1) + 1, 0)
    f0 = -30 * r / (1 - (r / 1.5) ** 2) + np.where(wca, lj_f(r, 1, 1), 0)
    assert close(e, e0, 1e-13) and close(f, f0, 1e-13)
    # the WCA part joins continuously (V and F) at 2^(1/6)
    rm = 2 ** (1 / 6)
    r2 = np.array([rm * (1 - 1e-9), rm * (1 + 1e-9)])
    e2, f2 = bond.energy_force(r2)
    wca_e = e2 - (-0.5 * 30 * 1.5 ** 2 * np.log(1 - (r2 / 1.5) ** 2))  # the WCA share on both sides
    wca_f = f2 - (-30 * r2 / (1 - (r2 / 1.5) ** 2))
    assert np.abs(wca_e).max() < 1e-12 and np.abs(wca_f).max() < 1e-7
    e3, f3 = bond.energy_force(np.array([1.5, 1.6]))
    assert np.isinf(e3).all() and np.isnan(f3).all()
    with pytest.raises(ValueError, match="r0"):
        P.FENEBond(r0=-1)


KINDS = {
    "lj-force-shifted": lambda: (KobAndersen3D().potential(), 0, 1, 1.0, 1.0),
    "lj-shifted": lambda: (KobAndersen3D(cutoff_style="truncated-shifted").potential(), 0, 0, 1.0, 1.0),
    "lj-truncated": lambda: (KobAndersen3D(cutoff_style="truncated").potential(), 1, 1, 1.0, 1.0),
    "lj-smooth": lambda: (Wahnstrom().potential(), 0, 1, 1.0, 1.0),
    "lj-poly": lambda: (JBB().potential(), 0, 2, 1.0, 1.0),
    "soft-poly": lambda: (Polydisperse().potential(), 0, 0, 0.8, 1.5),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_force_is_minus_energy_derivative(kind):
    pot, a, b, di, dj = KINDS[kind]()
    rc = (pot.table[0, 0, 2] * 0.5 * (di + dj) * (1 - 0.2 * abs(di - dj)) if pot.kind == P.SOFT_POLY
          else pot.table[a, b, P.RC])
    r = np.linspace(0.8 * rc / 2.5 if pot.kind != P.SOFT_POLY else 0.85 * rc / 1.25, rc * 0.999, 157)
    if pot.kind == P.LJ_SMOOTH:  # keep the stencil off the joint at r_in
        r = r[np.abs(r - pot.table[a, b, P.RIN]) > 1e-4]
    h = 1e-6
    e_p = pot.energy_force(r + h, a, b, di, dj)[0]
    e_m = pot.energy_force(r - h, a, b, di, dj)[0]
    f = pot.energy_force(r, a, b, di, dj)[1]
    fd = -(e_p - e_m) / (2 * h)
    assert np.max(np.abs(fd - f) / np.maximum(np.abs(f), 1.0)) < 1e-6


def test_fene_force_is_minus_energy_derivative():
    bond = P.FENEBond()
    r = np.linspace(0.75, 1.4, 131)
    r = r[np.abs(r - 2 ** (1 / 6)) > 1e-4]
    h = 1e-6
    fd = -(bond.energy_force(r + h)[0] - bond.energy_force(r - h)[0]) / (2 * h)
    f = bond.energy_force(r)[1]
    assert np.max(np.abs(fd - f) / np.maximum(np.abs(f), 1.0)) < 1e-6


# ---------------------------------------------------------------------------------------------- frames
def test_energy_forces_matches_bruteforce_pairs_triclinic():
    """energy_forces (cell list, all images) = a brute-force sum over images in a small triclinic box."""
    ka = KobAndersen3D(cutoff_style="lj/smooth")
    rng = np.random.default_rng(5)
    cell = np.array([[4.6, 0, 0], [1.1, 4.4, 0], [-0.8, 0.9, 4.8]])
    frac = (np.indices((4, 4, 4)).reshape(3, -1).T + 0.5) / 4 + rng.normal(scale=0.01, size=(64, 3))
    types = rng.integers(0, 2, 64)
    frame = Frame(positions=frac @ cell, types=types, cell=cell)
    ef = P.energy_forces(frame, ka.potential())
    x = frame.positions
    e_ref, f_ref, w_ref = 0.0, np.zeros_like(x), np.zeros((3, 3))
    shifts = np.indices((5, 5, 5)).reshape(3, -1).T - 2
    for i in range(64):
        for n in shifts:
            v = x + n @ cell - x[i]  # r_j − r_i for every j at image n
            r = np.linalg.norm(v, axis=1)
            ok = (r > 1e-12) & (r < 2.5)
            e, f = ka.pair_energy_force(r[ok], types[i], types[ok])
            e_ref += 0.5 * e.sum()
            f_ref[i] -= (f / r[ok]) @ v[ok]
            w_ref += 0.5 * np.einsum("p,pa,pb->ab", f / r[ok], v[ok], v[ok])
    assert ef.energy == pytest.approx(e_ref, rel=1e-12)
    assert close(ef.forces, f_ref, 1e-11) and close(ef.virial, w_ref, 1e-11)


def test_energy_forces_bonds_and_special_weights():
    """Bond terms add FENE; special_lj12 scales the non-bonded term of bonded pairs (0 excludes it)."""
    cell = np.eye(3) * 6.0
    x = np.array([[1.0, 1.0, 1.0], [1.95, 1.1, 1.0], [2.8, 1.5, 1.2], [5.9, 1.0, 1.0]])  # 3-0 across x
    frame = Frame(positions=x, types=np.zeros(4, dtype=int), cell=cell)
    pot = P.lj_potential([[1.0]], [[1.0]], [[2.25]], "shifted")
    bonds = np.array([[0, 1], [1, 2], [3, 0]])
    bond = P.FENEBond()
    full = P.energy_forces(frame, pot)
    for w in (0.0, 0.5, 1.0):
        ef = P.energy_forces(frame, pot, bonds=bonds, bond=bond, special_lj12=w)
        pair_bonded = 0.0
        fene = 0.0
        for i, j in bonds:
            v = x[j] - x[i]
            v -= 6.0 * np.round(v / 6.0)
            r = np.linalg.norm(v)
            pair_bonded += pot.energy_force(r, 0, 0)[0][0]
            fene += bond.energy_force(r)[0][0]
        assert ef.energy == pytest.approx(full.energy + fene + (w - 1) * pair_bonded, rel=1e-13)
        assert ef.bond_energy == pytest.approx(fene + (w - 1) * pair_bonded, rel=1e-13)
        assert np.allclose(ef.forces.sum(axis=0), 0, atol=1e-11)
    with pytest.raises(ValueError, match="duplicated"):
        P.energy_forces(frame, pot, bonds=np.array([[0, 1], [1, 0]]), bond=bond)
    with pytest.raises(ValueError, match="R0"):
        P.energy_forces(frame, pot, bonds=np.array([[0, 2]]), bond=bond)
    with pytest.raises(ValueError, match="without bond parameters"):
        P.energy_forces(frame, pot, bonds=bonds)


# ---------------------------------------------------------------------------------------------- LAMMPS
def _pair_write(tmp_path: Path, ntypes: int, dim: int, cmds: list[str],
                requests: list[tuple[int, int, int, float, float]]) -> dict[tuple[int, int], np.ndarray]:
    """Run LAMMPS ``pair_write`` for (i, j, n, r_lo, r_hi) (1-based types); returns {(i, j): (n, 3) r, E, F}."""
    from glassfix.engines.lammps.runner import import_lammps

    lmp = import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    out = tmp_path / "pair_write.txt"
    z = "0 12" if dim == 3 else "-0.5 0.5"
    try:
        lmp.commands_list(["units lj", f"dimension {dim}", "atom_style atomic", "boundary p p p",
                           f"region box block 0 12 0 12 {z}", f"create_box {ntypes} box"] + cmds)
        for i, j, n, lo, hi in requests:
            lmp.command(f"pair_write {i} {j} {n} r {float(lo)!r} {float(hi)!r} {out} P{i}_{j}")
    finally:
        lmp.close()
    lines = out.read_text().splitlines()
    res = {}
    for i, j, n, _, _ in requests:
        k = lines.index(f"P{i}_{j}")
        rows = [ln.split() for ln in lines[k + 2:k + 2 + n + 1] if ln.strip()]
        res[(i, j)] = np.array(rows[:n], dtype=np.float64)[:, 1:4]
    return res


@pytest.mark.parametrize("system", [
    KobAndersen3D(cutoff_style="lj/smooth"),
    KobAndersen3D(cutoff_style="lj/smooth", cutoff_units="absolute"),
    KobAndersen3D(cutoff_style="lj/smooth", inner_factor=2.0, rc_factor=2.6),
    KobAndersen3D(),
    KobAndersen3D(cutoff_style="truncated-shifted"),
    Wahnstrom(),
], ids=["ka-smooth", "ka-smooth-abs", "ka-smooth-2.0-2.6", "ka-smooth-linear", "ka-shifted", "wahnstrom"])
def test_lammps_pair_functions_equal_kernels(tmp_path, system):
    """LAMMPS' own pair functions (lj/smooth, lj/smooth/linear, lj/cut + shift) = our kernels (≤ 1e-12).

    This is the check of our reading of LAMMPS' lj/smooth formula (offset, cubic force, coefficients).
    """
    pot = system.potential()
    reqs = [(a + 1, b + 1, 600, 0.75 * system.sigma[a][b], 1.05 * system.cutoff_matrix()[a, b])
            for a, b in ((0, 0), (0, 1), (1, 1))]
    got = _pair_write(tmp_path, 2, 3, system.lammps_commands(), reqs)
    for (i, j), rows in got.items():
        e, f = pot.energy_force(rows[:, 0], i - 1, j - 1)
        # pair_write prints 15 significant digits
        assert close(rows[:, 1], e, 1e-12) and close(rows[:, 2], f, 1e-12), (i, j)
        assert np.any(rows[:, 0] >= system.cutoff_matrix()[i - 1, j - 1])  # grid crosses r_c


@pytest.mark.parametrize("table_style,points", [("spline", 5000), ("linear", 2000)])
def test_lammps_jbb_table_matches_lookup_model_and_error_bound(tmp_path, table_style, points):
    """LAMMPS' table lookup = our model of it (JBB.table_lookup), and its error ≤ JBB.table_error."""
    jbb = JBB(table_style=table_style, table_points=points)
    pairs = [(a, b) for a in range(3) for b in range(a, 3)]
    reqs = [(a + 1, b + 1, 500, 0.8 * jbb.sigma[a][b], 2.5 * jbb.sigma[a][b] * (1 - 1e-9)) for a, b in pairs]
    got = _pair_write(tmp_path, 3, 2, jbb.lammps_commands(table_dir=tmp_path), reqs)
    bound = jbb.table_error(r_min_factor=0.8)
    for (i, j), rows in got.items():
        r = rows[:, 0]
        e_model, f_model = jbb.table_lookup(r, i - 1, j - 1)
        assert close(rows[:, 1], e_model, 1e-11) and close(rows[:, 2], f_model, 1e-11), (i, j)
        e, f = jbb.pair_energy_force(r, i - 1, j - 1)
        assert np.abs(rows[:, 1] - e).max() <= bound["energy_abs"] * 1.05 + 1e-13
        assert np.abs(rows[:, 2] - f).max() <= bound["force_abs"] * 1.05 + 1e-12
    if table_style == "spline":  # the documented accuracy of the default tables
        assert bound["energy_abs"] < 1e-8 and bound["force_abs"] < 3e-7


def test_lammps_jbb_lepton_is_exact(tmp_path):
    jbb = JBB(lammps_style="lepton")
    reqs = [(1, 3, 40, 0.8, 2.3), (2, 2, 40, 0.7, 2.2)]  # lepton's single() re-parses: keep n small
    got = _pair_write(tmp_path, 3, 2, jbb.lammps_commands(), reqs)
    for (i, j), rows in got.items():
        e, f = jbb.pair_energy_force(rows[:, 0], i - 1, j - 1)
        assert close(rows[:, 1], e, 1e-12) and close(rows[:, 2], f, 1e-12)
