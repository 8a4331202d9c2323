# SPDX-License-Identifier: BSD-3-Clause
"""Behaviour of :class:`~sklearn_pmm.PMMRegressor` as a fitted estimator.

scikit-learn's common checks live in ``test_common.py`` and the finite-difference
gradient checks in ``test_gradients.py``; this file tests what the estimator
promises on top of them: determinism (``n_jobs``, ``random_state``, pickling),
exact invariance under affine rescaling of inputs and targets, fitted
attributes in user units (checked against an independent re-implementation
of the forward pass), warm starts, restarts, progress output, warnings,
errors, sample weights, degenerate data and starts, the eigenvalue readout as
a function approximator, and model selection.

Every fit is tiny (matrix_size 3-6, at most a few hundred samples and
iterations) so the whole file runs in well under a minute on two cores.
"""

import copy
import pickle
import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, NotFittedError
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_pmm import PMMRegressor
from sklearn_pmm._base import estimator as estimator_base
from sklearn_pmm._core.loss import weighted_r2_score
from sklearn_pmm._core.maps import AffineMap, ProjectedMap

READOUTS = ["decoder", "expectation", "eigenvalues"]
# These tests check the mechanics of one fit on all rows (losses, curves,
# trajectories), so they turn off the default validation split, prior and
# restart.
FULL_DATA = dict(early_stopping=False, smoothness=0.0, n_restarts=0)
TINY = dict(matrix_size=3, n_eigenvectors=2, random_state=0, **FULL_DATA)

# Short fits stop at max_iter on purpose (to compare optimisation
# trajectories); their ConvergenceWarning is expected.
ignore_convergence = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)


def make_data(n_samples=60, n_features=2, n_outputs=None, seed=0):
    """Smooth targets on inputs that are deliberately not standardised."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, (n_samples, n_features))
    X = X * np.linspace(3.0, 0.25, n_features) + np.linspace(5.0, -1.0, n_features)
    u = (X - X.mean(axis=0)) / X.std(axis=0)
    y = np.sin(1.5 * u[:, 0]) + 0.5 * u[:, -1] ** 2
    if n_outputs is not None:
        y = np.column_stack([y + k * np.cos(u[:, 0] - k) for k in range(n_outputs)])
    return X, 10.0 * y + 3.0


@pytest.mark.parametrize("seed", range(5))
def test_validation_score_is_scikit_learns_r2(seed):
    # Early stopping scores with weighted_r2_score, not r2_score: same value,
    # including a constant target predicted exactly (1) or not (0), and
    # zero weights.
    rng = np.random.default_rng(seed)
    targets = rng.normal(size=(30, 4))
    outputs = targets + rng.normal(scale=0.5, size=(30, 4))
    targets[:, 2] = 3.0
    targets[:, 3] = outputs[:, 3] = -1.0
    weights = rng.integers(0, 4, 30).astype(float)
    for columns in ([0], [0, 1], [0, 2], [2], [3], [0, 1, 2, 3]):
        assert_allclose(
            weighted_r2_score(targets[:, columns], outputs[:, columns], weights),
            r2_score(targets[:, columns], outputs[:, columns], sample_weight=weights),
            rtol=1e-12,
        )


def fit(X, y, sample_weight=None, **params):
    return PMMRegressor(**{**TINY, **params}).fit(X, y, sample_weight=sample_weight)


# --------------------------------------------------------------------------
# An independent forward pass, from the fitted attributes only
# --------------------------------------------------------------------------


def manual_primary(est, X):
    """H(x) = H_0 + sum_l x_l H_l for every row, by an explicit loop."""
    H = est.hamiltonians_
    out = np.empty((len(X),) + H.shape[1:], dtype=H.dtype)
    for s, x in enumerate(X):
        out[s] = H[0] + sum(x_l * H_l for x_l, H_l in zip(x, H[1:], strict=True))
    return out


def manual_selected(est, X):
    """Selected eigenvalues and eigenvectors (in selection order) per row."""
    values, vectors = np.linalg.eigh(manual_primary(est, X))
    r = est.n_eigenvectors
    if est.readout == "eigenvalues":  # one level per output
        r = max(r, len(est.intercept_))
    if est.which == "lowest":
        order = np.tile(np.arange(r), (len(X), 1))
    elif est.which == "highest":
        order = np.tile(np.arange(values.shape[1])[::-1][:r], (len(X), 1))
    else:  # largest magnitude, ties broken by position
        order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :r]
    sel_values = np.take_along_axis(values, order, 1)
    sel_vectors = np.take_along_axis(vectors, order[:, None, :], 2)
    return sel_values, sel_vectors


def manual_predict(est, X):
    """Outputs z, shape (N, q), computed from hamiltonians_/decoders_/intercept_."""
    values, vectors = manual_selected(est, X)
    r, q = est.n_eigenvectors, len(est.intercept_)
    z = np.tile(est.intercept_, (len(X), 1)).astype(float)
    if est.readout == "eigenvalues":
        return z + values[:, :q]
    if est.readout == "decoder":
        pairs = [(i, j) for i in range(r) for j in range(i, r)]
    else:
        pairs = [(i, i) for i in range(r)]
    for k in range(q):
        for m, D in enumerate(est.decoders_[k]):
            used = pairs if est.n_decoders is not None else [pairs[m]]
            for i, j in used:
                vi, vj = vectors[:, :, i], vectors[:, :, j]
                w = np.einsum("sa,ab,sb->s", np.conj(vi), D, vj)
                if est.readout == "decoder":
                    z[:, k] += np.abs(w) ** 2 - 0.5 * np.linalg.norm(D, 2) ** 2
                else:
                    z[:, k] += w.real
    return z


# --------------------------------------------------------------------------
# determinism
# --------------------------------------------------------------------------


# The default path (validation split, smoothness path, candidates, the
# winner's run on every row) and one run on all rows.
TRAINING_PATHS = pytest.mark.parametrize(
    "path",
    [{}, {"early_stopping": True, "smoothness": 10.0}],
    ids=["all_rows", "early_stopping"],
)


@ignore_convergence
@TRAINING_PATHS
@pytest.mark.parametrize("n_restarts", [0, 1])
@pytest.mark.parametrize("readout", ["decoder", "eigenvalues"])
def test_n_jobs_does_not_change_the_model(readout, n_restarts, path, threaded_chunks):
    X, y = make_data(n_samples=100)
    params = dict(readout=readout, n_restarts=n_restarts, max_iter=30, **path)
    serial = fit(X, y, n_jobs=1, **params)
    assert threaded_chunks[0] == 0
    threaded = fit(X, y, n_jobs=2, **params)
    # One start runs its chunks in threads; two starts take a thread each
    # and run their chunks in series (a converged winner then continues on
    # every row, in threads again).
    if n_restarts == 0:
        assert threaded_chunks[0] > 0
    elif not path:
        assert threaded_chunks[0] == 0
    # Bit for bit: the chunks, and so every sum, are the same in threads.
    assert serial.n_iter_ == threaded.n_iter_
    assert_array_equal(threaded.predict(X), serial.predict(X))
    assert_array_equal(threaded.hamiltonians_, serial.hamiltonians_)
    assert_array_equal(threaded.loss_curve_, serial.loss_curve_)
    # n_jobs at predict time alone does not matter either
    serial.set_params(n_jobs=2)
    assert_array_equal(threaded.predict(X), serial.predict(X))


@ignore_convergence
@pytest.mark.parametrize("hermitian", ["real", "complex"])
def test_random_state_determines_the_model(hermitian):
    X, y = make_data()
    a = fit(X, y, hermitian=hermitian, max_iter=20, random_state=3)
    b = fit(X, y, hermitian=hermitian, max_iter=20, random_state=3)
    c = fit(X, y, hermitian=hermitian, max_iter=20, random_state=4)
    assert_array_equal(a.hamiltonians_, b.hamiltonians_)
    assert_array_equal(a.decoders_, b.decoders_)
    assert_array_equal(a.intercept_, b.intercept_)
    assert_array_equal(a.predict(X), b.predict(X))
    assert not np.allclose(a.hamiltonians_, c.hamiltonians_)
    assert not np.allclose(a.decoders_, c.decoders_)
    assert not np.allclose(a.predict(X), c.predict(X))


@ignore_convergence
def test_random_state_instance_is_kept_as_the_parameter():
    # A RandomState instance is consumed, the parameter object is not replaced.
    X, y = make_data()
    rs = np.random.RandomState(0)
    est = PMMRegressor(
        matrix_size=3, n_eigenvectors=2, max_iter=3, random_state=rs, **FULL_DATA
    )
    est.fit(X, y)
    assert est.random_state is rs


@ignore_convergence
@pytest.mark.parametrize("readout", READOUTS)
def test_pickle_round_trip_keeps_predictions(readout):
    X, y = make_data()
    est = fit(X, y, readout=readout, max_iter=20)
    clone = pickle.loads(pickle.dumps(est))
    assert_array_equal(clone.predict(X), est.predict(X))
    assert_array_equal(clone.eigenvalues(X), est.eigenvalues(X))
    assert clone.loss_curve_ == est.loss_curve_


# --------------------------------------------------------------------------
# invariance under affine rescaling of inputs and targets
# --------------------------------------------------------------------------


@ignore_convergence
@pytest.mark.parametrize("readout", READOUTS)
def test_raw_and_standardised_inputs_give_the_same_predictions(readout):
    # The estimator standardises internally and folds the map into H_0 and
    # H_l, so a StandardScaler in front changes nothing but rounding; 30
    # iterations keep the two optimisation trajectories comparable.
    # Measured: relative differences of 3e-16 to 2e-13.
    X, y = make_data()
    params = dict(TINY, readout=readout, max_iter=30)
    raw = PMMRegressor(**params).fit(X, y)
    piped = make_pipeline(StandardScaler(), PMMRegressor(**params)).fit(X, y)
    expected = raw.predict(X)
    assert_allclose(piped.predict(X), expected, rtol=1e-6, atol=1e-6 * np.ptp(y))
    X_new = make_data(n_samples=20, seed=1)[0]
    assert_allclose(
        piped.predict(X_new), raw.predict(X_new), rtol=1e-6, atol=1e-6 * np.ptp(y)
    )


@ignore_convergence
@pytest.mark.parametrize("readout", READOUTS)
def test_affine_map_of_targets_maps_predictions(readout):
    # fit on a*y + b  ==  a * (fit on y) + b, for a > 0 (a < 0 is a different
    # problem for the decoder readout, whose terms are not sign-symmetric).
    # Measured: relative differences of 4e-16 to 2e-13.
    X, y = make_data()
    a, b = 3.7, -12.0
    base = fit(X, y, readout=readout, max_iter=30)
    mapped = fit(X, a * y + b, readout=readout, max_iter=30)
    expected = a * base.predict(X) + b
    assert_allclose(
        mapped.predict(X), expected, rtol=1e-6, atol=1e-6 * np.ptp(expected)
    )
    # the internal (standardised) problem is identical: same loss
    assert_allclose(mapped.loss_, base.loss_, rtol=1e-6)


@ignore_convergence
@pytest.mark.parametrize("scale", [1e-20, 1e-15, 1e-3, 1e3, 1e20])
def test_units_of_inputs_and_targets_do_not_matter(scale):
    # The same invariance across units: features in seconds vs femtoseconds,
    # targets in m^2 vs barn.  A column is only "constant" if its spread is
    # negligible relative to its own magnitude, not relative to 1.
    X, y = make_data()
    base = fit(X, y, max_iter=30)
    expected = base.predict(X)
    in_target_units = fit(X, scale * y, max_iter=30)
    assert_allclose(
        in_target_units.predict(X),
        scale * expected,
        rtol=1e-6,
        atol=1e-6 * scale * np.ptp(expected),
    )
    in_input_units = fit(scale * X, y, max_iter=30)
    assert_allclose(
        in_input_units.predict(scale * X),
        expected,
        rtol=1e-6,
        atol=1e-6 * np.ptp(expected),
    )


@ignore_convergence
@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_a_subnormal_feature_scale_leaves_finite_matrices():
    # 1 / 1e-310 overflows: such a column is treated as constant, as a
    # StandardScaler treats a negligible variance.
    X, y = make_data(n_features=3)
    X[:, 2] *= 1e-310
    est = fit(X, y, max_iter=20)
    assert np.all(np.isfinite(est.hamiltonians_))
    assert np.all(np.isfinite(est.predict(X)))


@ignore_convergence
def test_an_overflowing_fold_of_the_scaling_is_an_error(monkeypatch):
    # Should a scaling still overflow when folded back, fit says so and
    # leaves no non-finite matrices behind.
    def tiny_scale(self, X, sample_weight):
        return np.zeros(X.shape[1]), np.full(X.shape[1], 1e-310)

    # Training sees the features as they are; folding divides by 1e-310.
    monkeypatch.setattr(AffineMap, "input_scaling", tiny_scale)
    monkeypatch.setattr(AffineMap, "scale_inputs", lambda self, X, scaling: X)
    X, y = make_data(n_samples=20)
    with pytest.raises(ValueError, match="overflowed when the standardisation"):
        fit(X, y, max_iter=2)


# --------------------------------------------------------------------------
# fitted attributes
# --------------------------------------------------------------------------

ATTRIBUTE_CASES = [
    # readout, n_decoders, hermitian, n_outputs
    ("decoder", None, "complex", 1),
    ("decoder", None, "real", 2),
    ("decoder", 2, "complex", 2),
    ("expectation", None, "real", 1),
    ("expectation", 3, "complex", 2),
    ("eigenvalues", None, "real", 2),
    ("eigenvalues", None, "complex", 1),
]


def n_matrices_per_output(readout, n_decoders, r):
    if readout == "eigenvalues":
        return 0
    if n_decoders is not None:
        return n_decoders
    return r * (r + 1) // 2 if readout == "decoder" else r


@pytest.mark.parametrize("readout, n_decoders, hermitian, n_outputs", ATTRIBUTE_CASES)
def test_fitted_attributes(readout, n_decoders, hermitian, n_outputs):
    n, r, p = 4, 2, 3
    X, y = make_data(n_features=p, n_outputs=n_outputs)
    est = PMMRegressor(
        **FULL_DATA,
        matrix_size=n,
        n_eigenvectors=r,
        n_decoders=n_decoders,
        readout=readout,
        hermitian=hermitian,
        max_iter=100,
        tol=1e-4,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)

    H = est.hamiltonians_
    assert H.shape == (p + 1, n, n)
    assert_allclose(H, np.conj(np.swapaxes(H, 1, 2)), rtol=0, atol=0)
    if hermitian == "real":
        assert not np.iscomplexobj(H) or np.all(H.imag == 0)

    M = n_matrices_per_output(readout, n_decoders, r)
    if readout == "eigenvalues":
        assert est.decoders_ is None
    else:
        D = est.decoders_
        assert D.shape == (n_outputs, M, n, n)
        assert_allclose(D, np.conj(np.swapaxes(D, 2, 3)), rtol=0, atol=0)
    assert est.intercept_.shape == (n_outputs,)
    assert np.all(np.isfinite(est.intercept_))

    assert est.n_features_in_ == p
    assert isinstance(est.n_iter_, int | np.integer) and est.n_iter_ >= 1
    assert np.isfinite(est.loss_)
    curve = np.asarray(est.loss_curve_)
    assert len(curve) == est.n_iter_
    assert curve[-1] <= curve[0]
    # L-BFGS line searches enforce sufficient decrease: monotone, up to rounding
    assert np.all(np.diff(curve) <= 1e-12 * np.abs(curve[:-1]))
    assert est.loss_ == pytest.approx(curve[-1], rel=1e-12)

    # loss_ is the half mean squared error in standardised target units
    # (alpha=0): recompute it from the predictions in user units.
    targets = y.reshape(len(y), -1)
    y_scale = targets.std(axis=0)
    if readout == "eigenvalues":  # one common scale, so H can absorb it
        y_scale = np.full_like(y_scale, y_scale.max())
    residual = (est.predict(X).reshape(targets.shape) - targets) / y_scale
    expected_loss = 0.5 * np.mean(np.sum(residual**2, axis=1))
    assert est.loss_ == pytest.approx(expected_loss, rel=1e-8)

    k = n * (n + 1) // 2 if hermitian == "real" else n * n
    assert est.n_params_ == (p + 1) * k + n_outputs * M * k + n_outputs


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_n_params_of_the_paper_model():
    # The paper's regression model: 7x7 complex, r = 3, p = 2, q = 1:
    # 3 * 49 (H_0, H_1, H_2) + 6 * 49 (one decoder per pair) + 1 = 442.
    X, y = make_data(n_samples=20, n_features=2)
    est = PMMRegressor(
        **FULL_DATA, matrix_size=7, n_eigenvectors=3, hermitian="complex", max_iter=1
    ).fit(X, y)
    assert est.n_params_ == 442
    assert est.decoders_.shape == (1, 6, 7, 7)


@ignore_convergence
@pytest.mark.parametrize("readout, n_decoders, hermitian, n_outputs", ATTRIBUTE_CASES)
@pytest.mark.parametrize("which", ["lowest", "highest", "largest_magnitude"])
def test_predictions_equal_manual_forward_pass(
    readout, n_decoders, hermitian, n_outputs, which
):
    X, y = make_data(n_samples=30, n_outputs=n_outputs)
    est = fit(
        X,
        y,
        matrix_size=4,
        n_decoders=n_decoders,
        readout=readout,
        hermitian=hermitian,
        which=which,
        max_iter=8,
    )
    X_new = make_data(n_samples=25, seed=7)[0]
    for data in (X, X_new):
        expected = manual_predict(est, data)
        if y.ndim == 1:
            expected = expected[:, 0]
        scale = np.max(np.abs(expected))
        assert_allclose(est.predict(data), expected, rtol=1e-10, atol=1e-10 * scale)


@ignore_convergence
@pytest.mark.parametrize("hermitian", ["real", "complex"])
def test_eigenvalues_method(hermitian):
    X, y = make_data(n_features=3)
    est = fit(X, y, matrix_size=5, hermitian=hermitian, max_iter=10)
    X_new = make_data(n_samples=15, n_features=3, seed=5)[0]
    values = est.eigenvalues(X_new)
    assert values.shape == (15, 5)
    assert values.dtype == np.float64
    assert np.all(np.diff(values, axis=1) >= 0)
    expected = np.linalg.eigvalsh(manual_primary(est, X_new))
    scale = np.max(np.abs(expected))
    assert_allclose(values, expected, rtol=1e-10, atol=1e-12 * scale)
    # prediction-like methods must not change the estimator's state
    state = copy.deepcopy(vars(est))
    est.eigenvalues(X_new)
    assert vars(est).keys() == state.keys()
    for key, value in state.items():
        if isinstance(value, np.ndarray):
            assert_array_equal(vars(est)[key], value, err_msg=key)
    # the same validation as predict
    with pytest.raises(ValueError, match="features"):
        est.eigenvalues(X_new[:, :2])


# --------------------------------------------------------------------------
# target shapes
# --------------------------------------------------------------------------


@ignore_convergence
@pytest.mark.parametrize("readout", READOUTS)
def test_multi_output_fits_each_output_as_well_as_alone(readout):
    # Two different outputs share one matrix family; each output keeps its own
    # decoders and intercept, so each is fitted about as well as when it is
    # the only target (measured gaps: below 0.006 in R²).
    X, y = make_data(n_outputs=2)
    est = fit(X, y, readout=readout, max_iter=100)
    prediction = est.predict(X)
    assert prediction.shape == (len(X), 2)
    assert len(est.intercept_) == 2
    r2 = r2_score(y, prediction, multioutput="raw_values")
    alone = [
        fit(X, y[:, k], readout=readout, max_iter=100).score(X, y[:, k])
        for k in range(2)
    ]
    assert_allclose(r2, alone, atol=0.01)
    if readout != "eigenvalues":  # the lowest level is concave along lines
        assert np.all(r2 > 0.999)


@ignore_convergence
@pytest.mark.parametrize("readout", READOUTS)
def test_one_d_and_column_vector_targets(readout):
    X, y = make_data()
    flat = fit(X, y, readout=readout, max_iter=15)
    assert flat.predict(X).shape == (len(X),)
    with warnings.catch_warnings():
        # MultiOutputMixin: a column vector is a valid multi-output target
        warnings.simplefilter("error", DataConversionWarning)
        column = fit(X, y[:, None], readout=readout, max_iter=15)
    assert column.predict(X).shape == (len(X), 1)
    # the same problem internally: the same model
    assert_allclose(column.predict(X)[:, 0], flat.predict(X), rtol=1e-12)


# --------------------------------------------------------------------------
# warm start, restarts
# --------------------------------------------------------------------------


@ignore_convergence
def test_warm_start_continues_from_the_previous_fit():
    X, y = make_data()
    est = fit(X, y, max_iter=100, warm_start=True)
    previous = est.loss_
    previous_hamiltonians = est.hamiltonians_.copy()
    est.set_params(max_iter=1).fit(X, y)
    cold = fit(X, y, max_iter=1)
    # Measured: previous 9.34e-5, warm first step 9.28e-5, cold first step 0.61.
    assert est.loss_curve_[0] <= previous * (1 + 1e-8)
    assert est.loss_curve_[0] >= 0.5 * previous
    assert est.loss_curve_[0] < 1e-2 * cold.loss_curve_[0]
    # one more iteration moves the matrices only a little (measured 7e-5)
    change = np.max(np.abs(est.hamiltonians_ - previous_hamiltonians))
    assert change < 1e-2 * np.max(np.abs(previous_hamiltonians))


@ignore_convergence
def test_warm_start_without_change_of_data_keeps_the_model():
    # rescaling out of and back into internal units is exact enough that a
    # warm start from a fitted model starts at its loss
    X, y = make_data()
    est = fit(X, y, max_iter=40, warm_start=True)
    before = est.predict(X)
    est.set_params(max_iter=1).fit(X, y)
    # measured: predictions move by 4e-3 of the target range
    assert_allclose(est.predict(X), before, rtol=0, atol=2e-2 * np.ptp(y))


@ignore_convergence
def test_warm_start_with_a_new_shape_falls_back_to_a_cold_start():
    X, y = make_data()
    est = fit(X, y, max_iter=20, warm_start=True)
    # matrix_size changes: the old matrices cannot be reused
    est.set_params(matrix_size=4, max_iter=5).fit(X, y)
    cold = fit(X, y, matrix_size=4, max_iter=5)
    assert est.hamiltonians_.shape == (3, 4, 4)
    assert_array_equal(est.hamiltonians_, cold.hamiltonians_)
    assert_array_equal(est.decoders_, cold.decoders_)
    # the number of outputs changes
    y2 = np.column_stack([y, -y])
    est.set_params(max_iter=5).fit(X, y2)
    cold2 = fit(X, y2, matrix_size=4, max_iter=5)
    assert_array_equal(est.decoders_, cold2.decoders_)
    assert est.predict(X).shape == (len(X), 2)
    # the number of features cannot change under warm_start (as MLPRegressor)
    with pytest.raises(ValueError, match="features"):
        est.fit(X[:, :1], y)


FINAL_LOSS = re.compile(r"start (\d+) iteration (\d+): loss=(\S+)")


def start_losses(output):
    """``{start: [loss per iteration]}`` parsed from the verbose lines."""
    losses = {}
    for start, _, loss in FINAL_LOSS.findall(output):
        losses.setdefault(int(start), []).append(float(loss))
    return losses


@ignore_convergence
@pytest.mark.parametrize("readout", ["decoder", "eigenvalues"])
def test_restarts_are_distinct_draws_and_the_best_is_kept(readout, capsys):
    X, y = make_data()
    single = fit(X, y, readout=readout, max_iter=40, verbose=1)
    first = start_losses(capsys.readouterr().out)
    multi = fit(X, y, readout=readout, max_iter=40, n_restarts=2, verbose=1)
    losses = start_losses(capsys.readouterr().out)
    assert sorted(losses) == [0, 1, 2]
    # Three different starting points, the first one the single fit's.
    assert len({curve[0] for curve in losses.values()}) == 3
    assert losses[0] == first[0]
    # The fit keeps the start with the lowest final loss.
    best = min(losses, key=lambda start: losses[start][-1])
    assert multi.loss_ == pytest.approx(losses[best][-1], rel=1e-5)
    assert multi.loss_ == pytest.approx(
        min(curve[-1] for curve in losses.values()), rel=1e-5
    )
    assert multi.loss_ <= single.loss_


# --------------------------------------------------------------------------
# verbose output and warnings
# --------------------------------------------------------------------------


@ignore_convergence
def test_verbose_prints_every_iteration(capsys):
    X, y = make_data()
    est = fit(X, y, max_iter=5, verbose=1)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == est.n_iter_ == 5
    for line, loss in zip(lines, est.loss_curve_, strict=True):
        assert "loss" in line and "grad" in line
        numbers = dict(re.findall(r"(loss|grad\|_inf)=(\S+)", line))
        assert float(numbers["loss"]) == pytest.approx(loss, rel=1e-5)
        assert np.isfinite(float(numbers["grad|_inf"]))


def test_silent_by_default(capsys):
    X, y = make_data()
    fit(X, y, max_iter=30, tol=1e-2)
    assert capsys.readouterr().out == ""


def test_convergence_warning_when_max_iter_is_reached():
    X, y = make_data()
    with pytest.warns(ConvergenceWarning):
        est = fit(X, y, max_iter=1)
    assert est.n_iter_ == 1


def test_no_warning_when_converged():
    X, y = make_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = fit(X, y, max_iter=200, tol=1e-2)
    assert est.n_iter_ < 200


def test_immediate_convergence_reports_one_iteration():
    # gtol met at the starting point: L-BFGS makes no step, and n_iter_ is
    # still >= 1 (check_non_transformer_estimators_n_iter's convention).
    X, y = make_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = fit(X, y, max_iter=50, tol=1e3)
    assert est.n_iter_ == 1
    assert np.isfinite(est.loss_)
    assert np.all(np.isfinite(est.predict(X)))


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_raise(bad):
    X, y = make_data(n_samples=20)
    X_bad = X.copy()
    X_bad[3, 1] = bad
    y_bad = y.copy()
    y_bad[4] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        fit(X_bad, y, max_iter=2)
    with pytest.raises(ValueError, match="NaN|infinity"):
        fit(X, y_bad, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = fit(X, y, max_iter=2)
    with pytest.raises(ValueError, match="NaN|infinity"):
        est.predict(X_bad)
    with pytest.raises(ValueError, match="NaN|infinity"):
        est.eigenvalues(X_bad)


@ignore_convergence
def test_wrong_number_of_features_at_predict():
    X, y = make_data(n_samples=20, n_features=3)
    est = fit(X, y, max_iter=2)
    with pytest.raises(
        ValueError, match="X has 2 features, but PMMRegressor is expecting 3"
    ):
        est.predict(X[:, :2])


def test_more_eigenvectors_than_matrix_size():
    X, y = make_data(n_samples=20)
    with pytest.raises(ValueError, match=r"n_eigenvectors=4 .*matrix_size=3"):
        fit(X, y, matrix_size=3, n_eigenvectors=4)


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(matrix_size=1, n_eigenvectors=1), "matrix_size=1 makes a constant"),
        (
            dict(readout="expectation", n_decoders=1, n_eigenvectors=3),
            "n_decoders=1 with n_eigenvectors=3 = matrix_size makes a constant",
        ),
    ],
)
def test_settings_that_make_a_constant_model_are_rejected(params, message):
    X, y = make_data(n_samples=20)
    with pytest.raises(ValueError, match=message):
        fit(X, y, **params)


@ignore_convergence
def test_eigenvalue_readout_reads_one_level_per_output():
    X, y = make_data(n_samples=20, n_outputs=3)
    est = fit(X, y, readout="eigenvalues", n_eigenvectors=2, max_iter=20)
    # Output k is level k of H(x) plus its intercept.
    levels = est.eigenvalues(X)
    assert_allclose(est.predict(X), levels[:, :3] + est.intercept_, rtol=1e-12)
    X, y = make_data(n_samples=20, n_outputs=4)
    with pytest.raises(ValueError, match=r"4 levels, but matrix_size=3"):
        fit(X, y, readout="eigenvalues", n_eigenvectors=2)


@ignore_convergence
@pytest.mark.parametrize("which", ["lowest", "highest", "largest_magnitude", 1])
def test_eigenvalue_readout_does_not_use_n_eigenvectors(which):
    # The first n_outputs levels of a larger selection are the same levels,
    # so n_eigenvectors changes nothing, and it must not demand a larger
    # matrix (the default r = 3 rejected matrix_size=1 and 2, and which=1
    # on 3 x 3, though one level was read).
    X, y = make_data(n_samples=20)
    predictions = [
        fit(
            X,
            y,
            readout="eigenvalues",
            matrix_size=4,
            which=which,
            n_eigenvectors=r,
            max_iter=20,
        ).predict(X)
        for r in (1, 3, 4)
    ]
    assert_array_equal(predictions[1], predictions[0])
    assert_array_equal(predictions[2], predictions[0])
    for matrix_size in (1, 2):
        est = fit(
            X,
            y,
            readout="eigenvalues",
            matrix_size=matrix_size,
            n_eigenvectors=3,
            max_iter=20,
        )
        assert est.predict(X).shape == y.shape
    fit(X, y, readout="eigenvalues", matrix_size=3, which=2, max_iter=20)
    with pytest.raises(ValueError, match="which=3 selects levels up to 3"):
        fit(X, y, readout="eigenvalues", matrix_size=3, which=3)


@ignore_convergence
def test_eigenvalue_readout_continues_after_a_change_of_n_eigenvectors():
    # n_eigenvectors is unused by this readout, so changing it must not make
    # a new model: a warm start continues, and so does partial_fit.
    X, y = make_data(n_samples=30)
    params = dict(readout="eigenvalues", matrix_size=3, n_eigenvectors=3)
    est = fit(X, y, **params, max_iter=30, warm_start=True)
    before = est.hamiltonians_.copy()
    est.set_params(n_eigenvectors=1, max_iter=1).fit(X, y)
    # measured: 3.6e-15 when continuing, 47 for a cold start
    assert np.abs(est.hamiltonians_ - before).max() < 1e-3
    est.partial_fit(X, y)


@pytest.mark.parametrize(
    "params, name",
    [
        (dict(matrix_size=0), "matrix_size"),
        (dict(readout="foo"), "readout"),
        (dict(alpha=-1.0), "alpha"),
        (dict(n_eigenvectors=0), "n_eigenvectors"),
        (dict(which="middle"), "which"),
        (dict(hermitian="symmetric"), "hermitian"),
        (dict(max_iter=0), "max_iter"),
        (dict(n_restarts=-1), "n_restarts"),
    ],
)
def test_bad_hyperparameters(params, name):
    X, y = make_data(n_samples=20)
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter"):
        fit(X, y, **params)


def test_not_fitted():
    X, _ = make_data(n_samples=5)
    est = PMMRegressor()
    with pytest.raises(NotFittedError):
        est.predict(X)
    with pytest.raises(NotFittedError):
        est.eigenvalues(X)


# --------------------------------------------------------------------------
# sample weights
# --------------------------------------------------------------------------

# Weighted and repeated fits evaluate the same loss up to rounding, and the
# L-BFGS trajectories stay together for a few dozen iterations (measured
# differences 1e-14..1e-8 up to 60 iterations) but separate later (0.06-0.1
# after 200 iterations), so the comparison uses a fixed, short budget.
SW_PARAMS = dict(max_iter=30, tol=0.0)


@ignore_convergence
@pytest.mark.parametrize("readout", READOUTS)
def test_integer_weights_equal_repeated_samples(readout):
    X, y = make_data(n_samples=40)
    weights = np.random.default_rng(1).integers(1, 4, len(X))
    weighted = fit(X, y, sample_weight=weights, readout=readout, **SW_PARAMS)
    repeated = fit(
        np.repeat(X, weights, axis=0),
        np.repeat(y, weights),
        readout=readout,
        **SW_PARAMS,
    )
    assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-6, atol=1e-6)


@ignore_convergence
@pytest.mark.parametrize("readout", READOUTS)
def test_zero_weights_equal_removed_samples(readout):
    X, y = make_data(n_samples=40)
    weights = np.random.default_rng(2).integers(0, 4, len(X)).astype(float)
    keep = weights > 0
    assert not keep.all()
    # far-away values on the removed rows must not leak into the fit
    X_poisoned, y_poisoned = X.copy(), y.copy()
    X_poisoned[~keep] *= 50.0
    y_poisoned[~keep] = 1e3
    weighted = fit(
        X_poisoned, y_poisoned, sample_weight=weights, readout=readout, **SW_PARAMS
    )
    removed = fit(
        X[keep], y[keep], sample_weight=weights[keep], readout=readout, **SW_PARAMS
    )
    assert_allclose(weighted.predict(X), removed.predict(X), rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------
# degenerate data and degenerate starts
# --------------------------------------------------------------------------


@ignore_convergence
@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("readout", READOUTS)
def test_constant_target(readout):
    # Internally the targets are all zero; D -> 0 and g -> c is exact, but
    # L-BFGS approaches it slowly from a random start. Measured max errors
    # after 200 iterations: decoder 2e-3, expectation 2.5e-4, eigenvalues 1e-5.
    X, _ = make_data(n_samples=40)
    c = 2.5
    est = fit(X, np.full(len(X), c), readout=readout, max_iter=200)
    prediction = est.predict(X)
    assert np.all(np.isfinite(prediction))
    assert np.isfinite(est.loss_)
    assert_allclose(prediction, c, atol=2e-2)


@ignore_convergence
@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("readout", READOUTS)
def test_constant_feature(readout):
    X, y = make_data(n_samples=40, n_features=3)
    X[:, 1] = 7.0
    est = fit(X, y, readout=readout, max_iter=50)
    assert np.all(np.isfinite(est.hamiltonians_))
    prediction = est.predict(X)
    assert np.all(np.isfinite(prediction))
    assert est.score(X, y) > 0.5  # measured 0.73..0.99
    # the constant column carries no information: its value does not matter
    # in the training data (it is absorbed by H_0 together with H_1)
    X_other = X.copy()
    X_other[:, 1] = -3.0
    other = fit(X_other, y, readout=readout, max_iter=50)
    assert_allclose(other.predict(X_other), prediction, rtol=1e-6, atol=1e-6)


def degenerate_starts(est):
    """(hamiltonians, decoders) with fully degenerate primary matrices."""
    H, D = est.hamiltonians_, est.decoders_
    n = H.shape[1]
    eye = np.eye(n, dtype=H.dtype)
    identity_h = np.zeros_like(H)
    identity_h[0] = eye
    starts = {
        "all_zero": (np.zeros_like(H), None if D is None else np.zeros_like(D)),
        "identity": (
            identity_h,
            None if D is None else np.broadcast_to(eye, D.shape).copy(),
        ),
        "identity_h_fitted_decoders": (identity_h, None if D is None else D.copy()),
    }
    return starts


@ignore_convergence
@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("hermitian", ["real", "complex"])
@pytest.mark.parametrize("readout", READOUTS)
def test_fit_from_degenerate_start_stays_finite(readout, hermitian, monkeypatch):
    starts = []
    minimize_lbfgs = estimator_base.minimize_lbfgs

    def recorded_minimize_lbfgs(fun, theta0, **kwargs):
        starts.append(theta0)
        return minimize_lbfgs(fun, theta0, **kwargs)

    monkeypatch.setattr(estimator_base, "minimize_lbfgs", recorded_minimize_lbfgs)
    X, y = make_data(n_samples=40)
    template = fit(X, y, readout=readout, hermitian=hermitian, max_iter=2)
    for name, (H, D) in degenerate_starts(template).items():
        est = pickle.loads(pickle.dumps(template))
        est.hamiltonians_, est.decoders_ = H, D
        # the degenerate model itself predicts finite values
        assert np.all(np.isfinite(est.predict(X))), name
        starts.clear()
        est.set_params(warm_start=True, max_iter=20).fit(X, y)
        # L-BFGS started from the degenerate matrices: H_0 a multiple of the
        # identity (in the fit's units too), no couplings.
        params = est._build_model(est._spec).layout.unpack(starts[0])
        spectrum = np.linalg.eigvalsh(params["constant"])
        assert np.ptp(spectrum) <= 1e-12 * max(1.0, np.abs(spectrum).max()), name
        assert_array_equal(params["couplings"], 0.0)
        assert np.all(np.isfinite(est.hamiltonians_)), name
        if est.decoders_ is not None:
            assert np.all(np.isfinite(est.decoders_)), name
        assert np.all(np.isfinite(est.intercept_)), name
        assert np.isfinite(est.loss_), name
        assert np.all(np.isfinite(est.loss_curve_)), name
        assert np.all(np.isfinite(est.predict(X))), name
        assert np.all(np.isfinite(est.eigenvalues(X))), name
        # and it did not get worse than predicting the mean
        assert est.loss_ <= 0.5 + 1e-9, name


# --------------------------------------------------------------------------
# the eigenvalue readout as a function approximator
# --------------------------------------------------------------------------

GRID = (np.arange(200) / 200)[:, None]


def test_eigenvalue_readout_fits_a_concave_function():
    # The lowest eigenvalue of H_0 + x H_1 is concave in x, so a concave
    # target is the fair test of the lowest-level readout.  Measured with
    # n=6, 1000 iterations (all used): max |error| 3.8e-4, R^2 = 0.99999995.
    y = np.sin(np.pi * GRID[:, 0])
    est = PMMRegressor(
        **FULL_DATA,
        matrix_size=6,
        n_eigenvectors=1,
        readout="eigenvalues",
        hermitian="real",
        max_iter=1000,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(GRID, y)
    error = np.max(np.abs(est.predict(GRID) - y))
    assert error < 2e-3
    assert est.score(GRID, y) > 0.9999


def test_eigenvalue_readout_universal_approximation():
    # The universal-approximation form (Cook et al.): ONE eigenvalue of an
    # affine Hermitian H(x) approximates a continuous function uniformly.
    # sin(2 pi x) on [0, 1) is neither concave nor convex, and the lowest
    # (highest) level of an affine family is concave (convex) in x: "lowest"
    # stalls at R^2 = 0.73 and max |error| 1.12.  An interior level (which=3
    # of 6) has no such constraint; measured: max |error| 9.2e-5.
    y = np.sin(2 * np.pi * GRID[:, 0])
    est = PMMRegressor(
        **FULL_DATA,
        matrix_size=6,
        n_eigenvectors=1,
        which=3,
        readout="eigenvalues",
        hermitian="real",
        max_iter=2000,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(GRID, y)
    error = np.max(np.abs(est.predict(GRID) - y))
    assert error < 2e-3, f"R^2={est.score(GRID, y):.4f}, max error {error:.3g}"


@ignore_convergence
def test_lowest_level_readout_is_concave_along_a_line():
    # The mathematical fact behind the interior level above, checked on the
    # estimator: predictions of the lowest-eigenvalue readout are concave
    # along any line in input space.
    X, y = make_data(n_samples=40)
    est = fit(X, y, readout="eigenvalues", n_eigenvectors=1, max_iter=20)
    t = np.linspace(-3.0, 3.0, 101)[:, None]
    line = X.mean(axis=0) + t * np.array([1.0, -0.3])
    prediction = est.predict(line)
    second_difference = prediction[:-2] - 2 * prediction[1:-1] + prediction[2:]
    assert np.all(second_difference <= 1e-9 * np.max(np.abs(prediction)))


# --------------------------------------------------------------------------
# model selection
# --------------------------------------------------------------------------


@ignore_convergence
def test_grid_search_picks_the_better_model_and_refits_it():
    # alpha=1e4 shrinks every matrix and decoder to zero: a constant model,
    # whose held-out R² is negative (measured -0.45), against 0.91-0.97
    # for the unpenalised fits.
    X, y = make_data(n_samples=45)
    base = PMMRegressor(**TINY, max_iter=60)
    search = GridSearchCV(base, {"alpha": [0.0, 1e4], "matrix_size": [3, 4]}, cv=3)
    search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    alphas = search.cv_results_["param_alpha"]
    assert search.best_index_ == np.argmax(scores)
    assert search.best_params_["alpha"] == 0.0
    assert np.all(scores[alphas == 0.0] > 0.9)
    assert np.all(scores[alphas == 1e4] < 0.0)
    # The refitted best estimator is exactly a fresh fit with those parameters.
    refit = PMMRegressor(**TINY, max_iter=60).set_params(**search.best_params_)
    refit.fit(X, y)
    assert (
        search.best_estimator_.hamiltonians_.shape[1]
        == search.best_params_["matrix_size"]
    )
    assert_allclose(search.predict(X), refit.predict(X), rtol=1e-12)


@ignore_convergence
def test_cross_val_score_matches_manual_folds():
    X, y = make_data(n_samples=45)
    est = PMMRegressor(**TINY, max_iter=20)
    cv = KFold(3)
    scores = cross_val_score(est, X, y, cv=cv)
    assert scores.shape == (3,)
    manual = []
    for train, test in cv.split(X):
        fold = PMMRegressor(**TINY, max_iter=20).fit(X[train], y[train])
        manual.append(fold.score(X[test], y[test]))
    assert_allclose(scores, manual, rtol=1e-12)


@ignore_convergence
def test_set_params_after_fit_keeps_the_fitted_model():
    # predict reads the fitted layout, not the current hyperparameters.
    X, y = make_data(n_samples=40)
    est = fit(X, y, matrix_size=4, max_iter=20)
    before = est.predict(X)
    est.set_params(matrix_size=6, hermitian="real", readout="eigenvalues")
    assert_allclose(est.predict(X), before, rtol=0, atol=1e-12)
    assert est.eigenvalues(X).shape == (len(X), 4)


# --------------------------------------------------------------------------
# learned directions (n_directions)
# --------------------------------------------------------------------------


def packed_couplings(est):
    """H_1 .. H_p as rows of real floats (real and imaginary parts)."""
    couplings = est.hamiltonians_[1:].reshape(len(est.hamiltonians_) - 1, -1)
    return np.hstack([couplings.real, couplings.imag])


@ignore_convergence
@pytest.mark.parametrize("hermitian", ["real", "complex"])
def test_n_directions_gives_couplings_of_that_rank(hermitian):
    X, y = make_data(n_features=5)
    est = fit(X, y, matrix_size=4, hermitian=hermitian, n_directions=2, max_iter=30)
    n, p, K = 4, 5, 2
    floats = n * (n + 1) // 2 if hermitian == "real" else n * n
    decoders = 3 * floats  # one per pair of the two eigenvectors
    assert est.n_params_ == (K + 1) * floats + K * p + decoders + 1
    singular = np.linalg.svd(packed_couplings(est), compute_uv=False)
    assert singular[1] > 1e-3 * singular[0]
    assert np.all(singular[2:] < 1e-12 * singular[0])
    # hamiltonians_ is the whole model, as without projection.
    expected = manual_predict(est, X)[:, 0]
    assert_allclose(est.predict(X), expected, rtol=1e-10, atol=1e-10 * np.ptp(y))


@ignore_convergence
def test_more_directions_than_features_are_rejected():
    X, y = make_data(n_samples=20, n_features=2)
    with pytest.raises(ValueError, match="n_directions=3 must be at most n_features=2"):
        fit(X, y, n_directions=3)


def test_n_directions_warm_start_continues_from_the_fitted_directions():
    X, y = make_data(n_features=4)
    est = fit(X, y, n_directions=2, max_iter=60, warm_start=True)
    previous = est.loss_
    est.set_params(max_iter=1).fit(X, y)
    cold = fit(X, y, n_directions=2, max_iter=1)
    # Measured: previous 0.076, warm first step 0.076, cold first step 0.48.
    assert est.loss_curve_[0] <= previous * (1 + 1e-8)
    assert est.loss_curve_[0] >= 0.5 * previous
    assert est.loss_curve_[0] < 0.25 * cold.loss_curve_[0]
    # Another number of directions is another model: a cold start.
    est.set_params(n_directions=3).fit(X, y)
    assert_allclose(est.loss_, fit(X, y, n_directions=3, max_iter=1).loss_)


@ignore_convergence
def test_as_many_directions_as_features_fits_the_full_affine_model():
    # K = p learns the same family as n_directions=None (other parameters):
    # the identity projection gives the affine map's matrices exactly, ...
    X, y = make_data(n_features=2)
    full = fit(X, y, max_iter=200)
    params = {
        "constant": full.hamiltonians_[0],
        "couplings": full.hamiltonians_[1:],
        "projection": np.eye(2),
    }
    n = full.hamiltonians_.shape[-1]
    assert_array_equal(
        ProjectedMap(2, 2, n, True).matrices(params, X),
        AffineMap(2, n, True).matrices(params, X),
    )
    # ... and a fit with K = p uses both directions and fits as well.  It
    # converges more slowly: R^2 0.99985 after 300 iterations (measured), but
    # 0.9990-0.9995 after 200, where the summation order alone moves it.
    projected = fit(X, y, n_directions=2, max_iter=300)
    singular = np.linalg.svd(packed_couplings(projected), compute_uv=False)
    assert singular[1] > 1e-3 * singular[0]
    assert projected.score(X, y) > 0.999
    assert full.score(X, y) > 0.999


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_string_targets_convert_or_fail_clearly(method):
    # As Ridge: numeric strings are numbers, others a clear ValueError, and
    # a "nan" string is caught as NaN.
    X, y = make_data(n_samples=40)
    fitted = getattr(PMMRegressor(**TINY, max_iter=5), method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        expected = getattr(PMMRegressor(**TINY, max_iter=5), method)(X, y)
        assert_allclose(fitted(X, y.astype(str)).predict(X), expected.predict(X))
    with pytest.raises(ValueError, match="could not convert string to float"):
        getattr(PMMRegressor(**TINY), method)(X, np.full(40, "a"))
    with pytest.raises(ValueError, match="Input y contains NaN"):
        getattr(PMMRegressor(**TINY), method)(X, np.where(y > 0, "nan", "1.0"))
