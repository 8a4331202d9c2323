# SPDX-License-Identifier: BSD-3-Clause
"""Cross-validation committees of PMMs.

One PMM fit depends on its random start and, with early stopping, on the
random tenth of the rows it holds out, and on small or noisy data its score
moves with its ``random_state``.  A committee fits ``K`` members, each from
its own start and holding out its own fold of one shuffled split of the
rows, and predicts their mean.  A member with early stopping (the
regressor's default) stops early on its fold; one without (the
classifier's default) trains to convergence on the other rows, and the fold
only scores it.  The folds are about as large as a single fit's validation
split, so every member trains on about as many rows as one early-stopped
PMM does, and they are disjoint, so each member is scored on rows it did
not train on (optimistically, with early stopping: the same rows chose its
stopping point).
scikit-learn's ``CalibratedClassifierCV(ensemble=True)`` keeps its fold
models in the same way.
"""

from numbers import Integral

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    MultiOutputMixin,
    RegressorMixin,
    clone,
)
from sklearn.utils import get_tags
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from sklearn_pmm._base.docstrings import fill_doc
from sklearn_pmm._base.estimator import leaves_estimator_unchanged_on_error
from sklearn_pmm._compat import Interval, _fit_context
from sklearn_pmm._core.eigh import Cancellation, single_blas_thread
from sklearn_pmm._estimators.classifier import PMMClassifier, _PMMClassifierBase
from sklearn_pmm._estimators.regressor import PMMRegressor


def _fit_member(estimator, seed, X, y, sample_weight, fold, cancel):
    member = clone(estimator).set_params(random_state=seed)
    return member._fit(X, y, sample_weight, validation_fold=fold, cancel=cancel)


class _PMMCommittee(MetaEstimatorMixin, BaseEstimator):
    """Fitting and the shared attributes of the two committees."""

    _parameter_constraints: dict = {
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self, estimator=None, *, n_estimators=5, n_jobs=None, random_state=None
    ):
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _with_member_poor_score(self, tags):
        """``tags`` with the members' ``poor_score``: the committee scores as
        they do (PMMImageClassifier on the common checks' blobs).  Called by
        the subclasses, after their mixins have set their own task tags."""
        member = self.estimator
        if member is None:
            member = self._default_estimator()
        for kind in ("classifier_tags", "regressor_tags"):
            own, members = getattr(tags, kind), getattr(get_tags(member), kind)
            if own is not None and members is not None:
                own.poor_score = members.poor_score
        return tags

    def _fit_members(self, X, y, sample_weight):
        estimator = self.estimator
        if estimator is None:
            estimator = self._default_estimator()
        # Members call _fit, past fit's parameter check: check once here.
        estimator._validate_params()
        # Folds about the size of a single fit's validation split, so that
        # every member trains on about as many rows as one early-stopped PMM
        # does; at least two, so that a member has rows to train on.
        n_folds = max(2, self.n_estimators, round(1 / estimator.validation_fraction))
        # The committee's own random_state, else the member's: either seeds
        # the whole committee.
        random_state = self.random_state
        if random_state is None:
            random_state = estimator.random_state
        random_state = check_random_state(random_state)
        # One shuffle for all members: their validation folds are disjoint.
        fold_seed = random_state.randint(np.iinfo(np.int32).max)
        member_seeds = random_state.randint(
            np.iinfo(np.int32).max, size=self.n_estimators
        )
        # Threads: the members' eigensolves release the GIL, and warnings
        # raised in a member reach the caller.  The calling thread holds the
        # BLAS limit for all of them: OpenBLAS ignores a thread count raised
        # while a thread that ran BLAS under the lower one is alive, so a
        # member's thread could not restore the caller's setting.
        cancellation = Cancellation()
        with single_blas_thread():
            try:
                self.estimators_ = Parallel(n_jobs=self.n_jobs, prefer="threads")(
                    delayed(cancellation.run)(
                        _fit_member,
                        estimator,
                        seed,
                        X,
                        y,
                        sample_weight,
                        (index, n_folds, fold_seed),
                        cancellation,
                    )
                    for index, seed in enumerate(member_seeds)
                )
            except BaseException:
                # A failed or interrupted member: joblib leaves the others
                # fitting.  They stop at their next evaluation, and the fit
                # waits for them before it raises.
                cancellation.cancel_and_wait()
                raise
        # A member fitted without a split, or a one-class constant model,
        # has no validation score.
        scores = [
            getattr(member, "best_validation_score_", None)
            for member in self.estimators_
        ]
        self.cv_scores_ = np.array(
            [np.nan if score is None else score for score in scores]
        )
        return self


@fill_doc(kind="PMMRegressor", score="R²")
class PMMRegressorCV(MultiOutputMixin, RegressorMixin, _PMMCommittee):
    r"""Cross-validation committee of PMM regressors.

    The rows are shuffled and split into :math:`F = \max(2, K,
    \operatorname{round}(1/\texttt{validation\_fraction}))` folds.  Member
    :math:`k = 1, \dots, K` is a clone of ``estimator`` with its own
    ``random_state``, fitted on all rows of which it holds out fold
    :math:`k` (in place of a random ``validation_fraction``), which scores
    it, chooses among its starts and, with ``early_stopping``, stops it
    early.  The prediction is the members' mean

    .. math::

        \hat y(x) = \frac1K \sum_{k=1}^{K} \hat y^{(k)}(x).

    The mean averages over the members' starts and validation folds, on
    which one fit depends; it costs ``K`` fits.
    ``benchmarks/results/tabular.md`` compares committees with single PMMs.

    Parameters
    ----------
    estimator : PMMRegressor, default=None
        The member to clone; ``None`` means ``PMMRegressor()``.  Every
        member holds out its fold, whatever ``early_stopping`` is (which
        says whether it stops early on it), and starts afresh, whatever
        ``warm_start`` is; ``validation_fraction``
        sets the size of the folds, and its ``random_state`` stands in for
        the committee's if that is ``None``.
    %(committee_parameters)s

    Attributes
    ----------
    %(committee_attributes)s

    See Also
    --------
    PMMRegressor : One PMM regressor.
    sklearn.ensemble.BaggingRegressor : Committees on bootstrap samples.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm import PMMRegressor, PMMRegressorCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, (120, 2))
    >>> y = np.sin(3 * X[:, 0]) * X[:, 1] + 0.1 * rng.standard_normal(120)
    >>> member = PMMRegressor(matrix_size=4, random_state=0)
    >>> committee = PMMRegressorCV(member, n_estimators=3).fit(X, y)
    >>> len(committee.estimators_), committee.cv_scores_.shape
    (3, (3,))
    >>> bool(committee.score(X, y) > 0.8)
    True
    """

    _parameter_constraints: dict = {
        **_PMMCommittee._parameter_constraints,
        "estimator": [PMMRegressor, None],
    }

    def __sklearn_tags__(self):
        return self._with_member_poor_score(super().__sklearn_tags__())

    @staticmethod
    def _default_estimator():
        return PMMRegressor()

    @_fit_context(prefer_skip_nested_validation=False)
    @leaves_estimator_unchanged_on_error
    def fit(self, X, y, sample_weight=None):
        """Fit the ``n_estimators`` members.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the members' losses.

        Returns
        -------
        self : object
            The fitted committee.
        """
        X, y = validate_data(
            self, X, y, dtype=np.float64, multi_output=True, y_numeric=True
        )
        return self._fit_members(X, y, sample_weight)

    def predict(self, X):
        """The members' mean prediction.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predicted values.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return np.mean([member.predict(X) for member in self.estimators_], axis=0)


@fill_doc(kind="PMMClassifier or PMMImageClassifier", score="accuracy")
class PMMClassifierCV(ClassifierMixin, _PMMCommittee):
    r"""Cross-validation committee of PMM classifiers.

    The rows are shuffled and split into :math:`F = \max(2, K,
    \operatorname{round}(1/\texttt{validation\_fraction}))` folds,
    stratified by class.  Member :math:`k = 1, \dots, K` is a clone of
    ``estimator`` with its own ``random_state``, fitted on all rows of which
    it holds out fold :math:`k` (in place of a random
    ``validation_fraction``), which scores it, chooses among its starts
    and, with ``early_stopping``, stops it early.  The class probabilities
    are the members' mean

    .. math::

        \bar p_c(x) = \frac1K \sum_{k=1}^{K} p_c^{(k)}(x),

    which :meth:`predict` maximises.  The mean averages over the members'
    starts and validation folds; one fit depends on its start (and, with
    ``early_stopping``, on its validation split).  It costs ``K`` fits.
    ``benchmarks/results/tabular.md`` compares committees with single PMMs.

    Parameters
    ----------
    estimator : PMMClassifier or PMMImageClassifier, default=None
        The member to clone; ``None`` means ``PMMClassifier()``.  Every
        member holds out its fold, whatever ``early_stopping`` is (which
        says whether it stops early on it), and starts afresh, whatever
        ``warm_start`` is; ``validation_fraction``
        sets the size of the folds, and its ``random_state`` stands in for
        the committee's if that is ``None``.
    %(committee_parameters)s

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    %(committee_attributes)s

    See Also
    --------
    PMMClassifier : One PMM classifier.
    sklearn.calibration.CalibratedClassifierCV : Keeps its fold models too.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_pmm import PMMClassifier, PMMClassifierCV
    >>> X, y = load_iris(return_X_y=True)
    >>> member = PMMClassifier(matrix_size=4, random_state=0)
    >>> committee = PMMClassifierCV(member, n_estimators=3).fit(X, y)
    >>> committee.predict_proba(X[:2]).shape
    (2, 3)
    >>> bool(committee.score(X, y) > 0.9)
    True
    """

    _parameter_constraints: dict = {
        **_PMMCommittee._parameter_constraints,
        "estimator": [_PMMClassifierBase, None],
    }

    def __sklearn_tags__(self):
        return self._with_member_poor_score(super().__sklearn_tags__())

    @staticmethod
    def _default_estimator():
        return PMMClassifier()

    @_fit_context(prefer_skip_nested_validation=False)
    @leaves_estimator_unchanged_on_error
    def fit(self, X, y, sample_weight=None):
        """Fit the ``n_estimators`` members.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the members' losses.

        Returns
        -------
        self : object
            The fitted committee.
        """
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        return self._fit_members(X, y, sample_weight)

    def predict_proba(self, X):
        """The members' mean class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities of the classes in ``classes_`` order.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return np.mean([member.predict_proba(X) for member in self.estimators_], axis=0)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def decision_function(self, X):
        r"""Log mean probabilities; for two classes :math:`\log(\bar p_1/\bar p_0)`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Largest for the predicted class; for two classes, positive for
            ``classes_[1]``.
        """
        # Clipped so that certainty gives a large finite score, not infinity.
        log_proba = np.log(np.maximum(self.predict_proba(X), np.finfo(float).tiny))
        if len(self.classes_) == 2:
            return log_proba[:, 1] - log_proba[:, 0]
        return log_proba

    def predict(self, X):
        """The class of largest mean probability.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted class labels.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]
