# SPDX-License-Identifier: BSD-3-Clause
"""The cross-validation committees: folds that partition the rows, members
that start on their own and hold out their own fold (stopping early on it
with early stopping), and a prediction that is their mean."""

import threading
import time
import warnings
from numbers import Integral

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_pmm import PMMClassifier, PMMClassifierCV, PMMRegressor, PMMRegressorCV
from sklearn_pmm._estimators import cv as cv_module

SMALL = dict(matrix_size=4, n_eigenvectors=2, max_iter=60, random_state=0)

ignore_convergence = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)


def regression_data(n_samples=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 3))
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=n_samples)
    return X, y


def classification_data(n_samples=90, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 3))
    y = np.digitize(X[:, 0] + 0.5 * X[:, 1], np.linspace(-1, 1, n_classes - 1))
    return X, y


BOTH_COMMITTEES = pytest.mark.parametrize(
    "committee_class, member_class, data",
    [
        (PMMRegressorCV, PMMRegressor, regression_data),
        (PMMClassifierCV, PMMClassifier, classification_data),
    ],
)


@pytest.mark.parametrize("n_folds", [2, 3, 5])
def test_validation_folds_partition_the_rows_and_keep_class_shares(n_folds):
    _, y = classification_data(n_samples=60)
    member = PMMClassifier(**SMALL)
    targets = np.eye(3)[y]
    rng = np.random.RandomState(0)
    held_out = []
    for index in range(n_folds):
        train, validation = member._validation_split(
            targets, np.ones(len(y)), rng, (index, n_folds, 7)
        )
        assert_array_equal(np.sort(np.concatenate([train, validation])), np.arange(60))
        # Stratified: every class has its share of the fold, within one row.
        expected = np.bincount(y) / n_folds
        assert np.all(np.abs(np.bincount(y[validation], minlength=3) - expected) <= 1)
        held_out.append(validation)
    assert_array_equal(np.sort(np.concatenate(held_out)), np.arange(60))


def test_too_few_rows_for_the_folds_means_no_split():
    member = PMMRegressor(**SMALL)
    train, validation = member._validation_split(
        np.zeros((9, 1)), np.ones(9), np.random.RandomState(0), (0, 5, 0)
    )
    assert validation is None
    assert_array_equal(train, np.arange(9))


@ignore_convergence
def test_one_member_with_a_large_validation_fraction_holds_out_half():
    # round(1 / 0.8) is one fold, which KFold refuses: two at least.
    X, y = regression_data()
    member = PMMRegressor(**SMALL, validation_fraction=0.8)
    committee = PMMRegressorCV(member, n_estimators=1).fit(X, y)
    assert np.isfinite(committee.cv_scores_).all()


@ignore_convergence
def test_regressor_predicts_the_members_mean_and_records_their_fold_scores():
    X, y = regression_data()
    committee = PMMRegressorCV(PMMRegressor(**SMALL), n_estimators=3).fit(X, y)
    assert len(committee.estimators_) == 3
    predictions = np.array([member.predict(X) for member in committee.estimators_])
    assert_allclose(committee.predict(X), predictions.mean(axis=0))
    # Members with their own starts and folds: different models.
    assert not np.allclose(predictions[0], predictions[1])
    seeds = {m.random_state for m in committee.estimators_}
    assert len(seeds) == 3
    scores = [member.best_validation_score_ for member in committee.estimators_]
    assert_allclose(committee.cv_scores_, scores)
    assert committee.n_features_in_ == 3


@ignore_convergence
def test_members_without_early_stopping_are_only_scored_on_their_fold():
    # They train to convergence on the other nine tenths of the rows.
    X, y = regression_data()
    member = PMMRegressor(**SMALL, early_stopping=False)
    committee = PMMRegressorCV(member, n_estimators=2).fit(X, y)
    assert np.all(np.isfinite(committee.cv_scores_))
    for fitted in committee.estimators_:
        assert fitted.validation_scores_ == [fitted.best_validation_score_]
        assert 0.85 * len(X) < fitted._fit_weight < 0.95 * len(X)
    # With early stopping they follow the smoothness path on their fold.
    member.set_params(early_stopping=True)
    committee = PMMRegressorCV(member, n_estimators=2).fit(X, y)
    assert np.all(np.isfinite(committee.cv_scores_))
    assert all(len(m.validation_scores_) > 1 for m in committee.estimators_)


@ignore_convergence
@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_default_classifier_members_are_scored_on_their_fold(solver):
    # The default classifier does not stop early: each member, with two
    # starts and either solver, trains on the rows outside its fold and
    # reports one score on the fold, the committee's cv_scores_.
    X, y = classification_data()
    member = PMMClassifier(
        matrix_size=4, max_iter=60, n_restarts=1, random_state=0, solver=solver
    )
    assert member.early_stopping is False
    committee = PMMClassifierCV(member, n_estimators=2).fit(X, y)
    for fitted in committee.estimators_:
        assert fitted.validation_scores_ == [fitted.best_validation_score_]
        assert 0.85 * len(X) < fitted._fit_weight < 0.95 * len(X)
    assert_allclose(
        committee.cv_scores_,
        [m.best_validation_score_ for m in committee.estimators_],
    )
    assert np.all((0 <= committee.cv_scores_) & (committee.cv_scores_ <= 1))


@ignore_convergence
def test_regressor_multioutput_predicts_every_output():
    X, y = regression_data()
    Y = np.column_stack([y, -y])
    committee = PMMRegressorCV(PMMRegressor(**SMALL), n_estimators=2).fit(X, Y)
    prediction = committee.predict(X)
    assert prediction.shape == (len(X), 2)
    members = np.array([m.predict(X) for m in committee.estimators_])
    assert_allclose(prediction, members.mean(axis=0))
    # Each output is fitted: the two targets are each other's negatives.
    assert np.corrcoef(prediction[:, 0], y)[0, 1] > 0.9
    assert np.corrcoef(prediction[:, 1], -y)[0, 1] > 0.9


@ignore_convergence
@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_averages_probabilities_and_is_consistent(n_classes):
    X, y = classification_data(n_classes=n_classes)
    labels = np.array(["a", "b", "c"])[y]
    committee = PMMClassifierCV(PMMClassifier(**SMALL), n_estimators=3).fit(X, labels)
    assert_array_equal(committee.classes_, np.unique(labels))
    proba = committee.predict_proba(X)
    members = np.array([m.predict_proba(X) for m in committee.estimators_])
    assert_allclose(proba, members.mean(axis=0))
    assert_allclose(proba.sum(axis=1), 1.0)
    assert_array_equal(committee.predict(X), committee.classes_[proba.argmax(axis=1)])
    assert_allclose(committee.predict_log_proba(X), np.log(proba))
    scores = committee.decision_function(X)
    if n_classes == 2:
        assert_array_equal(scores > 0, committee.predict(X) == committee.classes_[1])
    else:
        assert_array_equal(scores.argmax(axis=1), proba.argmax(axis=1))
    # Each member's score is its accuracy on its own validation fold.
    assert np.all((0 <= committee.cv_scores_) & (committee.cv_scores_ <= 1))
    assert_allclose(
        committee.cv_scores_,
        [m.best_validation_score_ for m in committee.estimators_],
    )


@ignore_convergence
@pytest.mark.parametrize("member_n_jobs", [None, 2])
@pytest.mark.parametrize("committee_class", [PMMRegressorCV, PMMClassifierCV])
def test_same_random_state_same_committee_whatever_n_jobs(
    committee_class, member_n_jobs, monkeypatch
):
    if committee_class is PMMRegressorCV:
        X, y = regression_data()
        member, method = PMMRegressor(**SMALL), "predict"
    else:
        X, y = classification_data()
        member, method = PMMClassifier(**SMALL), "predict_proba"
    serial = committee_class(member, n_estimators=3).fit(X, y)
    # The first two members of the threaded committee must meet: they can
    # only if they run at the same time, on two threads.
    meeting = threading.Barrier(2, timeout=20)
    lock = threading.Lock()
    calls = []
    fit_member = cv_module._fit_member

    def meeting_fit_member(*args):
        with lock:
            calls.append(threading.get_ident())
            meets = len(calls) <= 2
        if meets:
            meeting.wait()
        return fit_member(*args)

    monkeypatch.setattr(cv_module, "_fit_member", meeting_fit_member)
    member.set_params(n_jobs=member_n_jobs)
    threaded = committee_class(member, n_estimators=3, n_jobs=2).fit(X, y)
    assert len(set(calls[:2])) == 2
    assert_array_equal(getattr(serial, method)(X), getattr(threaded, method)(X))


def test_member_convergence_warnings_reach_the_caller():
    # Three rows cannot make ten folds of two rows: the members fit without
    # a split, so L-BFGS runs to max_iter and warns.
    X, y = regression_data()
    member = PMMRegressor(**{**SMALL, "max_iter": 2})
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge") as caught:
        committee = PMMRegressorCV(member, n_estimators=2).fit(X[:3], y[:3])
    assert np.all(np.isnan(committee.cv_scores_))
    # At the committee's fit call, past joblib's dispatch of the members.
    assert {warning.filename for warning in caught} == {__file__}


@pytest.mark.parametrize(
    "committee", [PMMRegressorCV(PMMClassifier()), PMMClassifierCV(PMMRegressor())]
)
def test_member_of_the_wrong_kind_is_rejected(committee):
    X, y = classification_data()
    with pytest.raises(InvalidParameterError, match="estimator"):
        committee.fit(X, y)


def test_invalid_member_parameters_are_reported():
    X, y = regression_data()
    with pytest.raises(InvalidParameterError, match="matrix_size"):
        PMMRegressorCV(PMMRegressor(matrix_size=0), n_estimators=2).fit(X, y)


@BOTH_COMMITTEES
def test_default_member_is_the_default_estimator(committee_class, member_class, data):
    X, y = data()
    committee = committee_class(n_estimators=2).fit(X, y)
    expected = member_class().get_params()
    del expected["random_state"]
    assert len(committee.estimators_) == 2
    for member in committee.estimators_:
        assert type(member) is member_class
        params = member.get_params()
        assert isinstance(params.pop("random_state"), Integral)
        assert params == expected
    assert committee.predict(X).shape == y.shape


@ignore_convergence
def test_same_random_state_same_members():
    X, y = regression_data()
    first = PMMRegressorCV(PMMRegressor(**SMALL), n_estimators=2).fit(X, y)
    second = PMMRegressorCV(PMMRegressor(**SMALL), n_estimators=2).fit(X, y)
    assert_array_equal(first.predict(X), second.predict(X))
    other = PMMRegressorCV(PMMRegressor(**{**SMALL, "random_state": 1}), n_estimators=2)
    assert not np.allclose(other.fit(X, y).predict(X), first.predict(X))


@ignore_convergence
@BOTH_COMMITTEES
def test_committee_random_state_seeds_the_members(committee_class, member_class, data):
    X, y = data()

    def fit(random_state, member_random_state=None):
        member = member_class(**{**SMALL, "random_state": member_random_state})
        return committee_class(member, n_estimators=2, random_state=random_state).fit(
            X, y
        )

    # The committee's seed alone makes it reproducible (with the default,
    # unseeded member the committee could not be seeded at all, and
    # check_estimator's set_random_state reached nothing).
    method = "predict_proba" if committee_class is PMMClassifierCV else "predict"
    expected = getattr(fit(0), method)(X)
    assert_array_equal(getattr(fit(0), method)(X), expected)
    # It stands in for the member's, and wins over it when both are set.
    assert_array_equal(getattr(fit(None, 0), method)(X), expected)
    assert_array_equal(getattr(fit(0, 1), method)(X), expected)
    assert not np.allclose(getattr(fit(1), method)(X), expected)


def test_committee_leaves_its_member_unfitted():
    X, y = regression_data()
    member = PMMRegressor(**SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        PMMRegressorCV(member, n_estimators=2).fit(X, y)
    assert not hasattr(member, "hamiltonians_")


@ignore_convergence
def test_image_classifier_members_are_scored_on_their_folds():
    from sklearn.datasets import load_digits

    from sklearn_pmm import PMMImageClassifier

    X, y = load_digits(n_class=3, return_X_y=True)
    member = PMMImageClassifier(
        window_shape=4,
        stride=4,
        latent_size=3,
        matrix_size=3,
        max_iter=20,
        random_state=0,
    )
    committee = PMMClassifierCV(member, n_estimators=2)
    committee.fit(X[:120], y[:120])
    assert np.all(np.isfinite(committee.cv_scores_))
    assert committee.predict_proba(X[120:130]).shape == (10, 3)


@ignore_convergence
@pytest.mark.parametrize("committee_class", [PMMRegressorCV, PMMClassifierCV])
def test_member_threads_leave_the_blas_threads_as_they_were(
    committee_class, blas_threads
):
    # OpenBLAS ignores a raised thread count while a thread that ran BLAS
    # under the lower one lives: the members' threads cannot restore it.
    regression = committee_class is PMMRegressorCV
    X, y = regression_data() if regression else classification_data()
    member = (PMMRegressor if regression else PMMClassifier)(matrix_size=3, max_iter=10)
    before = blas_threads()
    for _ in range(3):
        committee_class(member, n_estimators=4, n_jobs=2).fit(X, y)
        assert blas_threads() == before


@ignore_convergence
def test_failed_fit_leaves_the_committee_unchanged():
    X, y = classification_data()
    committee = PMMClassifierCV(PMMClassifier(**SMALL), n_estimators=2).fit(X, y)
    proba = committee.predict_proba(X)
    before = dict(vars(committee))
    # Four classes need four levels, more than 3 x 3 matrices have.
    committee.estimator.set_params(readout="eigenvalues", matrix_size=3)
    with pytest.raises(ValueError, match="matrix_size=3"):
        committee.fit(X[:, :2], np.arange(len(y)) % 4)
    assert vars(committee).keys() == before.keys()
    assert_array_equal(committee.classes_, before["classes_"])
    assert committee.n_features_in_ == 3
    assert_array_equal(committee.predict_proba(X), proba)


@pytest.mark.parametrize("member_restarts", [0, 1])
@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_a_failed_member_stops_the_members_in_other_threads(
    error, member_restarts, failing_evaluation, blas_threads
):
    # joblib leaves the other threads of a failed Parallel call running: the
    # committee must stop them, and a member's own threaded starts, before it
    # raises, and restore the BLAS threads.
    evaluations = failing_evaluation(error, "a member failed")
    X, y = regression_data(n_samples=200)
    member = PMMRegressor(
        **{**SMALL, "max_iter": 500},
        n_restarts=member_restarts,
        n_jobs=2,
        early_stopping=False,
        tol=0,
    )
    before = blas_threads()
    with pytest.raises(error, match="a member failed"):
        PMMRegressorCV(member, n_estimators=3, n_jobs=2).fit(X, y)
    n_evaluations = len(evaluations)
    time.sleep(0.3)
    assert len(evaluations) == n_evaluations
    # Stopped, not waited for: a start left running takes 100 or more.
    assert n_evaluations < 50
    assert blas_threads() == before


def test_committees_score_as_their_members_on_the_common_checks():
    from sklearn.utils import get_tags

    from sklearn_pmm import PMMImageClassifier

    assert get_tags(PMMClassifierCV(PMMImageClassifier())).classifier_tags.poor_score
    assert not get_tags(PMMClassifierCV()).classifier_tags.poor_score
    assert not get_tags(PMMRegressorCV()).regressor_tags.poor_score
