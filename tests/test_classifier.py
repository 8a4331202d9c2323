# SPDX-License-Identifier: BSD-3-Clause
"""Tests for PMMClassifier: scikit-learn compatibility, gradients, API."""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_iris, make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.class_weight import compute_class_weight

from sklearn_pmm._core.eigh import ExecutionPolicy
from sklearn_pmm._core.loss import SoftmaxCrossEntropy
from sklearn_pmm._core.maps import AffineMap
from sklearn_pmm._core.model import PMMModel
from sklearn_pmm._core.readout import DecoderReadout
from sklearn_pmm._estimators.classifier import PMMClassifier


def test_weights_equal_repeats():
    # Integer weights give the same loss and gradient as repeated rows.
    rng = np.random.RandomState(1)
    model = PMMModel(
        AffineMap(3, 4, complex_valued=True),
        DecoderReadout(n_outputs=3, n_eigenvectors=2, n_decoders=1),
    )
    policy = ExecutionPolicy()
    X = rng.normal(size=(6, 3))
    targets = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    weights = np.array([0.0, 1.0, 2.0, 3.0, 1.0, 2.0])
    repeats = weights.astype(int)
    theta = model.initial_parameters(rng)
    data_loss = SoftmaxCrossEntropy(1.0)
    weighted = model.loss_gradient(theta, X, targets, weights, data_loss, 0.1, policy)
    repeated = model.loss_gradient(
        theta,
        np.repeat(X, repeats, axis=0),
        np.repeat(targets, repeats, axis=0),
        np.ones(repeats.sum()),
        data_loss,
        0.1,
        policy,
    )
    assert_allclose(weighted[0], repeated[0], rtol=1e-12)
    assert_allclose(weighted[1], repeated[1], rtol=1e-10, atol=1e-14)


# --------------------------------------------------------------------------
# Classifier behaviour.


def _blobs(n_classes, n_samples=90, random_state=0):
    X, y = make_blobs(
        n_samples=n_samples,
        centers=n_classes,
        n_features=2,
        cluster_std=1.0,
        random_state=random_state,
    )
    return X, y


def _fast(**params):
    return PMMClassifier(
        **{
            "matrix_size": 4,
            "hermitian": "real",
            # the decoder readout has the most parameters to check
            "readout": "decoder",
            "max_iter": 60,
            "random_state": 0,
            # the mechanics of one fit on all rows: no validation split
            "early_stopping": False,
            "smoothness": 0.0,
            **params,
        }
    )


@pytest.fixture(autouse=True)
def _ignore_convergence_warnings():
    # The short fits below stop at max_iter on purpose.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.mark.parametrize("n_classes", [2, 3, 4])
def test_binary_and_multiclass(n_classes):
    X, y = _blobs(n_classes)
    clf = _fast().fit(X, y)
    assert_array_equal(clf.classes_, np.arange(n_classes))
    assert clf.score(X, y) > 0.9
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), n_classes)
    assert_allclose(proba.sum(axis=1), 1.0)
    assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-12)
    assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    assert clf.intercept_.shape == (n_classes,)
    assert clf.decoders_.shape == (n_classes, 1, 4, 4)
    assert clf.hamiltonians_.shape == (3, 4, 4)
    assert clf.n_params_ == 3 * 10 + n_classes * 10 + n_classes
    assert 1 <= clf.n_iter_ <= 60
    assert len(clf.loss_curve_) >= 1
    assert clf.loss_ == pytest.approx(clf.loss_curve_[-1])


@pytest.mark.parametrize("n_classes", [2, 3, 4])
def test_binary_and_multiclass_with_the_default_readout(n_classes):
    X, y = _blobs(n_classes)
    clf = _fast(readout=PMMClassifier().readout).fit(X, y)
    assert clf.readout == "eigenvalues"
    assert clf.score(X, y) > 0.9
    assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)
    assert clf.decoders_ is None
    # real 4 x 4: H_0, H_1, H_2 (10 floats each) and the class biases
    assert clf.n_params_ == 3 * 10 + n_classes


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["cat", "dog", "emu"]),
        np.array(["cat", "dog", "emu"], dtype=object),
        np.array([-3, -1, 7]),
        np.array([-1, 1]),
        np.array([0.0, 2.0, 3.0]),
    ],
    ids=["str", "object", "negative", "minus-one-one", "integral-float"],
)
def test_labels(labels):
    X, y_index = _blobs(len(labels))
    y = labels[y_index]
    clf = _fast().fit(X, y)
    assert_array_equal(clf.classes_, np.unique(labels))
    assert clf.classes_.dtype == labels.dtype
    prediction = clf.predict(X)
    assert prediction.dtype == labels.dtype
    assert set(prediction) <= set(labels)
    assert np.mean(prediction == y) > 0.9


def test_decision_function_binary():
    X, y = _blobs(2)
    clf = _fast(temperature=0.5).fit(X, y)
    scores = clf.decision_function(X)
    assert scores.shape == (len(X),)
    assert_array_equal(clf.predict(X), clf.classes_[(scores > 0).astype(int)])
    log_proba = clf.predict_log_proba(X)
    assert_allclose(scores, log_proba[:, 1] - log_proba[:, 0], rtol=1e-9, atol=1e-9)


def test_decision_function_multiclass():
    X, y = _blobs(3)
    clf = _fast(temperature=2.0).fit(X, y)
    scores = clf.decision_function(X)
    assert scores.shape == (len(X), 3)
    assert_array_equal(clf.predict(X), clf.classes_[scores.argmax(axis=1)])
    # The logits differ from the log-probabilities by a per-row constant.
    difference = scores - clf.predict_log_proba(X)
    assert_allclose(difference, difference[:, :1] * np.ones((1, 3)), atol=1e-9)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_predict_proba_extreme_logits(n_classes, monkeypatch):
    X, y = _blobs(n_classes)
    clf = _fast().fit(X, y)
    expected = clf.predict(X)
    for temperature in [1e-300, 1e-12, 1e12, 1e300]:
        # The fitted temperature scales the logits at prediction time.
        monkeypatch.setattr(clf, "_temperature", temperature)
        proba = clf.predict_proba(X)
        log_proba = clf.predict_log_proba(X)
        assert np.all(np.isfinite(proba))
        assert_allclose(proba.sum(axis=1), 1.0)
        assert not np.any(np.isnan(log_proba))
        assert np.all(log_proba <= 0)
        assert_array_equal(clf.predict(X), expected)
    # Huge logits, tiny temperature: one-hot probabilities at the prediction.
    monkeypatch.setattr(clf, "_temperature", 1e-300)
    proba = clf.predict_proba(X)
    assert_array_equal(clf.classes_[proba.argmax(axis=1)], expected)
    assert_allclose(proba.max(axis=1), 1.0)


def test_set_params_after_fit_does_not_change_predictions():
    X, y = _blobs(3)
    clf = _fast().fit(X, y)
    proba = clf.predict_proba(X)
    clf.set_params(temperature=5.0, matrix_size=7)
    assert_array_equal(clf.predict_proba(X), proba)


def test_class_weight_balanced_equals_sample_weight():
    X, y = _blobs(3, n_samples=120)
    keep = np.r_[np.flatnonzero(y == 0)[:10], np.flatnonzero(y != 0)]
    X, y = X[keep], y[keep]
    balanced = _fast(class_weight="balanced", max_iter=30).fit(X, y)
    weights = compute_class_weight("balanced", classes=np.unique(y), y=y)[y]
    weighted = _fast(max_iter=30).fit(X, y, sample_weight=weights)
    assert_allclose(balanced.predict_proba(X), weighted.predict_proba(X), rtol=1e-12)
    assert_allclose(balanced.hamiltonians_, weighted.hamiltonians_, rtol=1e-12)

    as_dict = _fast(class_weight={0: 3.0, 1: 1.0, 2: 0.5}, max_iter=30).fit(X, y)
    as_weights = _fast(max_iter=30).fit(
        X, y, sample_weight=np.array([3.0, 1.0, 0.5])[y]
    )
    assert_allclose(as_dict.predict_proba(X), as_weights.predict_proba(X), rtol=1e-12)


def test_class_weight_with_sample_weight():
    # Class weights multiply the sample weights.
    X, y = _blobs(2)
    sample_weight = np.linspace(0.5, 1.5, len(y))
    a = _fast(class_weight={0: 2.0, 1: 1.0}, max_iter=20).fit(
        X, y, sample_weight=sample_weight
    )
    b = _fast(max_iter=20).fit(
        X, y, sample_weight=sample_weight * np.where(y == 0, 2.0, 1.0)
    )
    assert_allclose(a.decision_function(X), b.decision_function(X), rtol=1e-12)


def test_single_class():
    X, _ = _blobs(2)
    y = np.full(len(X), "only")
    clf = _fast().fit(X, y)
    assert_array_equal(clf.classes_, ["only"])
    assert_array_equal(clf.predict(X), y)
    assert_allclose(clf.predict_proba(X), 1.0)
    assert clf.n_iter_ == 0


def test_class_with_zero_weight():
    X, y = _blobs(3)
    sample_weight = (y != 1).astype(float)
    clf = _fast().fit(X, y, sample_weight=sample_weight)
    assert_array_equal(clf.classes_, [0, 1, 2])
    assert not np.any(clf.predict(X) == 1)
    # Only one class carries weight: a constant model predicting it.
    clf = _fast(class_weight="balanced").fit(X, y, sample_weight=(y == 2) * 1.0)
    assert_array_equal(clf.predict(X), np.full(len(X), 2))
    proba = clf.predict_proba(X)
    assert_allclose(proba[:, 2], 1.0)
    assert np.all(np.isfinite(clf.predict_log_proba(X)))


def test_zero_total_weight_raises():
    X, y = _blobs(2)
    with pytest.raises(ValueError, match="no class carries any weight"):
        _fast(class_weight={0: 0.0, 1: 0.0}).fit(X, y)


def test_warm_start():
    X, y = load_iris(return_X_y=True)
    clf = _fast(warm_start=True, max_iter=80, tol=1e-5).fit(X, y)
    first_loss = clf.loss_
    clf.fit(X, y)
    # The second fit starts where the first stopped.
    assert clf.loss_curve_[0] <= first_loss + 1e-12
    assert clf.loss_ <= first_loss + 1e-12
    cold = _fast(max_iter=80, tol=1e-5).fit(X, y)
    assert not np.allclose(cold.hamiltonians_, clf.hamiltonians_)

    with pytest.raises(ValueError, match="warm_start can only be used where `y`"):
        clf.fit(X, np.where(y == 2, 5, y))
    with pytest.raises(ValueError, match="warm_start can only be used where `y`"):
        clf.fit(X[y < 2], y[y < 2])
    # Without warm_start the classes may change.
    clf.set_params(warm_start=False).fit(X[y < 2], y[y < 2])
    assert_array_equal(clf.classes_, [0, 1])


def test_warm_start_after_constant_model():
    X, y = _blobs(2)
    clf = _fast(warm_start=True).fit(X, y, sample_weight=(y == 0) * 1.0)
    assert clf.n_iter_ == 0
    clf.fit(X, y)
    assert clf.n_iter_ > 0
    assert clf.score(X, y) > 0.9


def test_constant_model_clears_the_state_of_earlier_fits():
    X, y = _blobs(2)
    clf = PMMClassifier(
        matrix_size=3, max_iter=20, early_stopping=True, random_state=0
    ).fit(X, y)
    assert clf.validation_scores_ is not None
    clf.fit(X, np.zeros_like(y))
    assert clf.n_iter_ == 0
    assert clf.validation_scores_ is None
    assert clf.best_validation_score_ is None
    # partial_fit after a one-class fit starts afresh, not from Adam state
    # of the blocks before that fit, nor from the one-class logits.
    online = _fast(matrix_size=3).partial_fit(X, y, classes=[0, 1])
    online.partial_fit(X, y)
    online.fit(X, y, sample_weight=(y == 0) * 1.0)  # one class carries weight
    assert online.n_iter_ == 0
    online.partial_fit(X, y)
    assert online.n_iter_ == 1
    fresh = _fast(matrix_size=3).partial_fit(X, y, classes=[0, 1])
    assert_array_equal(online.predict_proba(X), fresh.predict_proba(X))


@pytest.mark.parametrize("weight", [np.inf, np.nan, -1.0])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_class_weight_must_be_finite_and_non_negative(weight, method):
    X, y = _blobs(2)
    clf = _fast(class_weight={0: weight, 1: 1.0})
    extra = {"classes": [0, 1]} if method == "partial_fit" else {}
    with pytest.raises(ValueError, match="finite, non-negative weight"):
        getattr(clf, method)(X, y, **extra)


@pytest.mark.parametrize("n_restarts", [0, 1])
@pytest.mark.parametrize(
    "path",
    [{}, {"early_stopping": True, "smoothness": 10.0}],
    ids=["all_rows", "early_stopping"],
)
def test_n_jobs_does_not_change_results(path, n_restarts, threaded_chunks):
    X, y = _blobs(3, n_samples=120)
    params = dict(max_iter=30, n_restarts=n_restarts, **path)
    with warnings.catch_warnings(action="ignore", category=ConvergenceWarning):
        one = _fast(n_jobs=1, **params).fit(X, y)
        assert threaded_chunks[0] == 0
        two = _fast(n_jobs=2, **params).fit(X, y)
    # One start runs its chunks in threads; two starts take a thread each
    # and run their chunks in series (a converged winner then continues on
    # every row, in threads again).
    if n_restarts == 0:
        assert threaded_chunks[0] > 0
    elif not path:
        assert threaded_chunks[0] == 0
    assert_array_equal(one.predict_proba(X), two.predict_proba(X))
    assert one.loss_curve_ == two.loss_curve_
    assert one.validation_scores_ == two.validation_scores_


def test_an_eigensolver_failure_at_predict_time_is_a_value_error(monkeypatch):
    # As when huge inputs overflow the matrices: LAPACK's error is explained.
    X, y = _blobs(3)
    clf = _fast().fit(X, y)

    def fail(*args, **kwargs):
        raise np.linalg.LinAlgError("Eigenvalues did not converge")

    monkeypatch.setattr(PMMModel, "outputs", fail)
    with pytest.raises(ValueError, match="eigensolver failed on the matrices"):
        clf.predict(X)


def test_pickle_round_trip():
    X, y = _blobs(3)
    clf = _fast(hermitian="complex").fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    assert_array_equal(restored.classes_, clf.classes_)


@pytest.mark.parametrize("readout", ["decoder", "expectation", "eigenvalues"])
def test_readouts_fit(readout):
    X, y = _blobs(3)
    clf = _fast(readout=readout, n_eigenvectors=3).fit(X, y)
    assert clf.score(X, y) > 0.9
    if readout == "eigenvalues":
        assert clf.decoders_ is None


def test_eigenvalue_readout_reads_one_level_per_class():
    X, y = _blobs(3)
    clf = _fast(readout="eigenvalues", n_eigenvectors=1).fit(X, y)
    assert clf.score(X, y) > 0.9
    with pytest.raises(ValueError, match="matrix_size=2"):
        _fast(readout="eigenvalues", matrix_size=2).fit(X, y)


def test_continuous_target_raises():
    X, _ = _blobs(2)
    with pytest.raises(ValueError, match="Unknown label type"):
        _fast().fit(X, np.linspace(0, 1, len(X)))


def test_default_configuration_on_iris():
    X, y = load_iris(return_X_y=True)
    clf = PMMClassifier(random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.95
    # complex 10 x 10: H_0..H_4, 100 floats each, and the class biases; the
    # eigenvalue readout has no decoders, and the fit uses every row.
    assert clf.n_params_ == 5 * 100 + 3
    assert clf.decoders_ is None
    assert clf.validation_scores_ is None


@pytest.mark.parametrize(
    "n_classes, matrix_size, expected_size",
    [(2, "auto", 10), (8, "auto", 10), (9, "auto", 11), (12, "auto", 14), (12, 5, 5)],
)
def test_auto_matrix_size_grows_with_the_classes(n_classes, matrix_size, expected_size):
    X, y = _blobs(n_classes, n_samples=6 * n_classes)
    clf = _fast(matrix_size=matrix_size, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    n = expected_size
    assert clf.hamiltonians_.shape == (3, n, n)
    assert clf.decoders_.shape == (n_classes, 1, n, n)
    assert clf.get_params()["matrix_size"] == matrix_size
    assert clf.predict_proba(X).shape == (len(X), n_classes)


# --------------------------------------------------------------------------
# alpha="auto": 3 p / sum of the weights.


@pytest.mark.parametrize("class_weight", [None, {0: 2.0, 1: 0.5, 2: 1.0}])
def test_auto_alpha_is_three_per_feature_over_the_total_weight(
    class_weight, monkeypatch
):
    # The penalty every loss evaluation of the fit receives.  (Comparing with
    # a fit at the explicit value cannot work: the fit sums the weights in
    # its own order, and a penalty one rounding apart can send L-BFGS to
    # another local minimum.)
    penalties = []
    loss_gradient = PMMModel.loss_gradient

    def recording(
        self, theta, inputs, targets, sample_weight, data_loss, penalty, *a, **k
    ):
        penalties.append(penalty)
        return loss_gradient(
            self, theta, inputs, targets, sample_weight, data_loss, penalty, *a, **k
        )

    monkeypatch.setattr(PMMModel, "loss_gradient", recording)
    X, y = _blobs(3)
    sample_weight = np.random.RandomState(0).uniform(0.5, 2.0, len(y))
    weights = sample_weight.copy()
    if class_weight is not None:
        weights *= np.array([class_weight[label] for label in y])
    clf = _fast(class_weight=class_weight).fit(X, y, sample_weight=sample_weight)
    assert clf.alpha == "auto"
    assert len(penalties) > 1
    assert_allclose(penalties, 3.0 * X.shape[1] / weights.sum(), rtol=1e-12)
    # Held-out rows do not count while the fit trains on the others; a
    # converged candidate that wins goes on to train on all 90 rows.
    penalties.clear()
    clf = _fast(early_stopping=True, validation_fraction=0.2).fit(X, y)
    assert penalties
    assert penalties[0] == pytest.approx(3.0 * X.shape[1] / 72, rel=1e-12)
    every_row = 3.0 * X.shape[1] / 90
    assert set(np.round(penalties, 12)) <= {
        round(3.0 * X.shape[1] / 72, 12),
        round(every_row, 12),
    }
    assert (clf._fit_weight == 90) == any(np.isclose(penalties, every_row, rtol=1e-12))
    # The user's weights, not the fit's rescaled ones: all weights 4 are
    # trained on as weights 1, but count four times.
    penalties.clear()
    _fast().fit(X, y, sample_weight=np.full(len(y), 4.0))
    assert penalties
    assert_allclose(penalties, 3.0 * X.shape[1] / (4 * len(y)), rtol=1e-12)
    # A number is used as it is.
    penalties.clear()
    _fast(alpha=0.5).fit(X, y)
    assert set(penalties) == {0.5}


def test_auto_alpha_of_partial_fit_counts_every_row_so_far():
    X, y = _blobs(3, n_samples=120)
    first, second = slice(0, 60), slice(60, 120)
    # After fit: fit's 60 rows, then 60 more.
    auto = _fast().fit(X[first], y[first])
    explicit = _fast(alpha=3.0 * 2 / 60).fit(X[first], y[first])
    auto.partial_fit(X[second], y[second])
    explicit.set_params(alpha=3.0 * 2 / 120).partial_fit(X[second], y[second])
    assert_allclose(auto.predict_proba(X), explicit.predict_proba(X), atol=1e-12)
    # From scratch: 60 rows, then 120.
    auto, explicit = _fast(), _fast()
    for rows, seen in [(first, 60), (second, 120)]:
        auto.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
        explicit.set_params(alpha=3.0 * 2 / seen)
        explicit.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
        assert_allclose(auto.predict_proba(X), explicit.predict_proba(X), atol=1e-12)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_auto_alpha_with_tiny_weights_raises(method):
    # 3 p / (90 * 2**-1020) overflows the fit: a clear error, not a NaN.
    X, y = _blobs(3)
    weights = np.full(len(y), 2.0**-1020)
    extra = {"classes": [0, 1, 2]} if method == "partial_fit" else {}
    with pytest.raises(ValueError, match='alpha="auto" gives .* too small'):
        getattr(_fast(), method)(X, y, sample_weight=weights, **extra)
    # A number still fits such weights as unit weights.
    clf = getattr(_fast(alpha=0.1), method)(X, y, sample_weight=weights, **extra)
    assert np.all(np.isfinite(clf.predict_proba(X)))


def test_alpha_takes_a_number_or_auto():
    X, y = _blobs(2)
    with pytest.raises(ValueError, match="'alpha' parameter of PMMClassifier"):
        _fast(alpha="large").fit(X, y)


def test_auto_matrix_size_of_a_one_class_fit():
    X, _ = _blobs(2)
    clf = PMMClassifier().fit(X, np.zeros(len(X)))
    assert clf.hamiltonians_.shape == (3, 10, 10)


def test_auto_matrix_size_warns_when_many_classes_make_it_large():
    # 40 classes: 42 x 42 matrices.  The warning comes before any training.
    X = np.arange(80.0).reshape(-1, 1)
    y = np.repeat(np.arange(40), 2)
    est = PMMClassifier(max_iter=1, early_stopping=False)
    with pytest.warns(UserWarning, match="42 x 42 matrices for 40 classes") as caught:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
    assert {warning.filename for warning in caught} == {__file__}
    assert est.hamiltonians_.shape[-1] == 42
    # Ten classes (digits) stay quiet.
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        PMMClassifier()._resolved_matrix_size(10)
