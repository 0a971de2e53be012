"""Hyperelastic energy models (issue #17): the polyconvex energy network, Neo-Hooke, Mooney-Rivlin and
the unconstrained stress MLP on Treloar's rubber data.

Measured with the defaults and random_state=0 (R² uniaxial / equibiaxial / pure shear):

* trained on all three modes: network 0.9982 / 0.9931 / 0.9975 (8 seeds: >= 0.9982 / 0.9915 / 0.9973);
  Neo-Hooke 0.848 / 0.935 / 0.824 (C10 = 0.2141 MPa, the reference fit of the dataset card);
  Mooney-Rivlin 0.839 / 0.987 / 0.862; stress MLP 0.9999 / 0.9995 / 0.9999.
* trained on uniaxial tension only: network 0.9992 / 0.898 / 0.9885 (8 seeds: 0.878-0.898 /
  0.988-0.989); stress MLP 0.9993 / 0.529 / 0.850 (8 seeds: -2.37 to 0.77 / 0.13 to 0.95); Neo-Hooke
  0.852 / 0.952 / 0.738; the network without the I2 penalty: equibiaxial R² -6600 to -9800.
"""
import pickle
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone

from mslearn.surrogates import (HyperelasticNetwork, MooneyRivlin, NeoHookean, NominalStressMLP, deformation_gradient,
                                load_treloar)
from mslearn.surrogates.hyperelastic import MODES

ROOT = Path(__file__).resolve().parent.parent


# -- data and fitted models shared by the tests ------------------------------------------------------
@pytest.fixture(scope="module")
def table():
    return load_treloar()


def _split(table, selection=None):
    rows = table if selection is None else table[table["mode"].isin(selection)]
    return rows["stretch"].to_numpy(), rows["nominal_stress_MPa"].to_numpy(), rows["mode"].to_numpy()


def _scores(model, table):
    return {mode: model.score(*_split(table, [mode])[:2], mode=mode) for mode in MODES}


@pytest.fixture(scope="module")
def fitted_all(table):
    start = time.perf_counter()
    model = HyperelasticNetwork(random_state=0, device="cpu").fit(*_split(table)[:2], mode=_split(table)[2])
    model.fit_seconds = time.perf_counter() - start
    return model


@pytest.fixture(scope="module")
def fitted_uniaxial(table):
    stretch, stress, _ = _split(table, ["uniaxial"])
    return HyperelasticNetwork(random_state=0, device="cpu").fit(stretch, stress, mode="uniaxial")


def _compressible_neo_hooke(F, mu=1.0, lam=3.0):
    """P of the compressible neo-Hooke energy mu/2 (I1 - 3) - mu ln J + lam/2 (ln J)^2, and W."""
    F = torch.as_tensor(F).requires_grad_(True)
    J = torch.linalg.det(F)
    W = mu / 2 * ((F * F).sum((-2, -1)) - 3) - mu * torch.log(J) + lam / 2 * torch.log(J) ** 2
    return torch.autograd.grad(W.sum(), F)[0].numpy(), W.detach().numpy()


@pytest.fixture(scope="module")
def compressible_problem():
    F = np.eye(3) + np.random.default_rng(0).uniform(-0.25, 0.25, (140, 3, 3))
    P, W = _compressible_neo_hooke(F)
    model = HyperelasticNetwork((8, 8), compressible=True, max_iter=300, random_state=0, device="cpu")
    return model.fit(F[:100], P[:100], mode="general"), F[100:], P[100:], W[100:]


def _random_F(n, seed, spread=0.4):
    """Random deformation gradients with det F > 0 (far from the identity, including compression)."""
    F = np.eye(3) + spread * np.random.default_rng(seed).standard_normal((4 * n, 3, 3))
    return F[np.linalg.det(F) > 0.2][:n]


def _random_rotations(n, seed):
    Q, R = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, 3, 3)))
    Q = Q * np.sign(np.diagonal(R, axis1=1, axis2=2))[:, None, :]
    Q[np.linalg.det(Q) < 0, :, 0] *= -1
    return Q


# -- data -----------------------------------------------------------------------------------------
def test_treloar_table(table):
    assert list(table.columns) == ["mode", "stretch", "nominal_stress_MPa"]
    assert table.groupby("mode").size().to_dict() == {mode: 14 for mode in MODES}
    first = table.groupby("mode").first()
    assert (first["stretch"] == 1).all() and (first["nominal_stress_MPa"] == 0).all()
    shared = ROOT.parent / "shared" / "data" / "treloar" / "treloar.csv"
    if shared.exists():
        assert shared.read_bytes() == (ROOT / "mslearn" / "data" / "treloar" / "treloar.csv").read_bytes()
    assert "Treloar" in (ROOT / "mslearn" / "data" / "treloar" / "README.md").read_text()


# -- the classic models --------------------------------------------------------------------------
def test_neo_hooke_reproduces_the_reference_fit(table):
    """Dataset card: joint NNLS gives C10 = 0.214 MPa and R² 0.848 / 0.935 / 0.824."""
    model = NeoHookean().fit(*_split(table)[:2], mode=_split(table)[2])
    assert model.c10_ == pytest.approx(0.214, abs=5e-4) and model.c01_ == 0
    scores = _scores(model, table)
    for mode, reference in zip(MODES, (0.848, 0.935, 0.824)):
        assert scores[mode] == pytest.approx(reference, abs=2e-3)


def test_mooney_rivlin_and_the_network_without_hidden_layers_agree(table):
    """hidden_layer_sizes=() makes the network a Mooney-Rivlin energy with non-negative constants."""
    stretch, stress, mode = _split(table)
    classic = MooneyRivlin().fit(stretch, stress, mode=mode)
    assert classic.c10_ == pytest.approx(0.2066, abs=1e-4) and classic.c01_ == pytest.approx(0.0025, abs=1e-4)
    network = HyperelasticNetwork((), second_invariant_penalty=0, alpha=0, random_state=0, device="cpu")
    network.fit(stretch, stress, mode=mode)
    np.testing.assert_allclose(network.predict(stretch, mode), classic.predict(stretch, mode), atol=1e-5)


# -- fitted results ------------------------------------------------------------------------------
def test_trained_on_all_modes_fits_every_mode(table, fitted_all):
    """Measured 0.9982 / 0.9931 / 0.9975 (references: networks about 0.999 / 0.983 / 0.996)."""
    scores = _scores(fitted_all, table)
    assert min(scores.values()) >= 0.99, scores
    assert fitted_all.fit_seconds < 30         # about 1-2 s on one CPU core
    assert 1 <= fitted_all.n_iter_ <= fitted_all.max_iter and np.isfinite(fitted_all.loss_)


def test_uniaxial_only_generalizes_better_than_the_unconstrained_mlp(table, fitted_uniaxial):
    """Network 0.898 / 0.9885 in equibiaxial tension / pure shear against the MLP's 0.529 / 0.850 (margins
    0.37 and 0.14; over 8 seeds the network's worst, 0.878 / 0.988, beats the MLP's best, 0.77 / 0.95)."""
    stretch, stress, _ = _split(table, ["uniaxial"])
    network = _scores(fitted_uniaxial, table)
    mlp = _scores(NominalStressMLP(random_state=0, device="cpu").fit(stretch, stress, mode="uniaxial"), table)
    assert network["uniaxial"] >= 0.999 and mlp["uniaxial"] >= 0.99
    assert network["equibiaxial"] >= 0.85 and network["pure_shear"] >= 0.98
    assert network["equibiaxial"] - mlp["equibiaxial"] >= 0.2, (network, mlp)
    assert network["pure_shear"] - mlp["pure_shear"] >= 0.08, (network, mlp)


def test_the_unconstrained_mlp_keeps_warm_start_through_clone_and_set_params():
    # NominalStressMLP inherited warm_start but did not list it: clone dropped it, set_params refused it
    from sklearn.base import clone
    model = NominalStressMLP(warm_start=True)
    assert clone(model).warm_start is True and model.get_params()["warm_start"] is True
    assert NominalStressMLP().set_params(warm_start=True).warm_start is True


def test_uniaxial_data_cannot_identify_the_second_invariant(table):
    """Without the I2 penalty the convex energy extrapolates W2 > 0 to I2 ~ 390: equibiaxial R² << 0."""
    stretch, stress, _ = _split(table, ["uniaxial"])
    model = HyperelasticNetwork(second_invariant_penalty=0, random_state=0, device="cpu").fit(stretch, stress)
    scores = _scores(model, table)
    assert scores["uniaxial"] >= 0.999 and scores["equibiaxial"] < 0


def test_compressible_network_learns_a_compressible_energy(compressible_problem):
    model, F, P, W = compressible_problem
    assert model.score(F, P, mode="general") >= 0.999
    np.testing.assert_allclose(model.energy(F), W, atol=0.01 * np.abs(W).max())


def test_adam_solver_reuses_the_shared_loop(table):
    stretch, stress, mode = _split(table)
    model = HyperelasticNetwork(solver="adam", max_iter=300, learning_rate_init=3e-2, random_state=0, device="cpu")
    model.fit(stretch, stress, mode=mode)
    assert model.n_iter_ == 300 and len(model.loss_curve_) == 300
    assert min(_scores(model, table).values()) >= 0.95


# -- physics: objectivity, reference state, polyconvexity, stresses -------------------------------
def test_objectivity(fitted_all, compressible_problem):
    F, Q = _random_F(50, 1), _random_rotations(50, 2)
    for model in (fitted_all, compressible_problem[0]):
        np.testing.assert_allclose(model.energy(Q @ F), model.energy(F), rtol=0, atol=1e-10)
        np.testing.assert_allclose(model.stress(Q @ F), Q @ model.stress(F), rtol=0, atol=1e-10)


def test_zero_energy_and_stress_in_the_reference_state(table, fitted_all, compressible_problem):
    stretch, stress, mode = _split(table)
    models = [fitted_all, compressible_problem[0], NeoHookean().fit(stretch, stress, mode=mode),
              MooneyRivlin().fit(stretch, stress, mode=mode)]
    for model in models:
        assert abs(float(model.energy(np.eye(3)))) <= 1e-10
        assert np.abs(model.stress(np.eye(3))).max() <= 1e-10
    np.testing.assert_allclose(fitted_all.predict(np.ones(3), list(MODES)), 0, atol=1e-12)


def _midpoint_gaps(network, n_convex, n_affine, seed):
    """(psi(mid) - (psi(u) + psi(v)) / 2) / max |psi| on random input pairs, beyond the training range
    (c in [0, 3], the training data span [0, 1])."""
    g = torch.Generator().manual_seed(seed)
    c = 3 * torch.rand(2, 2000, n_convex, generator=g, dtype=torch.float64)
    a = (2 * torch.rand(2, 2000, n_affine, generator=g, dtype=torch.float64) - 1) if n_affine else [None, None]
    with torch.no_grad():
        ends = torch.stack([network(c[0], a[0]), network(c[1], a[1])])
        mid = network(c.mean(0), a.mean(0) if n_affine else None)
    return (mid - ends.mean(0)) / ends.abs().max()


def test_polyconvexity_by_construction(table, fitted_all, compressible_problem):
    """Non-negative weights; the network convex (midpoint test) and non-decreasing in its convex inputs;
    the unconstrained ablation is not convex."""
    for model, n_convex, n_affine in ((fitted_all, 2, 0), (compressible_problem[0], 3, 1)):
        network = model.network_
        assert all(bool((w >= 0).all()) for w in network.nonnegative_weights())
        with torch.no_grad():
            assert _midpoint_gaps(network, n_convex, n_affine, 0).max() <= 1e-14
        c = (3 * torch.rand(500, n_convex, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
        c.requires_grad_(True)
        a = torch.zeros(500, n_affine, dtype=torch.float64) if n_affine else None
        (gradient,) = torch.autograd.grad(network(c, a).sum(), c)
        assert gradient.min() >= 0
    stretch, stress, mode = _split(table)
    free = HyperelasticNetwork(polyconvex=False, max_iter=20, random_state=0, device="cpu").fit(stretch, stress,
                                                                                               mode=mode)
    assert _midpoint_gaps(free.network_, 2, 0, 0).max() > 1e-6     # measured 9e-5, rounding is 1e-16


def test_rank_one_convexity(fitted_all, compressible_problem):
    """Polyconvexity implies t -> W(F + t a (x) b) convex (F, cof F and det F are affine along such lines)."""
    g = np.random.default_rng(3)
    F = _random_F(200, 4, spread=0.3)
    a, b = g.standard_normal((2, len(F), 3))
    direction = a[:, :, None] * b[:, None, :]
    t = g.uniform(-0.3, 0.3, (2, len(F)))[..., None, None]
    ends = [F + t[0] * direction, F + t[1] * direction]
    valid = (np.linalg.det(ends[0]) > 0.05) & (np.linalg.det(ends[1]) > 0.05)
    for model in (fitted_all, compressible_problem[0]):
        W0, W1 = (model.energy(end[valid]) for end in ends)
        middle = model.energy((ends[0][valid] + ends[1][valid]) / 2)
        assert (middle - (W0 + W1) / 2).max() <= 1e-10


def test_stress_is_the_gradient_of_the_energy(fitted_all, compressible_problem):
    F = _random_F(5, 5, spread=0.3)
    h = 1e-6
    for model in (fitted_all, compressible_problem[0]):
        P = model.stress(F)
        numeric = np.zeros_like(F)
        for i in range(3):
            for j in range(3):
                step = np.zeros((3, 3))
                step[i, j] = h
                numeric[:, i, j] = (model.energy(F + step) - model.energy(F - step)) / (2 * h)
        np.testing.assert_allclose(P, numeric, rtol=0, atol=1e-6 * max(1.0, np.abs(P).max()))
    F_torch = torch.tensor(F, requires_grad=True)          # a tensor stays on the graph
    W = fitted_all.energy(F_torch)
    assert isinstance(W, torch.Tensor)
    (gradient,) = torch.autograd.grad(W.sum(), F_torch)
    np.testing.assert_allclose(gradient.numpy(), fitted_all.stress(F), rtol=0, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_mode_relations_match_the_general_route(table, fitted_all, mode):
    """Rivlin's closed forms equal dW/dF - p F^-T of the 3x3 deformation gradient with P33 = 0."""
    stretch = np.linspace(0.4, 8.0, 40)
    F = deformation_gradient(stretch, mode)
    np.testing.assert_allclose(np.linalg.det(F), 1, atol=1e-14)
    models = [fitted_all, MooneyRivlin().fit(*_split(table)[:2], mode=_split(table)[2])]
    for model in models:
        P = model.stress(F, pressure="traction_free")
        closed = model.predict(stretch, mode)
        np.testing.assert_allclose(P[:, 0, 0], closed, rtol=1e-10, atol=1e-8)
        np.testing.assert_allclose(P[:, 2, 2], 0, atol=1e-8)
        if mode == "uniaxial":
            np.testing.assert_allclose(P[:, 1, 1], 0, atol=1e-8)        # both lateral faces free
        if mode == "equibiaxial":
            np.testing.assert_allclose(P[:, 1, 1], P[:, 0, 0], rtol=1e-10, atol=1e-8)
        off_diagonal = P - np.einsum("nii->ni", P)[:, :, None] * np.eye(3)
        assert np.abs(off_diagonal).max() <= 1e-10
        # an explicit pressure gives the same stress
        p = (model.stress(F)[:, 2, 2] - P[:, 2, 2]) * F[:, 2, 2]
        np.testing.assert_allclose(model.stress(F, pressure=p), P, rtol=0, atol=1e-10)


# -- estimator behaviour ---------------------------------------------------------------------------
def test_same_seed_same_model_and_global_random_state_untouched(table):
    stretch, stress, mode = _split(table)
    model = HyperelasticNetwork((8, 8), max_iter=40, random_state=3, device="cpu")
    state = torch.get_rng_state()
    first = model.fit(stretch, stress, mode=mode).predict(stretch, mode)
    assert torch.equal(torch.get_rng_state(), state)
    np.testing.assert_array_equal(clone(model).fit(stretch, stress, mode=mode).predict(stretch, mode), first)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(stretch, mode), first)
    other = clone(model).set_params(random_state=4).fit(stretch, stress, mode=mode).predict(stretch, mode)
    assert not np.array_equal(other, first)


def test_bad_input_is_rejected(fitted_all, compressible_problem):
    model = fitted_all
    flipped = np.diag([1.0, 1.0, -1.0])
    with pytest.raises(ValueError, match="det F"):
        model.energy(flipped)
    with pytest.raises(ValueError, match="det F"):
        model.stress(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        model.stress(np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match="NaN"):
        model.predict([1.0, np.nan], "uniaxial")
    with pytest.raises(ValueError, match="stretch <= 0"):
        model.predict([1.0, 0.0], "uniaxial")
    with pytest.raises(ValueError, match="stretch <= 0"):
        HyperelasticNetwork().fit([1.0, -2.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="unknown mode"):
        model.predict([1.5], "biaxial")
    with pytest.raises(ValueError, match="unknown mode"):
        NeoHookean().fit([1.5, 2.0], [0.1, 0.2], mode=["uniaxial", "shear"])
    with pytest.raises(ValueError, match="entries"):
        model.predict([1.5, 2.0], ["uniaxial"])
    with pytest.raises(ValueError, match="shape"):
        model.predict(np.ones((2, 2)), "uniaxial")
    with pytest.raises(ValueError, match="general"):
        model.predict(np.eye(3)[None], "general")
    with pytest.raises(ValueError, match="general"):
        compressible_problem[0].predict([1.5], "uniaxial")
    with pytest.raises(ValueError, match="compressible=True"):
        HyperelasticNetwork().fit(np.eye(3)[None], np.zeros((1, 3, 3)), mode="general")
    with pytest.raises(ValueError, match="pressure"):
        model.stress(np.eye(3), pressure="free")
    for setting in ({"solver": "sgd"}, {"second_invariant_penalty": -1.0}, {"hidden_layer_sizes": (0,)},
                    {"max_iter": 0}, {"random_state": None}, {"tol": 0.0}):
        with pytest.raises(ValueError, match=next(iter(setting))):
            HyperelasticNetwork(**setting).fit([1.0, 2.0], [0.0, 1.0])


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_a_failed_fit_leaves_the_energy_networks_as_they_were(table, solver, monkeypatch):
    """HyperelasticNetwork and StrainEnergyNetwork set a new network before training it: a fit that failed
    there (an error, an interrupt of L-BFGS) left a network of random weights, and a failed first fit a model
    that predicted without NotFittedError. The attributes are put back, as the torch surrogates' are."""
    from sklearn.exceptions import NotFittedError

    stretch, stress, mode = _split(table, ["uniaxial"])
    eps = np.random.default_rng(0).uniform(-0.01, 0.01, (20, 3))
    cases = [(lambda: HyperelasticNetwork((4,), solver=solver, max_iter=5, random_state=0, device="cpu"),
              (stretch, stress), stretch[:4]),
             (lambda: StrainEnergyNetwork((4,), max_iter=5, random_state=0, device="cpu"), (eps, 2 * eps), eps[:4])]
    for make, data, query in cases:
        model = make().fit(*data)
        before, attributes = model.predict(query), dict(vars(model))

        def failing(*args, **kwargs):
            raise RuntimeError("out of memory")
        monkeypatch.setattr("mslearn.surrogates.hyperelastic._lbfgs", failing)
        monkeypatch.setattr("mslearn.surrogates.hyperelastic.fit_network", failing)
        with pytest.raises(RuntimeError, match="out of memory"):
            model.fit(data[0], 3 * data[1])
        unfitted = make()
        with pytest.raises(RuntimeError, match="out of memory"):
            unfitted.fit(*data)
        monkeypatch.undo()
        assert vars(model).keys() == attributes.keys() and all(vars(model)[k] is v for k, v in attributes.items())
        np.testing.assert_array_equal(model.predict(query), before)
        with pytest.raises(NotFittedError):
            unfitted.predict(query)


def test_complex_input_is_refused_not_cast_to_its_real_part(fitted_all):
    """Complex stretches, stresses, deformation gradients and strains were cast to float with only numpy's
    ComplexWarning, the imaginary part dropped; they are refused as elsewhere in the package."""
    stretch, stress = np.array([1.2, 1.5, 2.0]), np.array([0.1, 0.2, 0.3])
    eps = np.array([[0.01, 0.0, 0.0], [0.0, 0.01, 0.0]])
    energy = StrainEnergyNetwork((2,), max_iter=2, random_state=0, device="cpu").fit(eps, eps)
    for call, name in [(lambda: MooneyRivlin().fit(stretch + 0j, stress), "X"),
                       (lambda: MooneyRivlin().fit(stretch, list(stress + 1j)), "y"),
                       (lambda: NominalStressMLP(max_iter=1, device="cpu").fit(stretch + 0j, stress), "X"),
                       (lambda: fitted_all.predict(torch.tensor(stretch + 0j), "uniaxial"), "X"),
                       (lambda: fitted_all.stress(torch.eye(3, dtype=torch.complex128)), "F"),
                       (lambda: fitted_all.stress(np.eye(3), pressure=torch.tensor(1 + 1j, dtype=torch.complex128)),
                        "pressure"),
                       (lambda: fitted_all.stress(np.eye(3), pressure=1 + 1j), "pressure"),
                       (lambda: StrainEnergyNetwork(device="cpu").fit(eps, eps + 1j), "y"),
                       (lambda: energy.predict(torch.tensor(eps + 0j)), "X")]:
        with warnings.catch_warnings():
            warnings.simplefilter("error")                               # no ComplexWarning on the way
            with pytest.raises(TypeError, match=f"^{name} has the complex dtype complex128; expected real numbers"):
                call()


def test_predict_defaults_to_the_fitted_mode_and_cross_validation_routes_it(table, fitted_all, fitted_uniaxial,
                                                                            compressible_problem):
    """A model fitted on one mode predicts it by default; one fitted on several has no default, since
    cross_val_score passes ``mode`` to fit alone unless routed, and a silent "uniaxial" scored every test
    stretch as uniaxial (R² 0.925/0.820/0.888 instead of 0.943/0.819/0.903 for Mooney–Rivlin)."""
    from sklearn import config_context
    from sklearn.model_selection import KFold, cross_val_score

    stretch, stress, mode = _split(table)
    uniaxial = _split(table, ["uniaxial"])[0]
    assert fitted_uniaxial.modes_ == ["uniaxial"] and fitted_all.modes_ == list(MODES)
    np.testing.assert_array_equal(fitted_uniaxial.predict(uniaxial), fitted_uniaxial.predict(uniaxial, "uniaxial"))
    general, F = compressible_problem[0], compressible_problem[1]
    assert general.modes_ == ["general"]
    np.testing.assert_array_equal(general.predict(F), general.predict(F, "general"))
    mlp = NominalStressMLP(max_iter=5, random_state=0, device="cpu").fit(stretch, stress, mode=mode)
    equibiaxial = NeoHookean().fit(uniaxial, uniaxial, mode="equibiaxial")
    assert mlp.modes_ == list(MODES) and equibiaxial.modes_ == ["equibiaxial"]
    for model in (fitted_all, mlp, MooneyRivlin().fit(stretch, stress, mode=mode)):
        with pytest.raises(ValueError, match="fitted on the modes .*set_score_request"):
            model.predict(stretch)
        with pytest.raises(ValueError, match="fitted on the modes"):
            model.score(stretch, stress)
    folds = KFold(3, shuffle=True, random_state=0)
    by_hand = [MooneyRivlin().fit(stretch[fit], stress[fit], mode=mode[fit]).score(stretch[test], stress[test],
                                                                                   mode=mode[test])
               for fit, test in folds.split(stretch)]
    with config_context(enable_metadata_routing=True):
        routed = MooneyRivlin().set_fit_request(mode=True).set_score_request(mode=True)
        scores = cross_val_score(routed, stretch, stress, cv=folds, params={"mode": mode})
    np.testing.assert_allclose(scores, by_hand, rtol=1e-12)


def test_a_continued_fit_keeps_the_modes_it_has_seen(table):
    stretch, stress, mode = _split(table)
    model = NominalStressMLP(max_iter=3, warm_start=True, random_state=0, device="cpu")
    model.fit(*_split(table, ["equibiaxial"])[:2], mode="equibiaxial")
    assert model.modes_ == ["equibiaxial"]
    model.fit(*_split(table, ["uniaxial"])[:2], mode="uniaxial")
    assert model.modes_ == ["uniaxial", "equibiaxial"]
    fresh = NominalStressMLP(max_iter=3, random_state=0, device="cpu").fit(*_split(table, ["uniaxial"])[:2])
    assert fresh.fit(*_split(table, ["pure_shear"])[:2], mode="pure_shear").modes_ == ["pure_shear"]


def test_the_unconstrained_mlp_counts_the_stretch_as_its_one_input(table, tmp_path):
    """scikit-learn's n_features_in_ is the columns of the X given to fit: 1, the stretch, not the network's four
    inputs (stretch and one-hot mode), which it was; deployment.save(..., training_data=stretch) then refused the
    model ("training_data has 1 columns but the model was fitted on 4 inputs")."""
    from mslearn import deployment

    stretch, stress, mode = _split(table)
    model = NominalStressMLP(max_iter=5, random_state=0, device="cpu").fit(stretch, stress, mode=mode)
    assert model.n_features_in_ == 1
    column = NominalStressMLP(max_iter=5, random_state=0, device="cpu").fit(stretch[:, None], stress, mode=mode)
    assert column.n_features_in_ == 1
    np.testing.assert_array_equal(column.predict(stretch, mode), model.predict(stretch, mode))
    expected = model.predict(stretch, mode)

    loaded = deployment.load(deployment.save(model, tmp_path / "mlp", training_data=stretch.reshape(-1, 1),
                                             feature_names=["stretch"]))
    assert isinstance(loaded, deployment.GuardedModel)
    with warnings.catch_warnings():
        warnings.simplefilter("error", deployment.ExtrapolationWarning)
        np.testing.assert_array_equal(loaded.predict(stretch, mode=mode), expected)
    with pytest.warns(deployment.ExtrapolationWarning, match="stretch 9 > max 7.249"):
        loaded.predict(np.array([2.0, 9.0]), mode="uniaxial")
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict(stretch, mode), expected)
    assert model.score(stretch, stress, mode=mode) == pytest.approx(loaded.score(stretch, stress, mode=mode))

    # a continued fit takes the same X (it compared the stretch with the network's four inputs) and keeps the count
    network = model.network_
    uniaxial, uniaxial_stress, _ = _split(table, ["uniaxial"])
    model.set_params(warm_start=True, max_iter=3).fit(uniaxial, uniaxial_stress, mode="uniaxial")
    assert model.network_ is network and model.n_features_in_ == 1 and model.n_iter_ == 3
    assert not np.array_equal(model.predict(stretch, mode), expected)


def test_the_energy_models_count_the_stretch_as_their_one_input(table, fitted_all, compressible_problem, tmp_path):
    """Like the unconstrained MLP, the energy models fitted on stretches have scikit-learn's n_features_in_ = 1 (they
    set none before), so deployment.save checks training_data against it; a fit on deformation gradients
    (n, 3, 3) sets none, as the image transformers, and a refit on F drops a former fit's count."""
    from mslearn import deployment

    stretch, stress, mode = _split(table)
    for model in (MooneyRivlin().fit(stretch, stress, mode=mode), NeoHookean().fit(stretch, stress, mode=mode),
                  fitted_all):
        assert model.n_features_in_ == 1
    with pytest.raises(ValueError, match="training_data has 2 columns but the model was fitted on 1 inputs"):
        deployment.save(fitted_all, tmp_path / "network", training_data=np.column_stack([stretch, stretch]))
    assert not hasattr(compressible_problem[0], "n_features_in_")
    F, P = compressible_problem[1], compressible_problem[2]
    model = HyperelasticNetwork((4,), compressible=True, max_iter=3, random_state=0, device="cpu")
    model.n_features_in_ = 1                          # as left by a former fit on stretches
    assert not hasattr(model.fit(F, P, mode="general"), "n_features_in_")


def test_the_unconstrained_mlps_predict_tensor_takes_stretches(table):
    """predict_tensor takes what predict takes, stretches and a mode, not the network's four inputs; a tensor of
    the network's inputs was checked against n_features_in_ = 1 (a (n, 1) tensor would have broadcast against
    the four input scalings)."""
    stretch, stress, mode = _split(table)
    model = NominalStressMLP(max_iter=20, random_state=0, device="cpu").fit(stretch, stress, mode=mode)
    x = torch.tensor(stretch, dtype=torch.float64, requires_grad=True)
    out = model.predict_tensor(x, mode)
    assert out.shape == (len(stretch),) and out.dtype == torch.float64
    # the same numbers as predict (the network runs in float32 either way)
    np.testing.assert_allclose(out.detach().numpy(), model.predict(stretch, mode), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(model.predict_tensor(x[:, None], "pure_shear").detach().numpy(),
                                  model.predict_tensor(x, "pure_shear").detach().numpy())
    (grad,) = torch.autograd.grad(out.sum(), x)
    h = 1e-3
    difference = (model.predict(stretch + h, mode) - model.predict(stretch - h, mode)) / (2 * h)
    np.testing.assert_allclose(grad.numpy(), difference, atol=1e-3)   # measured 1e-4 (a float32 network)
    with pytest.raises(ValueError, match=r"X is \(42, 4\); expected a torch tensor of stretches, shape \(n,\) or "
                                         r"\(n, 1\)"):
        model.predict_tensor(torch.ones(len(stretch), 4), mode)
    with pytest.raises(ValueError, match="expected a torch tensor of stretches"):
        model.predict_tensor(stretch, mode)
    with pytest.raises(ValueError, match="stretch <= 0"):
        model.predict_tensor(torch.tensor([1.0, -1.0]), "uniaxial")
    with pytest.raises(TypeError, match=r"X is a tensor of torch.int64; expected a floating-point tensor"):
        model.predict_tensor(torch.tensor([2, 3, 5]), "uniaxial")       # was [1, 1, 1]: truncated to X's dtype
    with pytest.raises(ValueError, match="fitted on the modes"):
        model.predict_tensor(x)


# -- the microstructure link: an effective small-strain energy of an elasto-plastic RVE ---------------
# One 16x16 RVE (J2 matrix with hardening, stiff elastic inclusions, 30 %) loaded along monotonic radial
# strain paths to 0.03 (3 yield strains). Measured (one CPU thread, random_state=0): the radial response
# has a tangent asymmetry of 0.2-0.4 % (an energy exists to that accuracy), but a 30-degree kink in the
# path changes the end stress by 15 % (the energy holds for proportional loading only). Held-out
# relative stress error, 48 training / 32 held-out directions: StrainEnergyNetwork 0.013, MLP ε -> σ
# 0.027, linear C* 0.46 (HyperelasticNetwork with F = I + ε: 0.41, not tested, 6 s). Trained on the
# tension-dominated hemisphere (tr ε > 0, 37 paths), predicting the other 43: 0.013 / 0.071 / 0.43.
from mslearn._backend import cpu_threads  # noqa: E402
from mslearn.datasets.paths import radial_paths, rve_stress_histories  # noqa: E402
from mslearn.homogenization import elasticity  # noqa: E402
from mslearn.structures import random_inclusions  # noqa: E402
from mslearn.surrogates import MLPRegressor  # noqa: E402
from mslearn.surrogates.hyperelastic import StrainEnergyNetwork  # noqa: E402
from mslearn.surrogates.recurrent import relative_history_error  # noqa: E402

RVE_PHASES = [{"E": 1.0, "nu": 0.3, "yield_stress": 0.01, "hardening": 0.1},
              {"E": 3.0, "nu": 0.3, "yield_stress": float("inf")}]
MAX_STRAIN = 0.03


@pytest.fixture(scope="module")
def rve():
    return random_inclusions((16, 16), 0.3, radius=3, seed=0)


@pytest.fixture(scope="module")
def radial(rve):
    """48 training and 32 held-out radial paths (10 steps each to 0.03) and the RVE's stresses (2 s)."""
    X = np.concatenate([radial_paths(48, 11, 3, max_strain=MAX_STRAIN, seed=0),
                        radial_paths(32, 11, 3, max_strain=MAX_STRAIN, seed=1)])
    with cpu_threads(1):
        y = rve_stress_histories(rve, RVE_PHASES, X, tol=1e-6, device="cpu")
    C = elasticity(rve, [{"E": p["E"], "nu": p["nu"]} for p in RVE_PHASES], device="cpu").effective
    return X, y, C


def _fit_energy_and_mlp(X, y):
    start = time.perf_counter()
    energy = StrainEnergyNetwork(random_state=0, device="cpu").fit(X, y)
    seconds = time.perf_counter() - start
    mlp = MLPRegressor(random_state=0, device="cpu").fit(X.reshape(-1, 3), y.reshape(-1, 3))
    return energy, mlp, seconds


@pytest.fixture(scope="module")
def rve_models(radial):
    X, y, _ = radial
    return _fit_energy_and_mlp(X[:48], y[:48])


def test_radial_response_of_the_rve_nearly_derives_from_an_energy(rve):
    """The Jacobian of the map ε -> σ(ε) along radial paths, by central differences across neighbouring
    directions at |ε| = 0.02 (2 yield strains), is symmetric to 0.2-0.4 % (measured, 4 points): a
    gradient field. A kink in the path breaks it: the premise is proportional loading only."""
    directions = radial_paths(4, 2, 3, max_strain=1.0, seed=5)[:, -1]
    radius, h = 0.02, 4e-4                       # h = 2 % of the radius (the asymmetry moves < 1e-4 from 1 to 4 %)
    ends = np.array([radius * u + s * h * e for u in directions for e in np.eye(3) for s in (1, -1)])
    with cpu_threads(1):
        stress = rve_stress_histories(rve, RVE_PHASES, np.linspace(0, 1, 11)[None, :, None] * ends[:, None],
                                      tol=1e-8, device="cpu")[:, -1].reshape(4, 3, 2, 3)
    D = np.swapaxes(stress[:, :, 0] - stress[:, :, 1], 1, 2) / (2 * h)      # D[k, i, j] = dσ_i/dε_j
    asymmetry = np.linalg.norm(D - np.swapaxes(D, 1, 2), axis=(1, 2)) / np.linalg.norm(D, axis=(1, 2))
    assert asymmetry.max() < 0.01, asymmetry     # measured <= 0.004; 1 % leaves a 2.5x margin
    # plastic: the tangent has softened well below C* (else the check would be trivially linear): its
    # smallest eigenvalue is 0.34-0.62 (measured) against 1.0 for C*
    C = elasticity(rve, [{"E": p["E"], "nu": p["nu"]} for p in RVE_PHASES], device="cpu").effective
    assert np.linalg.eigvalsh(0.5 * (D + np.swapaxes(D, 1, 2))).min(axis=1).max() < 0.75 * np.linalg.eigvalsh(C).min()
    # non-proportional: 0 -> 0.03 v (30 degrees away from u) -> 0.03 u differs from 0 -> 0.03 u
    u, v = directions[0], np.cos(np.pi / 6) * directions[0]
    w = directions[1] - (directions[1] @ u) * u
    v = v + np.sin(np.pi / 6) * w / np.linalg.norm(w)
    kinked = np.concatenate([np.linspace(0, 1, 11)[:, None] * MAX_STRAIN * v,
                             MAX_STRAIN * (v + np.linspace(0, 1, 11)[1:, None] * (u - v))])
    with cpu_threads(1):
        end = rve_stress_histories(rve, RVE_PHASES, np.stack([kinked, np.linspace(0, 1, 21)[:, None] * MAX_STRAIN * u]),
                                   tol=1e-6, device="cpu")[:, -1]
    # measured 0.08-0.34 over 8 pairs at 30 degrees; > 0.03 is far above the solver tolerance
    assert np.linalg.norm(end[0] - end[1]) / np.linalg.norm(end[1]) > 0.03


def test_energy_network_beats_the_mlp_and_linear_elasticity_on_held_out_directions(radial, rve_models):
    X, y, C = radial
    energy, mlp, seconds = rve_models
    errors = {"energy": relative_history_error(y[48:], energy.predict(X[48:])).mean(),
              "mlp": relative_history_error(y[48:], mlp.predict(X[48:].reshape(-1, 3)).reshape(X[48:].shape)).mean(),
              "linear": relative_history_error(y[48:], X[48:] @ C.T).mean()}
    assert errors["energy"] < 0.025, errors           # measured 0.013; about 2x margin
    assert errors["energy"] < 0.75 * errors["mlp"], errors     # measured ratio 0.49
    assert errors["linear"] > 0.3, errors             # measured 0.46: the data are far from linear
    assert energy.score(X[48:], y[48:]) > 0.99        # R² (measured 0.9997)
    assert seconds < 15                               # measured 2-4 s on one (shared) CPU core


def test_energy_network_extrapolates_from_tension_to_compression(radial):
    """Trained on the directions with tr ε > 0 (37 paths), tested on the other 43: the convex energy
    keeps its accuracy (measured 0.013), the MLP degrades (0.071)."""
    X, y, _ = radial
    tension = X[:, -1, :2].sum(1) > 0
    energy, mlp, _ = _fit_energy_and_mlp(X[tension], y[tension])
    test, truth = X[~tension], y[~tension]
    error_energy = relative_history_error(truth, energy.predict(test)).mean()
    error_mlp = relative_history_error(truth, mlp.predict(test.reshape(-1, 3)).reshape(test.shape)).mean()
    assert error_energy < 0.03, error_energy          # measured 0.013
    assert error_energy < 0.5 * error_mlp, (error_energy, error_mlp)    # measured ratio 0.18


def test_energy_network_physics_by_construction(radial, rve_models):
    X, y, _ = radial
    energy, mlp, _ = rve_models
    zero = np.zeros((1, 3))
    assert energy.energy(zero)[0] == 0 and np.all(energy.predict(zero) == 0)      # exactly, by the normalization
    points = X[48:, 1:].reshape(-1, 3)
    T = energy.tangent(points)
    assert np.abs(T - np.swapaxes(T, 1, 2)).max() < 1e-12          # a Hessian: symmetric to rounding (3e-16)
    assert np.linalg.eigvalsh(T).min() > 0                         # convex with hardening (measured min 0.045)
    rng = np.random.default_rng(0)
    A, B = rng.uniform(-0.06, 0.06, (2, 2000, 3))                  # midpoint convexity, also beyond the data
    assert np.all(0.5 * (energy.energy(A) + energy.energy(B)) - energy.energy(0.5 * (A + B)) >= -1e-15)
    # the stress is the gradient of the energy (autograd against central differences, h = 1e-6)
    h = 1e-6
    numeric = np.stack([(energy.energy(points[:20] + h * e) - energy.energy(points[:20] - h * e)) / (2 * h)
                        for e in np.eye(3)], -1)
    np.testing.assert_allclose(numeric, energy.predict(points[:20]), atol=1e-9)   # O(h^2) + rounding/h ~ 1e-10
    # the MLP has none of it: its finite-difference tangent is asymmetric by about 4 % (measured 0.039 mean)
    D = np.stack([(mlp.predict(points + 1e-4 * e) - mlp.predict(points - 1e-4 * e)) / 2e-4 for e in np.eye(3)], -1)
    asymmetry = np.linalg.norm(D - np.swapaxes(D, 1, 2), axis=(1, 2)) / np.linalg.norm(D, axis=(1, 2))
    assert asymmetry.mean() > 0.01


def test_strain_energy_network_reduces_to_linear_elasticity_and_follows_sklearn(radial):
    X, y, C = radial
    eps = X[:, 1:2].reshape(-1, 3)                                 # the first step: elastic (|ε| = 0.003)
    linear = StrainEnergyNetwork((), norm_features=0, alpha=0, random_state=0, device="cpu").fit(eps, eps @ C.T)
    np.testing.assert_allclose(linear.tangent(eps[:1])[0], C, atol=1e-5)   # exact data: C recovered (L-BFGS to 1e-6)
    model = StrainEnergyNetwork((4,), norm_features=1, max_iter=30, random_state=0, device="cpu")
    first = model.fit(X[:8], y[:8]).predict(X[8:10])
    assert X[8:10].shape == first.shape                            # leading axes kept
    assert model.n_features_in_ == model.n_components_ == 3        # scikit-learn's name too (pipelines read it)
    np.testing.assert_array_equal(first, clone(model).fit(X[:8], y[:8]).predict(X[8:10]))   # seeded
    np.testing.assert_array_equal(first, pickle.loads(pickle.dumps(model)).predict(X[8:10]))
    tensor = torch.as_tensor(X[8, 3:5]).requires_grad_(True)
    stress = model.predict(tensor)
    assert isinstance(stress, torch.Tensor) and stress.requires_grad
    np.testing.assert_allclose(stress.detach().numpy(), first[0, 3:5])
    for call, match in ((lambda: model.fit(X[:2], y[:2, :, :2]), "shape"),
                        (lambda: model.fit(X[0, :, 0], y[0, :, 0]), "Mandel"),
                        (lambda: model.predict(np.zeros((1, 6))), "components"),
                        (lambda: model.fit(np.full((2, 3), np.nan), np.zeros((2, 3))), "NaN"),
                        (lambda: clone(model).set_params(norm_features=-1).fit(X[:2], y[:2]), "norm_features"),
                        (lambda: clone(model).set_params(alpha=-1.0).fit(X[:2], y[:2]), "alpha"),
                        (lambda: StrainEnergyNetwork((), norm_features=0, quadratic=False).fit(X[:2], y[:2]), "zero"),
                        (lambda: clone(model).set_params(solver="sgd").fit(X[:2], y[:2]), "solver")):
        with pytest.raises(ValueError, match=match):
            call()


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_progress_shows_the_fit_and_changes_nothing(table, solver, capsys):
    from mslearn.surrogates.hyperelastic import StrainEnergyNetwork
    args = (table.stretch, table.nominal_stress_MPa)
    quiet = HyperelasticNetwork(solver=solver, max_iter=20, random_state=0, device="cpu").fit(*args, mode=table["mode"])
    shown = HyperelasticNetwork(solver=solver, max_iter=20, random_state=0, device="cpu", progress=True)
    shown.fit(*args, mode=table["mode"])
    assert shown.loss_curve_ == quiet.loss_curve_
    err = capsys.readouterr().err
    assert "HyperelasticNetwork" in err and "loss=" in err and ("/40" in err if solver == "lbfgs" else "/20" in err)
    eps = np.random.default_rng(0).uniform(-0.02, 0.02, (50, 3))
    StrainEnergyNetwork(solver=solver, max_iter=10, random_state=0, device="cpu", progress=True).fit(eps, 2 * eps)
    assert "StrainEnergyNetwork" in capsys.readouterr().err


def test_nominal_stress_mlp_takes_cpu_threads_and_restores_torch_threads(table, torch_thread_calls):
    """NominalStressMLP took no cpu_threads= (the CNN, graph and tandem models do): it trained and predicted at
    torch's global setting. Default None keeps that setting (and its numbers); an int is used and restored."""
    model = NominalStressMLP((4,), max_iter=2, device="cpu", cpu_threads=1)
    assert NominalStressMLP().cpu_threads is None and clone(model).get_params()["cpu_threads"] == 1
    before = torch.get_num_threads()
    model.fit(table.stretch, table.nominal_stress_MPa, mode=table["mode"])
    assert torch_thread_calls == [1, before] and torch.get_num_threads() == before
    torch_thread_calls.clear()
    model.predict(table.stretch, mode=table["mode"])
    assert torch_thread_calls == [1, before] and torch.get_num_threads() == before


@pytest.mark.parametrize("estimator", [HyperelasticNetwork, StrainEnergyNetwork])
def test_energy_networks_take_cpu_threads_and_restore_torch_threads(estimator, table, torch_thread_calls):
    """The energy networks fitted on one thread, fixed in the code, with no cpu_threads= to change it (the CNN,
    graph and tandem models have one). The parameter's default 1 is the former fixed count (the same numbers);
    None keeps torch's setting; the caller's count is restored."""
    if estimator is HyperelasticNetwork:
        X, y, options = table.stretch, table.nominal_stress_MPa, {"mode": table["mode"]}
    else:
        X = np.random.default_rng(0).uniform(-0.02, 0.02, (40, 3))
        y, options = X * (1.0 + 30 * np.abs(X)), {}
    model = estimator((4,), max_iter=3, device="cpu")
    assert model.cpu_threads == 1 and clone(model.set_params(cpu_threads=2)).get_params()["cpu_threads"] == 2
    before = torch.get_num_threads()
    model.fit(X, y, **options)
    assert torch_thread_calls == [2, before] and torch.get_num_threads() == before
    torch_thread_calls.clear()
    model.set_params(cpu_threads=None).fit(X, y, **options)
    assert torch_thread_calls == [] and torch.get_num_threads() == before
