# SPDX-License-Identifier: BSD-3-Clause
"""What the shared estimator base promises every PMM estimator: canonical
training rows, early stopping on a validation split, the smoothness prior,
and fits that either succeed or leave the estimator as it was."""

import copy
import re
import time
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_iris, make_friedman1, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_pmm import PMMClassifier, PMMRegressor, PMMRegressorCV
from sklearn_pmm._base import estimator as estimator_base
from sklearn_pmm._base.estimator import _LosingCandidate, merge_duplicate_rows
from sklearn_pmm._core.model import PMMModel

SMALL = dict(matrix_size=4, n_eigenvectors=2, random_state=0)
ESTIMATORS = [PMMRegressor, PMMClassifier]

ignore_convergence = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)


def make_data(estimator_class, n_samples=80, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 3))
    score = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2]
    if estimator_class is PMMClassifier:
        return X, np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
    return X, score + 0.1 * rng.normal(size=n_samples)


@pytest.mark.parametrize("how", ["fit", "partial_fit"])
def test_adam_without_shuffle_takes_the_rows_in_their_order(how, monkeypatch):
    # Repeated rows stay rows (a merged one would be one row of one batch
    # per epoch) and keep their place: batches of ten in the given order.
    batches = []
    loss_gradient = PMMModel.loss_gradient

    def recorded_loss_gradient(self, theta, inputs, targets, *args, **kwargs):
        batches.append(targets.copy())
        return loss_gradient(self, theta, inputs, targets, *args, **kwargs)

    monkeypatch.setattr(PMMModel, "loss_gradient", recorded_loss_gradient)
    X, y = make_data(PMMRegressor, n_samples=60)
    X[:10], y[:10] = X[0], y[0]
    est = PMMRegressor(
        **SMALL,
        solver="adam",
        batch_size=10,
        shuffle=False,
        early_stopping=False,
        n_restarts=0,
        max_iter=1,
    )
    with warnings.catch_warnings(action="ignore", category=ConvergenceWarning):
        getattr(est, how)(X, y)
    assert len(batches) == 6
    standardised = (y - y.mean()) / y.std()
    assert_allclose(np.concatenate(batches).ravel(), standardised, rtol=1e-12)


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_a_failed_start_stops_the_starts_in_other_threads(
    error, failing_evaluation, blas_threads
):
    # joblib leaves the other threads of a failed Parallel call running: the
    # fit must stop them before it raises, and restore the BLAS threads.
    evaluations = failing_evaluation(error, "a start failed")
    X, y = make_data(PMMRegressor, n_samples=200)
    before = blas_threads()
    est = PMMRegressor(
        **SMALL, n_restarts=2, n_jobs=2, early_stopping=False, max_iter=500, tol=0
    )
    with pytest.raises(error, match="a start failed"):
        est.fit(X, y)
    n_evaluations = len(evaluations)
    time.sleep(0.3)
    assert len(evaluations) == n_evaluations
    assert blas_threads() == before


def test_merge_duplicate_rows_sums_weights_and_drops_zeros():
    X = np.array([[2.0, 0.0], [1.0, 5.0], [2.0, 0.0], [3.0, 3.0], [1.0, 5.0]])
    targets = np.array([[1.0], [4.0], [1.0], [9.0], [7.0]])
    weights = np.array([1.0, 2.0, 0.5, 0.0, 1.0])
    merged_X, merged_targets, merged_weights = merge_duplicate_rows(X, targets, weights)
    # [1, 5] appears with two targets: two rows; [3, 3] has zero weight.
    assert_array_equal(merged_X, [[1.0, 5.0], [1.0, 5.0], [2.0, 0.0]])
    assert_array_equal(merged_targets, [[4.0], [7.0], [1.0]])
    # Summed to [2, 1, 1.5], then halved: the largest weight lies in [1, 2).
    assert_array_equal(merged_weights, [1.0, 0.5, 0.75])


@pytest.mark.parametrize("seed", range(5))
def test_merge_duplicate_rows_matches_np_unique(seed):
    # Many duplicates (small integer grid) and zero weights: the rows and their
    # order are those of np.unique(axis=0), and each weight is its group's sum.
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 3, size=(300, 2)).astype(float)
    targets = rng.integers(0, 2, size=(300, 2)).astype(float)
    weights = rng.integers(0, 3, size=300) * rng.uniform(0.5, 1.5, size=300)
    merged_X, merged_targets, merged_weights = merge_duplicate_rows(X, targets, weights)
    rows = np.concatenate([X, targets], axis=1)
    keep = weights > 0
    unique, inverse = np.unique(rows[keep], axis=0, return_inverse=True)
    assert_array_equal(np.concatenate([merged_X, merged_targets], axis=1), unique)
    expected = np.bincount(inverse.ravel(), weights=weights[keep])
    scale = merged_weights.max() / expected.max()
    assert 1 <= merged_weights.max() < 2
    assert scale == 2.0 ** np.round(np.log2(scale))
    assert_allclose(merged_weights, scale * expected, rtol=1e-15)


@ignore_convergence
@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_huge_or_tiny_weights_fit_like_unit_weights(estimator_class):
    # Weighted sums of 80 losses at weight 2**1020 overflowed; the weights
    # are rescaled by a power of two, which is exact.
    X, y = make_data(estimator_class)
    # A number: the classifier's alpha="auto" scales with the total weight
    # (test_auto_alpha_with_huge_weights).
    params = dict(SMALL, max_iter=30, alpha=0.02)
    method = "predict_proba" if estimator_class is PMMClassifier else "predict"
    unit = getattr(estimator_class(**params).fit(X, y), method)(X)
    for weight in [2.0**1020, 2.0**-1020]:
        weighted = estimator_class(**params).fit(
            X, y, sample_weight=np.full(len(X), weight)
        )
        assert_array_equal(getattr(weighted, method)(X), unit)
    weighted = estimator_class(**params).fit(X, y, sample_weight=np.full(len(X), 1e306))
    assert_allclose(getattr(weighted, method)(X), unit, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_huge_weights_in_partial_fit_fit_like_unit_weights(estimator_class):
    # The classifier's check for a positive block weight summed the weights,
    # which overflowed at 2**1020 (a RuntimeWarning, an error here).
    X, y = make_data(estimator_class)
    extra = {"classes": np.unique(y)} if estimator_class is PMMClassifier else {}
    method = "predict_proba" if estimator_class is PMMClassifier else "predict"
    params = dict(SMALL, alpha=0.02)  # a number, as above
    unit = estimator_class(**params).partial_fit(X, y, **extra)
    huge = estimator_class(**params).partial_fit(
        X, y, sample_weight=np.full(len(X), 2.0**1020), **extra
    )
    assert_array_equal(getattr(huge, method)(X), getattr(unit, method)(X))


@ignore_convergence
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_auto_alpha_with_huge_weights(method):
    # alpha="auto" is 3 p over the user's total weight: tiny, or zero once
    # the total overflows, and never a warning (RuntimeWarnings are errors).
    X, y = make_data(PMMClassifier)
    extra = {"classes": np.unique(y)} if method == "partial_fit" else {}
    penalties = {}
    for weight in [2.0**1020, 1e307]:
        clf = PMMClassifier(**SMALL, max_iter=30)
        getattr(clf, method)(X, y, sample_weight=np.full(len(X), weight), **extra)
        assert np.all(np.isfinite(clf.predict_proba(X)))
        total = (
            clf._fit_weight if method == "fit" else clf._partial_state["total_weight"]
        )
        penalties[weight] = clf._penalty(total)
    assert penalties[2.0**1020] == pytest.approx(3 * 3 / (80 * 2.0**1020), rel=1e-12)
    assert penalties[1e307] == 0.0  # 80 rows of 1e307 overflow


@ignore_convergence
@pytest.mark.parametrize("estimator_class", ESTIMATORS)
@pytest.mark.parametrize("early_stopping", [False, True])
def test_integer_weights_and_repeats_give_identical_models(
    estimator_class, early_stopping
):
    # Bit for bit, after many iterations and in any row order.
    X, y = make_data(estimator_class)
    weights = np.random.default_rng(1).integers(0, 4, len(X))
    order = np.random.default_rng(2).permutation(len(X))
    params = dict(SMALL, max_iter=150, early_stopping=early_stopping)
    weighted = estimator_class(**params).fit(
        X[order], y[order], sample_weight=weights[order]
    )
    repeated = estimator_class(**params).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights)
    )
    method = "predict_proba" if estimator_class is PMMClassifier else "predict"
    assert_array_equal(getattr(weighted, method)(X), getattr(repeated, method)(X))
    assert weighted.n_iter_ == repeated.n_iter_


@ignore_convergence  # the converged candidate may end at max_iter
@pytest.mark.parametrize("n_samples", [60, 200])
@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_early_stopping_keeps_the_better_candidate(
    estimator_class, n_samples, monkeypatch
):
    losses = []
    validate = estimator_base._BasePMM._validate

    def recording_validate(self, *args):
        loss, score = validate(self, *args)
        losses.append(loss)
        return loss, score

    monkeypatch.setattr(estimator_base._BasePMM, "_validate", recording_validate)
    X, y = make_data(estimator_class, n_samples=n_samples)
    est = estimator_class(
        **SMALL, early_stopping=True, n_iter_no_change=5, max_iter=500
    ).fit(X, y)
    scores = est.validation_scores_
    # The smoothness path (4 stages, each ended by 5 iterations without
    # improvement or by convergence), then the converged candidate's score.
    n_path = len(scores) - 1
    assert n_path >= 4 * 5
    assert est.best_validation_score_ in scores
    # The path's validations come first; the converged candidate's last.
    smooth_loss, converged_loss = min(losses[:n_path]), losses[-1]
    converged_won = est.n_iter_ != n_path
    assert converged_won == (converged_loss < smooth_loss)
    if converged_won:
        assert est.best_validation_score_ == scores[-1]
    # (The kept path iterate has the lowest validation loss, whose score,
    # an accuracy for classifiers, need not be the highest.)
    assert len(est.loss_curve_) == est.n_iter_


@pytest.mark.parametrize(
    "rival_loss, loses", [(3.0, True), (4.0, True), (4.5, False)], ids=str
)
def test_losing_candidate_stops_only_a_stalled_loser(rival_loss, loses):
    # Best loss 4.0 from the second call on; patience 2 is used up on the
    # fourth, which stops the run unless 4.0 beats the rival's loss.
    losses = iter([5.0, 4.0, 4.5, 4.2, 4.1, 4.3])
    watch = _LosingCandidate(lambda theta: (next(losses), 0.5), rival_loss, 2)
    stops = [watch(None) for _ in range(6)]
    expected = [False] * 3 + [True] * 3 if loses else [False] * 6
    assert stops == expected
    assert watch.last_score == 0.5


def test_a_losing_converged_candidate_is_abandoned(monkeypatch, capsys):
    # Pure noise: the converged candidate's validation loss bottoms out early
    # and it loses.  Abandoning it saves iterations and changes nothing else.
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(200, 5)), rng.normal(size=200)

    def fit():
        est = PMMRegressor(n_restarts=0, random_state=0, verbose=1).fit(X, y)
        lines = capsys.readouterr().out.splitlines()
        return est, sum("converged iteration" in line for line in lines)

    capped, capped_iterations = fit()
    monkeypatch.setattr(estimator_base, "_CANDIDATE_PATIENCE", 10**6)
    uncapped, uncapped_iterations = fit()
    assert capped_iterations < uncapped_iterations
    assert capped.n_iter_ == uncapped.n_iter_  # the smooth candidate's
    assert_array_equal(capped.predict(X), uncapped.predict(X))
    # The last validation score is the abandoned or the converged candidate's.
    assert capped.validation_scores_[:-1] == uncapped.validation_scores_[:-1]


def noiseless_data(n_samples=200):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_samples, 2))
    return X, np.sin(X[:, 0]) + 0.5 * X[:, 0] * X[:, 1]


@pytest.mark.parametrize("estimator_class", [PMMRegressor, PMMClassifier])
def test_verbose_partial_fit_reports_each_epoch(estimator_class, capsys):
    X, y = make_data(estimator_class)
    extra = {"classes": np.unique(y)} if estimator_class is PMMClassifier else {}
    est = estimator_class(**SMALL, verbose=1)
    for _ in range(2):
        est.partial_fit(X, y, **extra)
    lines = capsys.readouterr().out.splitlines()
    name = estimator_class.__name__
    assert [line.split(":")[0] for line in lines] == [
        f"[{name}] partial_fit epoch {epoch} iteration 1" for epoch in (1, 2)
    ]
    losses = [float(re.search(r"loss=(\S+)", line).group(1)) for line in lines]
    assert losses == pytest.approx(est.loss_curve_, rel=1e-5)


def test_the_chosen_converged_candidate_ends_on_every_row(capsys):
    # Noiseless data: the converged candidate wins, then goes on from where
    # it stopped on all rows, the held-out ones included.
    X, y = noiseless_data()
    est = PMMRegressor(**SMALL, n_restarts=0, verbose=1).fit(X, y)
    assert est.best_validation_score_ == est.validation_scores_[-1]
    lines = capsys.readouterr().out.splitlines()
    converged = [line for line in lines if "start 0 converged iteration" in line]
    every_row = [line for line in lines if "start 0 on every row iteration" in line]
    assert converged and every_row
    assert est.n_iter_ == len(est.loss_curve_) == len(converged) + len(every_row)
    final_loss = float(re.search(r"loss=(\S+)", every_row[-1]).group(1))
    assert est.loss_ == pytest.approx(final_loss, rel=1e-5)


@pytest.mark.parametrize(
    "make_estimator",
    [
        # Adam's converged candidate ends where it stopped (large data).
        lambda: PMMRegressor(**SMALL, n_restarts=0, solver="adam", max_iter=20),
        # A committee member's fold stays out-of-fold.
        lambda: PMMRegressorCV(
            PMMRegressor(**SMALL, n_restarts=0, max_iter=500), n_estimators=2
        ),
    ],
    ids=["adam", "committee_member"],
)
def test_no_run_on_every_row(make_estimator, capsys):
    X, y = noiseless_data()
    est = make_estimator()
    est.set_params(
        **{"estimator__verbose" if hasattr(est, "estimator") else "verbose": 1}
    )
    with warnings.catch_warnings(action="ignore", category=ConvergenceWarning):
        est.fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert any("converged iteration" in line for line in lines)
    assert not any("on every row" in line for line in lines)
    if hasattr(est, "estimator"):  # each member's lines say which it is
        members = {re.match(r"\[PMMRegressor\] (member \d+) ", x)[1] for x in lines}
        assert members == {"member 0", "member 1"}


@ignore_convergence
@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_without_early_stopping_there_are_no_validation_scores(estimator_class):
    X, y = make_data(estimator_class)
    est = estimator_class(**SMALL, max_iter=20, early_stopping=False).fit(X, y)
    assert est.validation_scores_ is None
    assert est.best_validation_score_ is None


def test_validation_split_is_stratified():
    _, y = make_data(PMMClassifier, n_samples=90)
    est = PMMClassifier(**SMALL, early_stopping=True, validation_fraction=0.2)
    rng = np.random.RandomState(0)
    targets = np.eye(3)[y]
    train, validation = est._validation_split(targets, np.ones(len(y)), rng)
    assert len(validation) == 18
    assert_array_equal(np.bincount(y[validation]), [6, 6, 6])
    assert set(train).isdisjoint(validation)
    assert len(train) + len(validation) == len(y)


@ignore_convergence
def test_tiny_data_fit_without_a_validation_split():
    X, y = make_data(PMMRegressor, n_samples=8)
    est = PMMRegressor(**SMALL, early_stopping=True, max_iter=30).fit(X, y)
    assert est.validation_scores_ is None


def test_early_stopping_generalises_on_noisy_data():
    # The fits interpolate the noise without it (the reason for the option).
    X, y = make_friedman1(n_samples=300, n_features=10, noise=1.0, random_state=0)
    X_test, y_test = make_friedman1(
        n_samples=1000, n_features=10, noise=0.0, random_state=1
    )
    stopped = PMMRegressor(random_state=0, early_stopping=True, smoothness=1.0)
    stopped.fit(X, y)
    assert stopped.score(X_test, y_test) > 0.85


@ignore_convergence
@pytest.mark.parametrize("n_directions", [None, 2])
@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_a_feature_constant_in_training_is_inert(estimator_class, n_directions):
    X, y = make_data(estimator_class)
    X = np.column_stack([X[:, :2], np.full(len(X), 2.0), X[:, 2]])
    est = estimator_class(**SMALL, max_iter=30, n_directions=n_directions).fit(X, y)
    # No coupling for column 2, so its value at prediction time is ignored.
    assert_array_equal(est.hamiltonians_[1 + 2], 0.0)
    assert np.all(np.abs(est.hamiltonians_[[1, 2, 4]]).max(axis=(1, 2)) > 0)
    moved = X.copy()
    moved[:, 2] = -7.0
    outputs = "predict" if estimator_class is PMMRegressor else "predict_proba"
    assert_allclose(
        getattr(est, outputs)(moved), getattr(est, outputs)(X), rtol=1e-12, atol=1e-12
    )


@ignore_convergence
def test_a_feature_that_varies_in_one_fitted_row_keeps_its_couplings():
    X, y = make_data(PMMRegressor)
    X = np.column_stack([X, np.zeros(len(X))])
    X[5, 3] = 1.0
    est = PMMRegressor(**SMALL, max_iter=30, early_stopping=False).fit(X, y)
    assert np.abs(est.hamiltonians_[1 + 3]).max() > 0


@pytest.mark.parametrize("complex_valued", [False, True])
def test_smoothness_penalty_is_scale_free(complex_valued):
    from sklearn_pmm._core.maps import AffineMap

    affine = AffineMap(3, 4, complex_valued)
    params = affine.initial_parameters(np.random.RandomState(0))
    value, _ = affine.smoothness_penalty(params)
    scaled, _ = affine.smoothness_penalty(affine.scale(params, 7.0))
    assert_allclose(scaled, value, rtol=1e-12)
    shifted = dict(params, constant=params["constant"] + 5.0 * np.eye(4))
    assert_allclose(affine.smoothness_penalty(shifted)[0], value, rtol=1e-12)


@pytest.mark.parametrize(
    "estimator, data",
    [
        (PMMRegressor(**SMALL, max_iter=3), make_data(PMMRegressor)),
        (
            PMMClassifier(
                matrix_size=3, max_iter=5, early_stopping=True, random_state=0
            ),
            load_iris(return_X_y=True),
        ),
    ],
)
def test_a_smoothness_path_cut_by_max_iter_warns(estimator, data):
    # Every stage ends at max_iter while the validation loss still falls; the
    # smooth candidate wins on these data, so only the path's own check warns.
    with pytest.warns(
        ConvergenceWarning, match="smoothness path reached max_iter"
    ) as caught:
        estimator.fit(*data)
    assert estimator.n_iter_ <= 4 * estimator.max_iter
    # Shown at the caller's fit line, not inside the package.
    assert {warning.filename for warning in caught} == {__file__}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_diverging_fit_raises_a_value_error():
    # Logits divided by 1e-160 overflow, and LAPACK then meets NaN matrices.
    X, y = make_data(PMMClassifier)
    with pytest.raises(ValueError, match="The fit diverged"):
        PMMClassifier(**SMALL, max_iter=5, temperature=1e-160).fit(X, y)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("early_stopping", [True, False])
@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_a_diverging_adam_fit_raises_a_value_error(estimator_class, early_stopping):
    # Steps of 1e200 overflow the matrices within the first epoch; with early
    # stopping the validation outputs are non-finite before LAPACK fails.
    X, y = make_data(estimator_class)
    est = estimator_class(
        **SMALL,
        solver="adam",
        learning_rate_init=1e200,
        max_iter=3,
        early_stopping=early_stopping,
    )
    with pytest.raises(ValueError, match="The fit diverged"):
        est.fit(X, y)


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_non_finite_validation_outputs_raise_a_value_error(
    estimator_class, monkeypatch
):
    # Outputs that are never finite on the validation rows give an infinite
    # validation loss at every iteration: no parameters win, and the fit
    # must say so rather than fail on missing ones.
    monkeypatch.setattr(
        estimator_base._BasePMM,
        "_validate",
        lambda self, *args: (float("inf"), float("-inf")),
    )
    X, y = make_data(estimator_class)
    est = estimator_class(**SMALL, early_stopping=True, max_iter=5, n_restarts=1)
    with pytest.raises(ValueError, match="non-finite parameters or outputs"):
        est.fit(X, y)


@ignore_convergence
@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_a_start_with_a_nan_loss_never_wins(estimator_class, monkeypatch):
    # min() keeps a NaN first element: the first start must lose as it does
    # with an infinite loss.
    run_solver = estimator_base._BasePMM._run_solver
    X, y = make_data(estimator_class)
    fitted = {}
    for bad_loss in (np.inf, np.nan):

        def first_start_fails(
            self, data, held_out, theta0, name, *args, bad_loss=bad_loss
        ):
            run = run_solver(self, data, held_out, theta0, name, *args)
            if name == "start 0":
                run = run._replace(selection_loss=bad_loss)
            return run

        monkeypatch.setattr(estimator_base._BasePMM, "_run_solver", first_start_fails)
        est = estimator_class(**SMALL, max_iter=20, n_restarts=1).fit(X, y)
        fitted[bad_loss] = (
            est.predict(X)
            if estimator_class is PMMRegressor
            else (est.predict_proba(X))
        )
    assert_array_equal(fitted[np.nan], fitted[np.inf])


@pytest.mark.parametrize("early_stopping", [True, False])
def test_adam_warns_when_it_ends_worse_than_it_started(early_stopping):
    # A user's review: learning_rate_init=1.0 gave R² -278 (-2008 without
    # early stopping) and no warning.  A working rate must stay quiet.
    X, y = make_regression(n_samples=200, n_features=4, noise=5, random_state=0)
    params = dict(solver="adam", random_state=0, max_iter=100)
    params["early_stopping"] = early_stopping
    with pytest.warns(
        ConvergenceWarning, match="than at its start .* too large"
    ) as caught:
        PMMRegressor(**params, learning_rate_init=1.0).fit(X, y)
    assert {warning.filename for warning in caught} == {__file__}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        PMMRegressor(**params, learning_rate_init=1e-2).fit(X, y)
    assert not [w for w in caught if "than at its start" in str(w.message)]


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_failed_fit_leaves_the_estimator_unchanged(estimator_class, monkeypatch):
    X, y = make_data(estimator_class)
    est = estimator_class(**SMALL, max_iter=5)
    with warnings.catch_warnings(action="ignore", category=ConvergenceWarning):
        est.fit(X, y)
    before = copy.deepcopy(vars(est))
    prediction = est.predict(X)

    def interrupt(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(PMMModel, "loss_gradient", interrupt)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X[:, :2], y)  # new shape: n_features_in_ would change
    monkeypatch.undo()
    assert vars(est).keys() == before.keys()
    assert est.n_features_in_ == 3
    assert_array_equal(est.predict(X), prediction)


# --------------------------------------------------------------------------
# Adam and partial_fit
# --------------------------------------------------------------------------


@ignore_convergence
@pytest.mark.parametrize("n_restarts", [0, 1])
def test_adam_fits_and_is_deterministic(n_restarts, threaded_chunks):
    X, y = make_data(PMMRegressor, n_samples=300)
    params = dict(
        SMALL,
        solver="adam",
        batch_size=32,
        learning_rate_init=1e-2,
        n_restarts=n_restarts,
    )
    first = PMMRegressor(**params, max_iter=40).fit(X, y)
    assert threaded_chunks[0] == 0
    second = PMMRegressor(**params, max_iter=40, n_jobs=2).fit(X, y)
    # One start runs the chunks of its mini-batches in threads; two starts
    # take a thread each.
    assert (threaded_chunks[0] > 0) == (n_restarts == 0)
    assert_array_equal(first.predict(X), second.predict(X))
    assert first.score(X, y) > 0.9
    # max_iter epochs per stage: at most four stages of the smoothness path.
    assert len(first.loss_curve_) == first.n_iter_ <= 4 * 40


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_adam_at_max_iter_warns(estimator_class):
    X, y = make_data(estimator_class)
    est = estimator_class(**SMALL, solver="adam", early_stopping=False, max_iter=2)
    with pytest.warns(
        ConvergenceWarning, match=r"Stochastic Optimizer: Maximum iterations \(2\)"
    ) as caught:
        est.fit(X, y)
    assert est.n_iter_ == 2
    assert {warning.filename for warning in caught} == {__file__}


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_partial_fit_over_blocks_converges(estimator_class):
    X, y = make_data(estimator_class, n_samples=400)
    # The decoder readout: the classifier's default eigenvalue readout fits
    # these curved classes less well (0.82 with L-BFGS, measured).
    est = estimator_class(
        **SMALL, readout="decoder", batch_size=32, learning_rate_init=1e-2
    )
    extra = {"classes": np.unique(y)} if estimator_class is PMMClassifier else {}
    for epoch in range(25):
        for block in np.array_split(np.arange(len(X)), 4):
            est.partial_fit(X[block], y[block], **(extra if epoch == 0 else {}))
    assert est.n_iter_ == 100
    # Measured 0.81 (classifier; L-BFGS to convergence reaches 0.97) and
    # 0.9 (regressor) on this data; chance is 0.33 and 0.
    threshold = 0.7 if estimator_class is PMMClassifier else 0.85
    assert est.score(X, y) > threshold
    assert np.mean(est.loss_curve_[-4:]) < 0.5 * np.mean(est.loss_curve_[:4])


def test_partial_fit_continues_from_fit():
    X, y = make_data(PMMRegressor, n_samples=200)
    est = PMMRegressor(**SMALL, max_iter=200, learning_rate_init=1e-4).fit(X, y)
    before = est.score(X, y)
    est.partial_fit(X, y)
    # partial_fit counts its own epochs (documented).
    assert est.n_iter_ == 1
    assert len(est.loss_curve_) == 1
    assert abs(est.score(X, y) - before) < 0.05


@ignore_convergence
def test_partial_fit_after_fit_keeps_fits_units():
    # One block of ten setosa rows: in its own units (features that barely
    # vary, so standardised to large values) one Adam step wrecked the
    # fitted model (0.99 -> 0.35 accuracy); in fit's units it is one step.
    X, y = load_iris(return_X_y=True)
    est = PMMClassifier(random_state=0, max_iter=100).fit(X, y)
    before = est.score(X, y)
    est.partial_fit(X[:10], y[:10])
    assert est.score(X, y) > before - 0.05


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_partial_fit_rejects_non_finite_blocks(bad):
    X, y = make_data(PMMRegressor)
    est = PMMRegressor(**SMALL).partial_fit(X[:40], y[:40])
    X_bad = X[40:].copy()
    X_bad[3, 1] = bad
    with pytest.raises(ValueError, match="Input X contains"):
        est.partial_fit(X_bad, y[40:])


def test_partial_fit_rejects_undeclared_classes_and_needs_classes():
    X, y = make_data(PMMClassifier)
    est = PMMClassifier(**SMALL)
    with pytest.raises(ValueError, match="classes must be passed"):
        est.partial_fit(X, y)
    with pytest.raises(ValueError, match=r"not in `classes`: \[2\]"):
        est.partial_fit(X, y, classes=[0, 1])
    est.partial_fit(X[y < 2], y[y < 2], classes=[0, 1])
    with pytest.raises(
        ValueError, match=r"does not have: \[2\] \(its classes, \[0, 1\]"
    ):
        est.partial_fit(X, y)
    with pytest.raises(ValueError, match=r"classes=\[0, 1, 2\]` is not the same"):
        est.partial_fit(X, y, classes=[0, 1, 2])
    # After fit the classes are fit's, and the messages say so (they spoke
    # of a first call to partial_fit that never happened).
    fitted = PMMClassifier(**SMALL).fit(X[y < 2], y[y < 2])
    with pytest.raises(
        ValueError, match="set by the first call to partial_fit or by fit"
    ):
        fitted.partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(
        ValueError, match="were set by the first call to partial_fit or by fit"
    ):
        fitted.partial_fit(X, y)


def test_partial_fit_applies_the_smoothness_prior_only_without_early_stopping():
    X, y = make_data(PMMRegressor)
    default = PMMRegressor(**SMALL).partial_fit(X, y)
    unpenalised = PMMRegressor(**SMALL, smoothness=0.0).partial_fit(X, y)
    assert_array_equal(default.predict(X), unpenalised.predict(X))
    fixed = PMMRegressor(**SMALL, early_stopping=False).partial_fit(X, y)
    assert not np.array_equal(fixed.predict(X), default.predict(X))
    # ... and the difference is the prior: without it, the same blocks.
    no_prior = PMMRegressor(**SMALL, early_stopping=False, smoothness=0.0)
    assert_array_equal(no_prior.partial_fit(X, y).predict(X), default.predict(X))


def test_partial_fit_rejects_balanced_class_weight():
    X, y = make_data(PMMClassifier)
    with pytest.raises(ValueError, match="balanced"):
        PMMClassifier(**SMALL, class_weight="balanced").partial_fit(
            X, y, classes=[0, 1, 2]
        )


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_partial_fit_rejects_a_different_number_of_features(estimator_class):
    X, y = make_data(estimator_class)
    extra = {"classes": np.unique(y)} if estimator_class is PMMClassifier else {}
    est = estimator_class(**SMALL).partial_fit(X, y, **extra)
    with pytest.raises(ValueError, match="X has 2 features"):
        est.partial_fit(X[:, :2], y)


def test_partial_fit_after_a_layout_change_raises_and_keeps_the_model():
    X, y = make_data(PMMRegressor)
    est = PMMRegressor(**SMALL).partial_fit(X, y)
    prediction = est.predict(X)
    est.set_params(matrix_size=5)
    with pytest.raises(ValueError, match="the model's layout .* changed since"):
        est.partial_fit(X, y)
    assert_array_equal(est.predict(X), prediction)
    est.set_params(matrix_size=4).partial_fit(X, y)  # restored: continues
    assert est.n_iter_ == 2


@ignore_convergence
@pytest.mark.parametrize(
    "change", ["matrix_size", "n_outputs"], ids=["parameters", "outputs"]
)
def test_partial_fit_after_fit_with_another_layout_raises(change):
    # partial_fit continues from fit's matrices: it must not silently start
    # afresh from a random draw when they no longer fit the model.
    X, y = make_data(PMMRegressor)
    Y = np.column_stack([y, -y])
    est = PMMRegressor(**SMALL, max_iter=20).fit(X, Y)
    prediction = est.predict(X)
    if change == "matrix_size":
        est.set_params(matrix_size=5)
    else:
        Y = np.column_stack([y, -y, 2 * y])
    with pytest.raises(ValueError, match="the model's layout .* changed since"):
        est.partial_fit(X, Y)
    assert_array_equal(est.set_params(matrix_size=4).predict(X), prediction)


def test_partial_fit_interrupted_keeps_the_previous_state(monkeypatch):
    X, y = make_data(PMMRegressor)
    est = PMMRegressor(**SMALL).partial_fit(X, y)
    before = copy.deepcopy(vars(est))

    def interrupt(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(PMMModel, "loss_gradient", interrupt)
    with pytest.raises(KeyboardInterrupt):
        est.partial_fit(X, y)
    monkeypatch.undo()
    assert est.n_iter_ == before["n_iter_"]
    assert_array_equal(est.hamiltonians_, before["hamiltonians_"])
    assert_array_equal(est._partial_state["theta"], before["_partial_state"]["theta"])


def test_chunk_rows_follow_working_memory(monkeypatch):
    from sklearn import config_context

    from sklearn_pmm._core.eigh import chunk_rows

    chunk_lengths = []
    forward = PMMModel._forward

    def recorded_forward(self, params, inputs, *args):
        chunk_lengths.append(len(inputs))
        return forward(self, params, inputs, *args)

    monkeypatch.setattr(PMMModel, "_forward", recorded_forward)
    X, y = make_data(PMMRegressor, n_samples=300)
    est = PMMRegressor(**SMALL, max_iter=30)
    with warnings.catch_warnings(action="ignore", category=ConvergenceWarning):
        reference = est.fit(X, y).predict(X)
    assert max(chunk_lengths) > 51
    # A chunk row of this model costs 8 * 4**2 complex floats (2 KiB).
    working_memory = 51.5 * 8 * 4**2 * 16 / 2**20
    with config_context(working_memory=working_memory):
        assert chunk_rows(est._build_model(est._spec)) == 51
    # Chunks of 51 rows, in fit and in predict: the same model to rounding
    # (sums in another order).
    chunk_lengths.clear()
    with (
        config_context(working_memory=working_memory),
        warnings.catch_warnings(action="ignore", category=ConvergenceWarning),
    ):
        tiny = PMMRegressor(**SMALL, max_iter=30).fit(X, y).predict(X)
    assert max(chunk_lengths) == 51
    # Predictions are of order one; atol covers those that are near zero.
    assert_allclose(tiny, reference, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
@pytest.mark.parametrize("how", ["fit", "partial_fit"])
def test_skops_round_trip_trusts_only_the_estimator_class(estimator_class, how):
    sio = pytest.importorskip("skops.io")
    X, y = make_data(estimator_class)
    est = estimator_class(**SMALL, max_iter=20)
    if how == "fit":
        with warnings.catch_warnings(action="ignore", category=ConvergenceWarning):
            est.fit(X, y)
    else:
        extra = {"classes": np.unique(y)} if estimator_class is PMMClassifier else {}
        est.partial_fit(X, y, **extra)
    data = sio.dumps(est)
    untrusted = sio.get_untrusted_types(data=data)
    assert untrusted == [f"{type(est).__module__}.{type(est).__name__}"]
    loaded = sio.loads(data, trusted=untrusted)
    method = "predict_proba" if estimator_class is PMMClassifier else "predict"
    assert_array_equal(getattr(loaded, method)(X), getattr(est, method)(X))
    if how == "partial_fit":  # the Adam state survives too
        est.partial_fit(X, y)
        loaded.partial_fit(X, y)
        assert_array_equal(getattr(loaded, method)(X), getattr(est, method)(X))


@pytest.mark.parametrize(
    "estimator_class, extra",
    [
        (PMMRegressor, {}),
        (PMMClassifier, {}),
        # The classifier's validation split, which its defaults do not use.
        (PMMClassifier, {"early_stopping": True}),
    ],
    ids=["PMMRegressor", "PMMClassifier", "PMMClassifier-early_stopping"],
)
@pytest.mark.parametrize("readout", ["decoder", "expectation", "eigenvalues"])
@pytest.mark.parametrize("hermitian", ["real", "complex"])
def test_sample_weight_equivalence_check_passes_with_the_defaults(
    estimator_class, extra, readout, hermitian
):
    # scikit-learn's own check, on full default fits: the merged rows make
    # the weighted and the repeated fit the same computation.
    from sklearn.utils.estimator_checks import (
        check_sample_weight_equivalence_on_dense_data,
    )

    est = estimator_class(random_state=0, readout=readout, hermitian=hermitian, **extra)
    with warnings.catch_warnings(action="ignore", category=ConvergenceWarning):
        check_sample_weight_equivalence_on_dense_data(estimator_class.__name__, est)
        # ... and stopped after 100 iterations.
        est.set_params(max_iter=100)
        check_sample_weight_equivalence_on_dense_data(estimator_class.__name__, est)


def test_lbfgs_convergence_warning_names_max_iter_not_scaling():
    # scikit-learn's message advises scaling the data, which the estimator
    # does itself.
    X, y = make_data(PMMRegressor, n_samples=60)
    with pytest.warns(ConvergenceWarning) as caught:
        PMMRegressor(**SMALL, max_iter=3, early_stopping=False).fit(X, y)
    message = str(caught[0].message)
    assert "lbfgs failed to converge after 3 iteration(s)" in message
    assert "Increase max_iter (max_iter=3)." in message
    assert "scale the data" not in message
    # The warning points at this fit call, however deep in the package and
    # scikit-learn's fit wrapper it was raised (stacklevel=3 had pointed at
    # the estimator's own fit).
    assert caught[0].filename == __file__


@pytest.mark.parametrize(
    "wrap",
    [
        lambda est: make_pipeline(StandardScaler(), est),
        lambda est: GridSearchCV(est, {"alpha": [0.0]}, cv=2),
    ],
    ids=["pipeline", "search"],
)
def test_warnings_through_scikit_learn_point_at_the_caller(wrap):
    # A filter on the user's module must match whatever scikit-learn
    # meta-estimator called fit (they had pointed into pipeline.py).
    X, y = make_data(PMMRegressor, n_samples=60)
    model = wrap(PMMRegressor(**SMALL, max_iter=3, early_stopping=False))
    with pytest.warns(ConvergenceWarning, match="lbfgs failed") as caught:
        model.fit(X, y)
    assert {warning.filename for warning in caught} == {__file__}


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_all_zero_weights_are_rejected_whatever_scikit_learn_checks(
    estimator_class, method, monkeypatch
):
    # scikit-learn rejects all-zero weights only from 1.9 on; on 1.7 and 1.8
    # (simulated: their check lets them through) the regressor failed with
    # NumPy's "zero-size array to reduction operation maximum".
    from sklearn_pmm import _compat
    from sklearn_pmm._estimators import classifier, regressor

    def lenient(sample_weight, X, **kwargs):
        return np.asarray(sample_weight, dtype=float)

    # Wherever the package takes scikit-learn's check from.
    for module in (_compat, classifier, regressor):
        monkeypatch.setattr(module, "_check_sample_weight", lenient, raising=False)
    X, y = make_data(estimator_class)
    classifier_block = method == "partial_fit" and estimator_class is PMMClassifier
    extra = {"classes": np.unique(y)} if classifier_block else {}
    with pytest.raises(ValueError, match="at least one non-zero number"):
        getattr(estimator_class(**SMALL), method)(
            X, y, sample_weight=np.zeros(len(y)), **extra
        )
