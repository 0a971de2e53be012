"""Analytic bounds and estimates (mslearn.homogenization.bounds) against known identities."""
import numpy as np
import pytest

from mslearn.homogenization import bounds
from mslearn.homogenization.tensors import isotropic_stiffness

PHI = np.linspace(0.0, 1.0, 11)


@pytest.mark.parametrize("d", [2, 3])
def test_hs_conductivity_limits_and_order(d):
    lo, hi = bounds.hashin_shtrikman_conductivity(PHI, 2.0, 7.0, ndim=d)
    np.testing.assert_allclose([lo[0], hi[0]], 2.0, rtol=1e-14)
    np.testing.assert_allclose([lo[-1], hi[-1]], 7.0, rtol=1e-14)
    fractions = np.stack([1 - PHI, PHI], -1)
    voigt, reuss = bounds.voigt(fractions, [2.0, 7.0]), bounds.reuss(fractions, [2.0, 7.0])
    assert np.all(voigt >= hi - 1e-12) and np.all(hi >= lo - 1e-12) and np.all(lo >= reuss - 1e-12)


def test_hs_2d_known_formula():
    # 2D HS (Hashin 1970; Torquato 2002 eq. 21.22 with d = 2): k1 + phi/(1/(k2-k1) + (1-phi)/(2 k1))
    phi, k1, k2 = 0.3, 1.0, 5.0
    lo, hi = bounds.hashin_shtrikman_conductivity(phi, k1, k2, ndim=2)
    np.testing.assert_allclose(lo, k1 + phi / (1 / (k2 - k1) + (1 - phi) / (2 * k1)), rtol=1e-14)
    np.testing.assert_allclose(hi, k2 + (1 - phi) / (1 / (k1 - k2) + phi / (2 * k2)), rtol=1e-14)


def test_maxwell_garnett_is_hs_lower_and_hamilton_crosser():
    lo, hi = bounds.hashin_shtrikman_conductivity(PHI, 1.0, 9.0, ndim=3)
    mg = bounds.maxwell_garnett(PHI, 1.0, 9.0, ndim=3)
    np.testing.assert_allclose(mg, lo, rtol=1e-13)
    np.testing.assert_allclose(mg, bounds.hamilton_crosser(PHI, 1.0, 9.0, n=3), rtol=1e-13)
    np.testing.assert_allclose(bounds.maxwell_garnett(PHI, 9.0, 1.0), hi[::-1], rtol=1e-13)


@pytest.mark.parametrize("d", [2, 3])
def test_coated_maxwell_garnett_identities(d):
    phi = np.linspace(0.05, 0.4, 8)
    mg = bounds.maxwell_garnett(phi, 1.0, 9.0, ndim=d)
    # no coating, or a coating of the particle's own conductivity: plain Maxwell Garnett
    np.testing.assert_allclose(bounds.coated_maxwell_garnett(phi, 0.0, 9.0, 0.1, ndim=d), mg, rtol=1e-13)
    np.testing.assert_allclose(bounds.coated_maxwell_garnett(phi - 0.02, 0.02, 9.0, 9.0, ndim=d), mg, rtol=1e-13)
    # a coating of the matrix conductivity only dilutes the particles
    np.testing.assert_allclose(bounds.coated_maxwell_garnett(phi - 0.02, 0.02, 9.0, 1.0, ndim=d),
                               bounds.maxwell_garnett(phi - 0.02, 1.0, 9.0, ndim=d), rtol=1e-13)
    # Hashin's neutral inclusion: a core and coating tuned to the matrix leave the matrix field undisturbed
    k_core, c = 5.0, 0.5
    k_coat = np.exp(np.linspace(-3, 0, 200))
    k_equivalent = bounds.maxwell_garnett(c, k_coat, k_core, ndim=d)
    neutral = k_coat[np.argmin(np.abs(k_equivalent - 1.0))]
    assert bounds.coated_maxwell_garnett(0.15, 0.15, k_core, neutral, ndim=d) == pytest.approx(1.0, abs=0.02)
    with pytest.raises(ValueError, match="interphase_fraction"):
        bounds.coated_maxwell_garnett(0.7, 0.5, 9.0, 1.0)


def test_moduli_bounds():
    K1, G1, K2, G2 = 2.0, 1.0, 30.0, 20.0
    for d in (2, 3):
        (Klo, Khi), (Glo, Ghi) = (bounds.hashin_shtrikman_bulk(PHI, K1, G1, K2, G2, ndim=d),
                                  bounds.hashin_shtrikman_shear(PHI, K1, G1, K2, G2, ndim=d))
        np.testing.assert_allclose([Klo[0], Khi[0], Glo[-1], Ghi[-1]], [K1, K1, G2, G2], rtol=1e-13)
        fr = np.stack([1 - PHI, PHI], -1)
        assert np.all(bounds.voigt(fr, [K1, K2]) >= Khi - 1e-12) and np.all(Khi >= Klo - 1e-12)
        assert np.all(Klo >= bounds.reuss(fr, [K1, K2]) - 1e-12)
        assert np.all(bounds.voigt(fr, [G1, G2]) >= Ghi - 1e-12) and np.all(Ghi >= Glo - 1e-12)
        assert np.all(Glo >= bounds.reuss(fr, [G1, G2]) - 1e-12)
    # 3D lower bulk bound = Hashin's composite-sphere value K1 + phi/(1/(K2-K1) + 3(1-phi)/(3K1+4G1))
    phi = 0.4
    np.testing.assert_allclose(bounds.hashin_shtrikman_bulk(phi, K1, G1, K2, G2)[0],
                               K1 + phi / (1 / (K2 - K1) + 3 * (1 - phi) / (3 * K1 + 4 * G1)), rtol=1e-14)
    # dilute Eshelby equals the HS lower bounds to first order in phi
    K, G = bounds.dilute_eshelby_spheres(1e-6, K1, G1, K2, G2)
    np.testing.assert_allclose([K, G], [bounds.hashin_shtrikman_bulk(1e-6, K1, G1, K2, G2)[0],
                                        bounds.hashin_shtrikman_shear(1e-6, K1, G1, K2, G2)[0]], rtol=1e-10)


def test_hs_moduli_bounds_equal_hashins_closed_forms():
    """The Hashin–Shtrikman bounds written out in Hashin's form for well-ordered phases (K2 > K1,
    G2 > G1), independent of the Walpole form the module uses: 3D shear, Hashin & Shtrikman (1963),
    J. Mech. Phys. Solids 11, 127, G_L = G1 + phi / (1/(G2 - G1) + 6(1 - phi)(K1 + 2G1) / (5G1(3K1 + 4G1)));
    2D (plane strain, kappa the area bulk modulus), Hashin (1965), J. Mech. Phys. Solids 13, 119:
    kappa_L = kappa1 + phi / (1/(kappa2 - kappa1) + (1 - phi)/(kappa1 + G1)),
    G_L = G1 + phi / (1/(G2 - G1) + (1 - phi)(kappa1 + 2G1) / (2G1(kappa1 + G1))), the upper bounds with
    the phases swapped (Torquato 2002, eqs. 21.37-21.41). Tolerance 1e-12 relative (round-off), and the
    values at phi = 0.3, (K1, G1, K2, G2) = (2, 1, 30, 20) to their six printed digits (5e-6 relative)."""
    K1, G1, K2, G2 = 2.0, 1.0, 30.0, 20.0
    phi = np.array([0.1, 0.3, 0.6])
    kappa_lo = K1 + phi / (1 / (K2 - K1) + (1 - phi) / (K1 + G1))
    kappa_hi = K2 + (1 - phi) / (1 / (K1 - K2) + phi / (K2 + G2))
    G_lo = G1 + phi / (1 / (G2 - G1) + (1 - phi) * (K1 + 2 * G1) / (2 * G1 * (K1 + G1)))
    G_hi = G2 + (1 - phi) / (1 / (G1 - G2) + phi * (K2 + 2 * G2) / (2 * G2 * (K2 + G2)))
    got = (bounds.hashin_shtrikman_bulk(phi, K1, G1, K2, G2, ndim=2)
           + bounds.hashin_shtrikman_shear(phi, K1, G1, K2, G2, ndim=2))      # (kappa_L, kappa_U, G_L, G_U)
    np.testing.assert_allclose(got, [kappa_lo, kappa_hi, G_lo, G_hi], rtol=1e-12)
    np.testing.assert_allclose(np.array(got)[:, 1], [3.11504, 6.44231, 1.57770, 3.38538], rtol=5e-6)
    G_lo = G1 + phi / (1 / (G2 - G1) + 6 * (1 - phi) * (K1 + 2 * G1) / (5 * G1 * (3 * K1 + 4 * G1)))
    G_hi = G2 + (1 - phi) / (1 / (G1 - G2) + 6 * phi * (K2 + 2 * G2) / (5 * G2 * (3 * K2 + 4 * G2)))
    K_hi = K2 + (1 - phi) / (1 / (K1 - K2) + 3 * phi / (3 * K2 + 4 * G2))
    got = bounds.hashin_shtrikman_shear(phi, K1, G1, K2, G2)
    np.testing.assert_allclose(got, [G_lo, G_hi], rtol=1e-12)
    np.testing.assert_allclose(np.array(got)[:, 1], [1.77194, 4.52006], rtol=5e-6)
    np.testing.assert_allclose(bounds.hashin_shtrikman_bulk(phi, K1, G1, K2, G2)[1], K_hi, rtol=1e-12)


def test_keller_dykhne_and_reuss_with_pores():
    assert bounds.keller_dykhne(4.0, 9.0) == 6.0
    assert bounds.reuss([0.5, 0.5], [1.0, 0.0]) == 0.0
    lo, hi = bounds.hashin_shtrikman_conductivity(0.2, 1.0, 0.0, ndim=3)
    assert lo == 0.0 and np.isclose(hi, 1.0 * 2 * 0.8 / (2 + 0.2))  # 2D/3D porous HS upper: 2(1-phi)/(2+phi)


def test_laminate_conductivity_hand_values():
    k = bounds.laminate_conductivity([0.25, 0.75], [1.0, 3.0], axis=1, ndim=3)
    np.testing.assert_allclose(k, np.diag([2.5, 1 / (0.25 + 0.25), 2.5]), rtol=1e-14)
    K1, K2 = np.array([[2.0, 1.0], [1.0, 3.0]]), np.eye(2)
    k = bounds.laminate_conductivity([0.5, 0.5], [K1, K2], axis=0, ndim=2)
    # normal flux continuous: k*_00 = <1/k00>^-1 = 4/3; k*_01 = k*_00 <k01/k00> = 4/3 * 1/4 = 1/3;
    # k*_11 = <k11 - k10 k01/k00> + <k10/k00> k*_00 <k01/k00> = (2.5 + 1)/2 + 1/4 * 4/3 * 1/4 = 1.75 + 1/12
    np.testing.assert_allclose(k, [[4 / 3, 1 / 3], [1 / 3, 1.75 + 1 / 12]], rtol=1e-14)


def test_laminate_stiffness_hand_values():
    E1, nu1, E2, nu2 = 1.0, 0.25, 4.0, 0.25
    C = bounds.laminate_stiffness([0.5, 0.5], [(E1, nu1), (E2, nu2)], axis=0, ndim=3)
    M = lambda E, nu: E * (1 - nu) / ((1 + nu) * (1 - 2 * nu))  # noqa: E731  P-wave modulus
    Mstar = 1 / (0.5 / M(E1, nu1) + 0.5 / M(E2, nu2))
    np.testing.assert_allclose(C[0, 0], Mstar, rtol=1e-13)  # Backus: <1/(lambda+2mu)>^-1
    G = lambda E, nu: E / (2 * (1 + nu))  # noqa: E731
    np.testing.assert_allclose(C[5, 5], 2 / (0.5 / G(E1, nu1) + 0.5 / G(E2, nu2)), rtol=1e-13)
    np.testing.assert_allclose(C[3, 3], 2 * (0.5 * G(E1, nu1) + 0.5 * G(E2, nu2)), rtol=1e-13)
    # equal layers give the phase back; 2D is the in-plane block of 3D
    C0 = isotropic_stiffness(E=2.0, nu=0.3)
    np.testing.assert_allclose(bounds.laminate_stiffness([0.3, 0.7], [C0, C0]), C0, rtol=1e-13)
    C2 = bounds.laminate_stiffness([0.5, 0.5], [(E1, nu1), (E2, nu2)], axis=0, ndim=2)
    np.testing.assert_allclose(C2, C[np.ix_([0, 1, 5], [0, 1, 5])], rtol=1e-13)


def test_bad_input():
    with pytest.raises(ValueError, match="phi"):
        bounds.hashin_shtrikman_conductivity(1.5, 1.0, 2.0)
    with pytest.raises(ValueError, match="k1"):
        bounds.hashin_shtrikman_conductivity(0.5, -1.0, 2.0)
    with pytest.raises(ValueError, match="sum"):
        bounds.voigt([0.5, 0.6], [1.0, 2.0])


def test_bounds_reject_negative_properties_and_a_bad_axis():
    # a negative value was read as a pore by Reuss (0.0)
    for bound in (bounds.reuss, bounds.voigt):
        with pytest.raises(ValueError, match="expected >= 0"):
            bound([0.5, 0.5], [-1.0, 2.0])
    with pytest.raises(ValueError, match="axis=5; expected the layer normal's axis 0 .. 2"):
        bounds.laminate_conductivity([0.5, 0.5], [1.0, 2.0], axis=5)
    with pytest.raises(ValueError, match="ndim=4"):
        bounds.laminate_conductivity([0.5, 0.5], [1.0, 2.0], ndim=4)
    with pytest.raises(ValueError, match="singular matrix"):
        bounds.reuss([0.5, 0.5], [np.eye(2), np.zeros((2, 2))])


@pytest.mark.parametrize("call", [
    lambda ndim: bounds.maxwell_garnett(0.3, 1.0, 10.0, ndim=ndim),
    lambda ndim: bounds.coated_maxwell_garnett(0.2, 0.1, 10.0, 0.1, ndim=ndim),
    lambda ndim: bounds.hashin_shtrikman_conductivity(0.3, 1.0, 10.0, ndim=ndim),
])
@pytest.mark.parametrize("ndim", [0, 1, 4, 7, np.nan])
def test_mean_field_formulas_refuse_a_dimension_other_than_2_or_3(call, ndim):
    # maxwell_garnett gave 2.05 for ndim=4, 1.0 for ndim=0 and nan for nan
    with pytest.raises(ValueError, match=rf"ndim={ndim!r}; expected 2 or 3"):
        call(ndim)


def test_a_void_layer_is_the_limit_of_a_vanishing_one():
    """A layer that carries nothing across (zero normal block and coupling: a void, or a layer conducting
    only in its plane) is the limit of the laminate formula as its stiffness or conductivity goes to 0:
    nothing crosses, the layers carry the tangential load side by side. Compared with a layer of 1e-9 (the
    formula's own answer): to 1e-8 relative."""
    ratio = 1e-9
    for ndim in (2, 3):
        for axis in range(ndim):
            exact = bounds.laminate_conductivity([0.3, 0.7], [0.0, 3.0], axis=axis, ndim=ndim)
            near = bounds.laminate_conductivity([0.3, 0.7], [3.0 * ratio, 3.0], axis=axis, ndim=ndim)
            np.testing.assert_allclose(exact, near, atol=1e-8 * 3.0)
            assert exact[axis, axis] == 0 and exact.trace() == pytest.approx(0.7 * 3.0 * (ndim - 1))
            exact = bounds.laminate_stiffness([0.4, 0.6], [(0.0, 0.3), (10.0, 0.25)], axis=axis, ndim=ndim)
            near = bounds.laminate_stiffness([0.4, 0.6], [(10.0 * ratio, 0.3), (10.0, 0.25)], axis=axis, ndim=ndim)
            np.testing.assert_allclose(exact, near, atol=1e-8 * 10.0)
    # fractions broadcast: a row without the void layer is the other layer's tensor, one of void alone is 0
    rows = bounds.laminate_conductivity([[0.3, 0.7], [0.0, 1.0], [1.0, 0.0]], [0.0, 3.0], ndim=2)
    np.testing.assert_allclose(rows, [np.diag([0.0, 2.1]), 3.0 * np.eye(2), np.zeros((2, 2))], atol=1e-15)
    # an in-plane conductor across the normal: the tangential mean includes it
    K = bounds.laminate_conductivity([0.5, 0.5], [np.eye(3), np.diag([0.0, 1.0, 1.0])], axis=0)
    np.testing.assert_allclose(K, np.diag([0.0, 1.0, 1.0]), atol=1e-15)
    # beside an anisotropic layer whose normal and tangential components couple (its principal axes rotated
    # by 30 degrees), where the coupling term of the tangential mean matters; and every layer blocking
    c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
    R = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    tilted = R @ np.diag([5.0, 1.0, 2.0]) @ R.T
    exact = bounds.laminate_conductivity([0.3, 0.7], [np.zeros((3, 3)), tilted], axis=0)
    near = bounds.laminate_conductivity([0.3, 0.7], [1e-9 * np.eye(3), tilted], axis=0)
    np.testing.assert_allclose(exact, near, atol=1e-8)
    assert exact[1, 1] == pytest.approx(0.7 * (tilted[1, 1] - tilted[1, 0] ** 2 / tilted[0, 0]))
    both = bounds.laminate_conductivity([0.4, 0.6], [np.zeros((3, 3)), np.diag([0.0, 1.0, 3.0])], axis=0)
    np.testing.assert_allclose(both, np.diag([0.0, 0.6, 1.8]), atol=1e-15)


def test_a_layer_singular_across_it_only_in_part_is_the_limit_of_a_vanishing_one():
    """A layer whose normal block is singular but not zero (a fluid: no shear stiffness; an anisotropic layer
    with a soft direction across it) is the limit of the laminate formula as it stiffens there from zero: no
    flux crosses it along its kernel, the normal gradient is free there. A fluid layer (K = 2, G = 0) beside
    a solid (E = 10, nu = 0.25: lambda = mu = 4): hand values, and a layer of G = 2e-9 to 1e-8 relative;
    random semi-definite layers with a kernel inside the normal block against the same layers + 1e-9 I, to
    1e-6 relative (measured 3e-9 to 1.2e-7), one layer or two with different kernels."""
    fluid, solid = {"K": 2.0, "G": 0.0}, (10.0, 0.25)
    for ndim in (2, 3):
        for axis in range(ndim):
            exact = bounds.laminate_stiffness([0.4, 0.6], [fluid, solid], axis=axis, ndim=ndim)
            near = bounds.laminate_stiffness([0.4, 0.6], [{"K": 2.0, "G": 2e-9}, solid], axis=axis, ndim=ndim)
            np.testing.assert_allclose(exact, near, atol=1e-8 * 12.0)
    C = bounds.laminate_stiffness([0.4, 0.6], [fluid, solid], axis=0, ndim=3)
    assert C[0, 0] == pytest.approx(1 / (0.4 / 2.0 + 0.6 / 12.0))     # series mean of lambda + 2 mu (fluid: K)
    np.testing.assert_allclose(C[4:, :], 0.0, atol=1e-15)              # no shear across the layers (13, 12)
    assert C[3, 3] == pytest.approx(0.6 * 2 * 4.0)                     # in-plane shear: the solid's share of 2 mu
    rng = np.random.default_rng(0)
    across = [0, 4, 5]                                                   # Mandel 11, 13, 12: normal along axis 0

    def with_kernel(matrix):
        v = np.zeros(6)
        v[across] = rng.normal(size=3)
        P = np.eye(6) - np.outer(v, v) / (v @ v)
        return P @ matrix @ P

    for _ in range(3):
        A, B = rng.normal(size=(2, 6, 6))
        soft, stiff = with_kernel(A @ A.T), B @ B.T
        for layers in ([soft, stiff], [soft, with_kernel(stiff)]):
            exact = bounds.laminate_stiffness([0.3, 0.7], layers, axis=0)
            near = bounds.laminate_stiffness([0.3, 0.7], [M + 1e-9 * np.eye(6) for M in layers], axis=0)
            np.testing.assert_allclose(exact, near, atol=1e-6 * np.abs(exact).max())
            # the normal flux lies where no layer's kernel reaches: the rank of C*_NN drops by one per kernel
            rank = np.linalg.matrix_rank(exact[np.ix_(across, across)], tol=1e-9 * np.abs(exact).max())
            assert rank == 3 - (len(layers) - sum(np.linalg.matrix_rank(M[np.ix_(across, across)]) == 3
                                                  for M in layers))
    # two kernels 1e-5 rad apart are two directions: nothing crosses along either (a test at 1e-9 relative; the
    # layers + 1e-11 I give 0.42 there, + 1e-13 I 0.0047: the limit is 0), while one shared kernel blocks one
    v = np.zeros(6)
    v[across] = [1.0, 0.0, 0.0]
    w = np.zeros(6)
    w[across] = [np.cos(1e-5), np.sin(1e-5), 0.0]
    blocked = [(np.eye(6) - np.outer(u, u)) @ (B @ B.T) @ (np.eye(6) - np.outer(u, u)) for u in (v, w)]
    C = bounds.laminate_stiffness([0.3, 0.7], blocked, axis=0)
    gap = np.array([0.0, 1.0, 0.0])                  # in the normal block, the direction the kernels span beside v
    assert abs(C[np.ix_(across, across)] @ gap @ gap) < 1e-9 * np.abs(C).max()
    assert np.linalg.matrix_rank(C[np.ix_(across, across)], tol=1e-9 * np.abs(C).max()) == 1
    shared = bounds.laminate_stiffness([0.3, 0.7], [blocked[0], (np.eye(6) - np.outer(v, v)) @ (A @ A.T)
                                                    @ (np.eye(6) - np.outer(v, v))], axis=0)
    assert np.linalg.matrix_rank(shared[np.ix_(across, across)], tol=1e-9 * np.abs(shared).max()) == 2
    # zero shear stiffness only (plane strain, Mandel 11, 22, 12): across the layers no shear, tension as before
    C = bounds.laminate_stiffness([0.5, 0.5], [(1.0, 0.25), np.diag([1.0, 1.0, 0.0])], ndim=2)
    near = bounds.laminate_stiffness([0.5, 0.5], [(1.0, 0.25), np.diag([1.0, 1.0, 1e-9])], ndim=2)
    np.testing.assert_allclose(C, near, atol=1e-8)
    assert C[2, 2] == 0


def test_laminate_conductivity_takes_a_layer_insulating_only_in_the_plane():
    # a zero tangential conductivity is not singular across the layers: the parallel mean halves
    K = bounds.laminate_conductivity([0.5, 0.5], [np.eye(3), np.diag([1.0, 1.0, 0.0])], axis=0)
    np.testing.assert_allclose(K, np.diag([1.0, 1.0, 0.5]))


def test_laminate_stiffness_names_matrices_of_the_wrong_size():
    with pytest.raises(ValueError, match=r"stiffnesses are \(3, 3\) matrices; expected \(6, 6\)"):
        bounds.laminate_stiffness([0.5, 0.5], [np.eye(3)] * 2, ndim=3)          # was an IndexError


def test_absent_phases_and_argument_names_in_the_bounds_checks():
    """The Reuss bound of matrices refused a singular matrix of a phase of fraction 0 (the scalar bound drops such
    phases); a negative interphase fraction was reported as 'phi = 2.0 is outside [0, 1]' (a fraction of the
    inner Maxwell Garnett call), a negative conductivity under that call's names, and the dilute Eshelby
    moduli as K1, G1 (the Hashin-Shtrikman names) for K_m, G_m."""
    np.testing.assert_allclose(bounds.reuss([1.0, 0.0], [np.eye(2), np.zeros((2, 2))]), np.eye(2))
    np.testing.assert_allclose(bounds.reuss([[1.0, 0.0], [0.5, 0.5]], [np.eye(2), 3 * np.eye(2)])[1], 1.5 * np.eye(2))
    with pytest.raises(ValueError, match="values has a singular matrix of a phase present"):
        bounds.reuss([0.5, 0.5], [np.eye(2), np.zeros((2, 2))])
    with pytest.raises(ValueError, match=r"interphase_fraction = -0.1 is outside \[0.0, 1.0\]"):
        bounds.coated_maxwell_garnett(0.2, -0.1, 2.0, 3.0)
    with pytest.raises(ValueError, match="k_interphase has the value -3.0"):
        bounds.coated_maxwell_garnett(0.2, 0.1, 2.0, -3.0)
    with pytest.raises(ValueError, match="G_matrix has the value -1.0"):     # G_m before its rename
        bounds.dilute_eshelby_spheres(0.1, 1.0, -1.0, 2.0, 2.0)


@pytest.mark.parametrize("function, args, old, new", [
    (bounds.maxwell_garnett, (0.2,), {"k_m": 1.0, "k_p": 10.0}, {"k_matrix": 1.0, "k_particle": 10.0}),
    (bounds.dilute_eshelby_spheres, (0.01,), {"K_m": 10.0, "G_m": 5.0, "K_p": 50.0, "G_p": 30.0},
     {"K_matrix": 10.0, "G_matrix": 5.0, "K_particle": 50.0, "G_particle": 30.0}),
])
def test_matrix_and_particle_arguments_have_one_spelling(function, args, old, new):
    """maxwell_garnett took k_m, k_p and dilute_eshelby_spheres K_m, G_m, K_p, G_p where hamilton_crosser and
    coated_maxwell_garnett say k_matrix, k_particle. The names are k_matrix, k_particle and K_matrix, G_matrix,
    K_particle, G_particle now; the old keywords still work with a FutureWarning naming the new one, both
    spellings at once are refused, and positional calls are unchanged."""
    import inspect
    import warnings

    assert list(inspect.signature(function).parameters)[1:len(new) + 1] == list(new)
    expected = function(*args, *new.values())
    with warnings.catch_warnings():
        warnings.simplefilter("error")                       # the new names and positions warn of nothing
        np.testing.assert_array_equal(function(*args, **new), expected)
    for (name, value), renamed in zip(old.items(), new):
        others = {key: given for key, given in new.items() if key != renamed}
        with pytest.warns(FutureWarning, match=rf"{function.__name__}\({name}=...\) is deprecated .* pass {renamed}="):
            np.testing.assert_array_equal(function(*args, **others, **{name: value}), expected)
        with pytest.warns(FutureWarning), pytest.raises(ValueError, match=rf"{name}=.* and {renamed}=.* both give "
                                                                          rf"{renamed}; pass {renamed} alone"):
            function(*args, **new, **{name: value})
    with pytest.warns(FutureWarning):                       # the new name given by position, the old by keyword
        with pytest.raises(ValueError, match="both give"):
            function(*args, *new.values(), **{next(iter(old)): 1.0})
