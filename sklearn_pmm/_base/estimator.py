# SPDX-License-Identifier: BSD-3-Clause
"""The estimator base shared by every PMM estimator.

It validates hyperparameters, builds the model (a primary-matrix map and a
readout composed by :class:`~sklearn_pmm._core.model.PMMModel`), standardises the
inputs through the map, runs the solver from one or more starts, folds the
standardisation back into the fitted matrices and sets every fitted
attribute in one place, after a successful fit.  Fitted state is arrays and
plain values only; the model is rebuilt from them when needed.
"""

import contextlib
import functools
import os
import sys
import warnings
from abc import ABC, abstractmethod
from numbers import Integral, Real
from typing import NamedTuple

import joblib
import numpy as np
import sklearn
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from sklearn_pmm._base.solvers import (
    STATUS_MAX_ITER,
    STOPPED_BY_MONITOR,
    AdamOptimizer,
    minimize_adam,
    minimize_lbfgs,
)
from sklearn_pmm._compat import Interval, StrOptions
from sklearn_pmm._core.eigh import (
    Cancellation,
    ExecutionPolicy,
    chunk_rows,
    single_blas_thread,
)
from sklearn_pmm._core.maps import AffineMap, ProjectedMap
from sklearn_pmm._core.model import PMMModel
from sklearn_pmm._core.readout import READOUTS, WHICH_OPTIONS

# Relative decrease of the validation loss that counts as an improvement.
_IMPROVEMENT = 1e-4
# Stages of the smoothness path before the unpenalised one.
_PATH_STAGES = 3
# L-BFGS has converged once the loss fell by less than 10 % over 100
# iterations (0.1 % per iteration): noiseless fits keep improving slowly for
# thousands of iterations, so the gradient tolerance alone never ends them.
_PROGRESS = (100, 0.1)
# Iterations without a new lowest validation loss after which a converged
# candidate that has not beaten the smooth one is abandoned.  Set on the
# validation losses of every iteration of 92 candidates (paper functions,
# diabetes, friedman1, iris, wine, breast_cancer, digits): none that went on
# to win went 50 iterations without a new lowest loss while losing (25 would
# have abandoned two winners), and on diabetes and friedman1 the cap about halves
# the candidates' iterations (benchmarks/results/candidate_cap.md).
_CANDIDATE_PATIENCE = 50
# batch_size="auto" for Adam, as in scikit-learn's MLP.
_AUTO_BATCH_SIZE = 200


# The code a warning should not be attributed to: this package, scikit-learn
# (its fit wrapper, and meta-estimators such as Pipeline or GridSearchCV that
# call fit for the user) and joblib (committee members).  By file, not by
# module name: the package's doctests run with its modules' globals.
_INTERNAL_DIRECTORIES = tuple(
    os.path.dirname(module.__file__) + os.sep
    for module in (sys.modules["sklearn_pmm"], sklearn, joblib)
)


def _is_internal(frame):
    """Whether ``frame`` runs code of :data:`_INTERNAL_DIRECTORIES`."""
    return frame.f_code.co_filename.startswith(_INTERNAL_DIRECTORIES)


def warn_at_caller(message, category):
    """``warnings.warn`` attributed to the first caller outside the package.

    That is usually the user's ``fit`` call, also through a Pipeline or a
    search, so that the line the warning shows, and a
    ``warnings.filterwarnings(module=...)`` filter, are the user's, whatever
    the depth of the call inside the package and scikit-learn.

    Examples
    --------
    >>> import warnings
    >>> from sklearn_pmm._base.estimator import warn_at_caller
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_at_caller("the fit may be slow", UserWarning)
    >>> caught[0].category.__name__, str(caught[0].message)
    ('UserWarning', 'the fit may be slow')
    """
    frame, stacklevel = sys._getframe(1), 2
    while frame.f_back is not None and _is_internal(frame):
        frame, stacklevel = frame.f_back, stacklevel + 1
    warnings.warn(message, category, stacklevel=stacklevel)


def merge_duplicate_rows(X, targets, sample_weight, return_unit=False):
    """Canonical training rows: duplicates merged, zero weights dropped, sorted.

    Rows with equal features and targets become one row whose weight is the
    sum of theirs, and the rows are sorted, so integer weights and repeated
    rows, or the same rows in any order, give the very same arrays and hence
    bit-identical fits (floating-point sums depend on their order, and
    L-BFGS on a non-convex loss amplifies such rounding differences).
    Duplicates also never straddle the validation split.

    The weights are then multiplied by the power of two that brings the
    largest into :math:`[1, 2)`: exact in floating point, so the weighted
    means the fit computes are unchanged bit for bit, while the weighted
    sums behind them cannot overflow however large the weights.  With
    ``return_unit`` the power of two that gives the weights back is returned
    too.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._base.estimator import merge_duplicate_rows
    >>> X = np.array([[1.0], [0.0], [1.0]])
    >>> merge_duplicate_rows(X, np.array([[2.0], [3.0], [2.0]]), np.ones(3))
    (array([[0.],
           [1.]]), array([[3.],
           [2.]]), array([0.5, 1. ]))
    """
    keep = sample_weight > 0
    rows = np.concatenate([X[keep], targets[keep]], axis=1)
    # A stable lexicographic sort (first column first) and a comparison of
    # neighbours: the rows and order of ``np.unique(rows, axis=0)`` without
    # its structured-dtype sort, the slower of the two at millions of rows.
    order = np.lexsort(rows.T[::-1])
    rows = rows[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = np.any(rows[1:] != rows[:-1], axis=1)
    weights = np.bincount(np.cumsum(first) - 1, weights=sample_weight[keep][order])
    unique = rows[first]
    n_features = X.shape[1]
    weights, unit = _largest_in_one_to_two(weights)
    merged = (
        np.ascontiguousarray(unique[:, :n_features]),
        np.ascontiguousarray(unique[:, n_features:]),
        weights,
    )
    return (*merged, unit) if return_unit else merged


def _largest_in_one_to_two(weights):
    """``weights`` (at least one positive: the estimators reject all-zero
    weights) times the power of two that brings the largest into [1, 2), and
    the reciprocal of that power."""
    _, exponent = np.frexp(weights.max())
    return np.ldexp(weights, 1 - exponent), float(np.ldexp(1.0, exponent - 1))


def _user_total(weights, unit):
    """The sum of rescaled ``weights`` in the user's units (infinite if it
    overflows)."""
    with np.errstate(over="ignore"):
        return float(weights.sum() * unit)


def drop_zero_weight_rows(X, targets, sample_weight, return_unit=False):
    """The rows of positive weight, in their order, weights rescaled.

    The rows Adam trains on: its mini-batches follow the rows' order (with
    ``shuffle=False``), and a merged duplicate (:func:`merge_duplicate_rows`)
    would be one row of one mini-batch per epoch, however heavy.  The
    weights are multiplied by the power of two that brings the largest into
    :math:`[1, 2)`, as the merge does (``return_unit`` as there).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._base.estimator import drop_zero_weight_rows
    >>> drop_zero_weight_rows(
    ...     np.array([[1.0], [0.0], [1.0]]), np.ones((3, 1)), np.array([4.0, 0.0, 2.0])
    ... )
    (array([[1.],
           [1.]]), array([[1.],
           [1.]]), array([1. , 0.5]))
    """
    keep = sample_weight > 0
    weights, unit = _largest_in_one_to_two(sample_weight[keep])
    rows = X[keep], targets[keep], weights
    return (*rows, unit) if return_unit else rows


class _FitData(NamedTuple):
    """What every solver run of one fit shares."""

    model: PMMModel
    data_loss: object
    inputs: np.ndarray
    targets: np.ndarray
    sample_weight: np.ndarray
    # The power of two that turns sample_weight back into the user's weights.
    weight_unit: float = 1.0


class _Run(NamedTuple):
    """The outcome of one solver run."""

    result: object
    loss_curve: list
    theta: np.ndarray
    selection_loss: float
    stopped_early: bool
    validation_scores: list | None
    best_validation_score: float | None
    # A stage of the smoothness path ended at max_iter while its validation
    # loss was still improving.
    stage_hit_max_iter: bool = False


class _EarlyStopping:
    """Monitor that keeps the parameters of the lowest validation loss.

    Called after every iteration; returns ``True`` (stop) once the
    validation loss (non-negative) has not improved by a relative ``1e-4`` for
    ``n_iter_no_change`` iterations in a row.
    """

    def __init__(self, validate, n_iter_no_change):
        self.validate = validate
        self.n_iter_no_change = n_iter_no_change
        self.best_loss = np.inf
        self.best_score = None
        self.best_theta = None
        self.scores = []
        self._no_improvement = 0

    def restart(self):
        """Count iterations without improvement from zero again."""
        self._no_improvement = 0

    def __call__(self, theta):
        loss, score = self.validate(theta)
        self.scores.append(score)
        # The first parameters are kept even at an infinite loss, so that
        # the next stage has a start and the fit a clear error.
        if loss < self.best_loss or self.best_theta is None:
            improved = loss < self.best_loss * (1 - _IMPROVEMENT)
            self.best_loss, self.best_score = loss, score
            self.best_theta = np.array(theta)
            self._no_improvement = 0 if improved else self._no_improvement + 1
        else:
            self._no_improvement += 1
        return self._no_improvement >= self.n_iter_no_change


class _LosingCandidate:
    """Monitor that abandons a candidate which has already lost.

    Called after every iteration of the converged candidate; returns ``True``
    (stop) once its lowest validation loss so far is no lower than
    ``rival_loss``, the smooth candidate's, and has not fallen for
    ``patience`` iterations in a row.  On noisy data that loss bottoms out
    early and then rises while the fit learns the noise; the candidate would
    run on to convergence only to lose.
    """

    def __init__(self, validate, rival_loss, patience):
        self.validate = validate
        self.rival_loss = rival_loss
        self.patience = patience
        self.best_loss = np.inf
        self.last_score = None
        self._no_improvement = 0

    def __call__(self, theta):
        loss, self.last_score = self.validate(theta)
        if loss < self.best_loss:
            self.best_loss, self._no_improvement = loss, 0
        else:
            self._no_improvement += 1
        return (
            self._no_improvement >= self.patience and self.best_loss >= self.rival_loss
        )


@contextlib.contextmanager
def _training():
    """BLAS held at one thread, and a diverged fit reported as a ValueError."""
    with single_blas_thread():
        try:
            yield
        except np.linalg.LinAlgError as exc:
            raise ValueError(
                "The fit diverged: the eigensolver failed on non-finite or huge "
                "matrices. Try a larger alpha, a larger temperature, a smaller "
                "learning_rate_init (Adam) or rescaling the data."
            ) from exc


def leaves_estimator_unchanged_on_error(fit):
    """Decorate ``fit`` so that any exception, even ``KeyboardInterrupt``,
    restores the estimator's previous state."""

    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        previous = dict(vars(self))
        try:
            return fit(self, *args, **kwargs)
        except BaseException:
            vars(self).clear()
            vars(self).update(previous)
            raise

    return wrapper


class _BasePMM(BaseEstimator, ABC):
    """Shared machinery of the PMM estimators; not for direct use."""

    # A converged candidate that will, if chosen, continue on every row (see
    # _fit_pmm) only has to be good enough to choose between candidates and
    # starts: it stops at this looser (window, rtol), and the run on every
    # row goes on to _PROGRESS.  Set per estimator, by measurement.
    _screening_progress = (50, 0.1)

    _parameter_constraints: dict = {
        "matrix_size": [Interval(Integral, 1, None, closed="left")],
        "n_eigenvectors": [Interval(Integral, 1, None, closed="left")],
        "n_decoders": [Interval(Integral, 1, None, closed="left"), None],
        "which": [
            StrOptions(set(WHICH_OPTIONS)),
            Interval(Integral, 0, None, closed="left"),
        ],
        "readout": [StrOptions(set(READOUTS))],
        "hermitian": [StrOptions({"real", "complex"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "smoothness": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_restarts": [Interval(Integral, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "solver": [StrOptions({"lbfgs", "adam"})],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "shuffle": ["boolean"],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
    }

    @abstractmethod
    def __init__(
        self,
        *,
        matrix_size,
        n_eigenvectors,
        n_decoders,
        which,
        readout,
        hermitian,
        alpha,
        smoothness,
        max_iter,
        tol,
        n_restarts,
        early_stopping,
        validation_fraction,
        n_iter_no_change,
        solver,
        batch_size,
        learning_rate_init,
        beta_1,
        beta_2,
        epsilon,
        shuffle,
        n_jobs,
        random_state,
        warm_start,
        verbose,
    ):
        self.matrix_size = matrix_size
        self.n_eigenvectors = n_eigenvectors
        self.n_decoders = n_decoders
        self.which = which
        self.readout = readout
        self.hermitian = hermitian
        self.alpha = alpha
        self.smoothness = smoothness
        self.max_iter = max_iter
        self.tol = tol
        self.n_restarts = n_restarts
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.shuffle = shuffle
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    # ------------------------------------------------------------------
    # what each estimator defines
    # ------------------------------------------------------------------

    @abstractmethod
    def _data_loss(self):
        """The per-sample loss object (squared error or cross-entropy)."""

    @abstractmethod
    def _validation_score(self, outputs, targets, sample_weight):
        """The estimator's score (R², accuracy) of internal-unit outputs."""

    def _stratify_labels(self, targets):
        """Labels to stratify the validation split by, or ``None``."""
        return None

    def _fit_is_a_start(self):
        """Whether training may continue from the fitted parameters."""
        return True

    def _penalty(self, total_weight):
        """The L2 penalty :math:`\\alpha` of a fit whose rows weigh
        ``total_weight`` in all (``alpha`` itself, unless an estimator
        resolves a string)."""
        return self.alpha

    @abstractmethod
    def _model_spec(self, n_features, n_outputs):
        """Plain values the model is built from (stored as fitted state)."""

    def _spec_n_eigenvectors(self):
        """``n_eigenvectors`` as the model uses it: ``None`` for the eigenvalue
        readout, which reads one level per output, so that changing it
        changes no spec (warm starts and ``partial_fit`` carry on)."""
        return None if self.readout == "eigenvalues" else int(self.n_eigenvectors)

    @abstractmethod
    def _build_map(self, spec):
        """The primary-matrix map of a model spec."""

    @abstractmethod
    def _params_to_attributes(self, spec, params):
        """Fitted attributes (a dict) of user-unit parameter blocks."""

    @abstractmethod
    def _attributes_to_params(self, spec):
        """User-unit parameter blocks of the fitted attributes."""

    # ------------------------------------------------------------------
    # model
    # ------------------------------------------------------------------

    def _build_model(self, spec):
        """The model of a spec (built at fit, and again from fitted state)."""
        primary_map = self._build_map(spec)
        readout = READOUTS[spec["readout"]](
            n_outputs=spec["n_outputs_per_system"],
            n_eigenvectors=spec["n_eigenvectors"],
            n_decoders=spec["n_decoders"],
            n_systems=primary_map.n_systems,
        )
        which, n = spec["which"], primary_map.matrix_size
        if isinstance(which, Integral) and which + readout.n_levels > n:
            raise ValueError(
                f"which={which} selects levels up to "
                f"{which + readout.n_levels - 1}, but matrix_size={n} has "
                f"levels 0 to {n - 1}."
            )
        return PMMModel(primary_map, readout, which=which)

    def _fitted_model(self):
        """The fitted model and its parameter vector, rebuilt from fitted state."""
        model = self._build_model(self._spec)
        return model, model.layout.pack(self._attributes_to_params(self._spec))

    def _policy(self, model, cancel=None):
        """Chunks sized by ``working_memory``, run on ``n_jobs`` threads,
        stopped once ``cancel`` (a :class:`Cancellation` or ``None``) is."""
        return ExecutionPolicy(chunk_rows(model), n_jobs=self.n_jobs, cancel=cancel)

    # ------------------------------------------------------------------
    # fit
    # ------------------------------------------------------------------

    def _training_rows(self, X, targets, sample_weight):
        """The rows ``fit`` trains on: merged duplicates for L-BFGS (see
        :func:`merge_duplicate_rows`), the rows as given for Adam (see
        :func:`drop_zero_weight_rows`), and the weights' unit."""
        if self.solver == "adam":
            return drop_zero_weight_rows(X, targets, sample_weight, return_unit=True)
        return merge_duplicate_rows(X, targets, sample_weight, return_unit=True)

    def _fit_pmm(
        self,
        X,
        targets,
        sample_weight,
        y_shift,
        y_scale,
        warm,
        extra=None,
        validation_fold=None,
        cancel=None,
        weight_unit=1.0,
    ):
        """Fit on validated rows (:meth:`_training_rows`);
        ``targets`` are already in internal units, ``sample_weight`` times
        ``weight_unit`` are the user's weights.

        ``warm`` asks to continue from the previous fit (``warm_start`` and
        fitted).  ``validation_fold`` is ``(index, n_folds, seed)`` or
        ``None`` (see :meth:`_validation_split`).  ``cancel`` (a
        committee's :class:`Cancellation`) stops the fit at its next
        evaluation once cancelled.  Every fitted attribute is set at the
        end, together with the plain values in ``extra``.
        """
        spec = self._model_spec(X.shape[1], targets.shape[1])
        model = self._build_model(spec)
        primary_map = model.map
        rng = check_random_state(self.random_state)
        train, validation = self._validation_split(
            targets, sample_weight, rng, validation_fold
        )
        x_scaling = primary_map.input_scaling(X[train], sample_weight[train])

        def prepare(rows):
            X_rows = X[rows]
            if x_scaling is not None:
                X_rows = primary_map.scale_inputs(X_rows, x_scaling)
            return primary_map.prepare(X_rows)

        # Warm starts continue from the fitted matrices when the model is the
        # same (sizes, kind, readout and the map's own settings, such as image
        # windows); otherwise the fit starts cold.
        if warm and self._spec == spec:
            starts = [self._fitted_start(model, x_scaling, y_shift, y_scale)]
        else:
            starts = [model.initial_parameters(rng) for _ in range(1 + self.n_restarts)]
        # Mini-batch orders of every start, drawn up front: deterministic
        # whatever n_jobs is.
        seeds = rng.randint(np.iinfo(np.int32).max, size=len(starts))

        data = _FitData(
            model,
            self._data_loss(),
            prepare(train),
            targets[train],
            sample_weight[train],
            weight_unit,
        )
        held_out = None
        if validation is not None:
            held_out = (
                prepare(validation),
                targets[validation],
                sample_weight[validation],
            )
        # The validation split (not a committee's fold) only chooses between
        # candidates; a converged (unpenalised) candidate does not depend on
        # it, so the chosen one ends on every row.
        finish = (
            held_out is not None and validation_fold is None and self.solver == "lbfgs"
        )
        # For verbose output; a committee's members say which they are.
        start_names = [f"start {index}" for index in range(len(starts))]
        if validation_fold is not None:
            start_names = [f"member {validation_fold[0]} {n}" for n in start_names]
        n_workers = effective_n_jobs(self.n_jobs)
        policy = self._policy(model, cancel)
        with _training():
            if len(starts) > 1 and n_workers > 1:
                # Independent starts in threads, each evaluating serially: the
                # chunks, and so every result, are the same as in series.
                cancellation = Cancellation(parent=cancel)
                serial = policy.serial(cancellation)
                try:
                    runs = Parallel(
                        n_jobs=min(n_workers, len(starts)), prefer="threads"
                    )(
                        delayed(cancellation.run)(
                            self._run_solver,
                            data,
                            held_out,
                            theta0,
                            name,
                            seed,
                            serial,
                            finish,
                        )
                        for name, theta0, seed in zip(
                            start_names, starts, seeds, strict=True
                        )
                    )
                except BaseException:
                    # A failed or interrupted start: joblib leaves the other
                    # threads running.  They stop at their next evaluation;
                    # waiting for them keeps any from outliving the fit or
                    # from holding the BLAS limit past it.
                    cancellation.cancel_and_wait()
                    raise
            else:
                with policy:
                    runs = [
                        self._run_solver(
                            data, held_out, theta0, name, seed, policy, finish
                        )
                        for name, theta0, seed in zip(
                            start_names, starts, seeds, strict=True
                        )
                    ]
        # The lowest validation (or, without one, training) loss wins, the
        # first start on ties; a NaN loss never wins.
        best = min(
            range(len(runs)),
            key=lambda index: np.nan_to_num(runs[index].selection_loss, nan=np.inf),
        )
        run = runs[best]
        n_iter_before = 0  # of a converged candidate continued on every row
        fitted_rows = train
        if finish and not run.stopped_early:
            fitted_rows = slice(None)
            n_iter_before = run.result.nit
            every_row = data._replace(
                inputs=prepare(slice(None)),
                targets=targets,
                sample_weight=sample_weight,
            )
            with _training(), policy:
                run = self._finish_on_every_row(
                    every_row, run, best, seeds[best], policy
                )
        if (
            not np.all(np.isfinite(run.theta))
            or not np.isfinite(run.result.fun)
            or not np.isfinite(run.selection_loss)
        ):
            solver = "Adam" if self.solver == "adam" else "L-BFGS"
            raise ValueError(
                f"{solver} produced non-finite parameters or outputs; try a larger "
                "alpha or rescaling the data."
            )
        if self.solver == "adam":
            self._warn_if_adam_lost_ground(data, held_out, starts[best], run, policy)
        if run.stopped_early:  # chosen on the validation split
            n_iter = run.result.nit
            if run.stage_hit_max_iter:
                warn_at_caller(
                    f"A stage of the smoothness path reached max_iter={self.max_iter} "
                    "while the validation loss was still improving. Increase "
                    "max_iter.",
                    ConvergenceWarning,
                )
        elif self.solver == "adam":
            n_iter = run.result.nit
            if run.result.status == STATUS_MAX_ITER:
                warn_at_caller(
                    f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                    "reached and the optimization hasn't converged yet.",
                    ConvergenceWarning,
                )
        else:
            n_iter = n_iter_before + run.result.nit
            if run.result.status != 0:
                # scikit-learn's own message would advise scaling the data,
                # which the estimator already does.
                advice = "."
                if run.result.status == STATUS_MAX_ITER:
                    advice = f". Increase max_iter (max_iter={self.max_iter})."
                warn_at_caller(
                    f"lbfgs failed to converge after {run.result.nit} iteration(s) "
                    f"(status={run.result.status}): {run.result.message}{advice}",
                    ConvergenceWarning,
                )
        # A feature constant over the rows the chosen parameters were fitted
        # on gave its couplings no gradient from the data: they are what the
        # random start and the penalties made of them.  Dropping them makes
        # the feature inert, as a zero column gets no coefficient in a ridge.
        theta = run.theta
        if primary_map.per_feature:
            unused = np.ptp(X[fitted_rows], axis=0) == 0
            if unused.any():
                theta = model.without_features(theta, unused)
        with np.errstate(over="ignore", invalid="ignore"):  # reported below
            theta = model.rescale(theta, x_scaling, y_shift, y_scale)
        if not np.all(np.isfinite(theta)):
            raise ValueError(
                "The fitted matrices overflowed when the standardisation of the "
                "features and targets was folded into them. Rescale X (and y) "
                "to moderate units."
            )
        fitted = {
            "n_iter_": max(n_iter, 1),
            "loss_": float(run.result.fun),
            "loss_curve_": run.loss_curve,
            "validation_scores_": run.validation_scores,
            "best_validation_score_": run.best_validation_score,
        }
        # partial_fit continues in these units (the "first block" rule is
        # for a model that fit has not trained).
        extra = {
            **(extra or {}),
            "_partial_state": None,
            "_fit_units": (x_scaling, y_shift, y_scale),
            "_fit_weight": _user_total(sample_weight[fitted_rows], weight_unit),
        }
        return self._set_fitted(spec, model, theta, fitted, extra)

    def _warn_if_adam_lost_ground(self, data, held_out, start, run, policy):
        """Warn when the kept parameters do worse than Adam's start.

        The loss compared is the validation loss if the fit stopped early on
        a split (the kept parameters' is known; the start's costs one pass
        over the held-out rows), else the training loss (two passes): a
        committee member without early stopping may end worse on its fold by
        overfitting.  Worse than the start even at the best iteration means
        the steps overshot.
        """
        on_split = held_out is not None and self.early_stopping
        rows, end_loss = held_out, run.selection_loss
        if not on_split:
            rows = (data.inputs, data.targets, data.sample_weight)
            end_loss = self._validate(
                data.model, data.data_loss, run.theta, rows, policy
            )[0]
        start_loss = self._validate(data.model, data.data_loss, start, rows, policy)[0]
        if end_loss > start_loss:
            kind = "validation" if on_split else "training"
            warn_at_caller(
                f"Adam ended with a higher {kind} loss ({end_loss:.3g}) than at its "
                f"start ({start_loss:.3g}): learning_rate_init="
                f"{self.learning_rate_init} is probably too large.",
                ConvergenceWarning,
            )

    def _fitted_start(self, model, x_scaling, y_shift, y_scale):
        """The fitted parameters in the internal units of a new fit of ``model``."""
        inverse = None
        if x_scaling is not None:
            shift, scale = x_scaling
            inverse = (-shift / scale, 1.0 / scale)
        return model.rescale(
            self._fitted_model()[1], inverse, -y_shift / y_scale, 1.0 / y_scale
        )

    def _validation_split(self, targets, sample_weight, rng, fold=None):
        """Row indices ``(train, validation)``; ``validation`` is ``None``
        without early stopping or when the data are too few to split.

        ``fold = (index, n_folds, seed)`` holds out fold ``index`` of a
        shuffled (stratified, for classifiers) ``n_folds``-fold split of the
        rows instead of ``validation_fraction`` of them, whatever
        ``early_stopping`` is: the members of :class:`PMMRegressorCV` and
        :class:`PMMClassifierCV` stop early on their own fold, or without
        early stopping are scored on it (:meth:`_run_solver`).
        """
        rows = np.arange(len(targets))
        if fold is not None:
            index, n_folds, seed = fold
            if len(rows) < 2 * n_folds:
                return rows, None
            labels = self._stratify_labels(targets)
            if labels is not None:
                counts = np.bincount(labels)
                if counts[counts > 0].min() < n_folds:
                    labels = None  # a class too small to appear in every fold
            splitter = (
                KFold(n_folds, shuffle=True, random_state=seed)
                if labels is None
                else StratifiedKFold(n_folds, shuffle=True, random_state=seed)
            )
            train, validation = list(splitter.split(rows, labels))[index]
            return self._usable_split(rows, train, validation, sample_weight)
        if not self.early_stopping:
            return rows, None
        n_validation = int(np.ceil(self.validation_fraction * len(rows)))
        if n_validation < 2 or len(rows) - n_validation < 2:
            return rows, None
        labels = self._stratify_labels(targets)
        if labels is not None:
            counts = np.bincount(labels)
            n_classes = np.count_nonzero(counts)
            if (
                counts[counts > 0].min() < 2
                or min(n_validation, len(rows) - n_validation) < n_classes
            ):
                labels = None  # too few rows to stratify
        train, validation = train_test_split(
            rows, test_size=n_validation, random_state=rng, stratify=labels
        )
        return self._usable_split(rows, train, validation, sample_weight)

    @staticmethod
    def _usable_split(rows, train, validation, sample_weight):
        """The sorted split, or no split if either side carries no weight."""
        if not (sample_weight[train].sum() > 0 and sample_weight[validation].sum() > 0):
            return rows, None
        return np.sort(train), np.sort(validation)

    def _run_solver(self, data, held_out, theta0, name, seed, policy, finish=False):
        """One solver run from ``theta0``, choosing on ``held_out`` if given.

        Without a validation split it is one run at the fixed smoothness
        :math:`\\gamma` until convergence; so it is without early stopping
        (a committee member's fold), the held-out rows then only scoring
        the result.  With early stopping, two candidates start from
        ``theta0`` and the lower validation loss wins:

        - the *smooth* candidate follows the smoothness path
          :math:`\\gamma, \\gamma/10, \\gamma/100, 0`, each stage until the
          validation loss stops improving (``n_iter_no_change``), the next
          stage from the best parameters so far, which are the ones kept;
        - the *converged* candidate is the unpenalised fit run to
          convergence.

        Noisy data favour the first (it stops before fitting the noise),
        exactly representable functions the second (the validation loss of a
        noiseless fit plateaus long before the fit is done).  ``finish`` says
        that a chosen converged candidate will continue on every row, so it
        may stop at the looser ``_screening_progress``.
        """
        model = data.model
        prefix = f"[{type(self).__name__}] {name}" if self.verbose else None
        solve = self._stage_solver(data, seed, policy)
        if held_out is None:
            result, curve = solve(self.smoothness, theta0, None, prefix)
            return _Run(result, curve, result.x, float(result.fun), False, None, None)

        def validate(theta):
            return self._validate(model, data.data_loss, theta, held_out, policy)

        if not self.early_stopping:
            result, curve = solve(self.smoothness, theta0, None, prefix)
            loss, score = validate(result.x)
            return _Run(result, curve, result.x, loss, False, [score], score)

        tracker = _EarlyStopping(validate, self.n_iter_no_change)
        path = [self.smoothness * 10.0**-k for k in range(_PATH_STAGES)] + [0.0]
        if not self.smoothness:
            path = [0.0]
        curve, n_iter, theta, hit_max_iter = [], 0, theta0, False
        for stage, smoothness in enumerate(path):
            tracker.restart()
            stage_prefix = None if prefix is None else f"{prefix} stage {stage}"
            result, stage_curve = solve(smoothness, theta, tracker, stage_prefix)
            curve += stage_curve
            n_iter += result.nit
            hit_max_iter |= result.status == STATUS_MAX_ITER
            if tracker.best_theta is None:  # stopped before an iteration ended
                tracker(result.x)
            theta = tracker.best_theta
        result.nit = n_iter
        smooth = _Run(
            result,
            curve,
            tracker.best_theta,
            tracker.best_loss,
            True,
            tracker.scores,
            tracker.best_score,
            hit_max_iter,
        )
        converged_prefix = None if prefix is None else f"{prefix} converged"
        if finish:
            solve = self._stage_solver(data, seed, policy, self._screening_progress)
        watch = _LosingCandidate(
            validate,
            smooth.selection_loss,
            max(_CANDIDATE_PATIENCE, self.n_iter_no_change),
        )
        result, curve = solve(0.0, theta0, watch, converged_prefix)
        if result.status == STOPPED_BY_MONITOR:  # abandoned: the smooth one wins
            scores = [*tracker.scores, watch.last_score]
            return smooth._replace(validation_scores=scores)
        loss, score = validate(result.x)
        scores = [*tracker.scores, score]
        if not loss < smooth.selection_loss:
            return smooth._replace(validation_scores=scores)
        return _Run(result, curve, result.x, loss, False, scores, score)

    def _finish_on_every_row(self, data, run, start, seed, policy):
        """``run`` (a converged candidate) continued to convergence on
        ``data``, the training and the held-out rows together; ``result`` is
        that of the continuation alone."""
        prefix = None
        if self.verbose:
            prefix = f"[{type(self).__name__}] start {start} on every row"
        solve = self._stage_solver(data, seed, policy)
        result, curve = solve(0.0, run.theta, None, prefix)
        return run._replace(
            result=result, loss_curve=run.loss_curve + curve, theta=result.x
        )

    def _stage_solver(
        self,
        data,
        seed,
        policy,
        progress=_PROGRESS,
        optimizer=None,
        max_iter=None,
        total_weight=None,
    ):
        """``solve(smoothness, theta, monitor, prefix) -> (result, loss_curve)``.

        ``progress`` is L-BFGS's ``(window, rtol)`` convergence test.  An
        ``optimizer`` (Adam state) means Adam, whatever ``solver`` is.
        ``total_weight`` (by default that of ``data``'s rows, in the user's
        units) resolves the penalty (:meth:`_penalty`).
        """
        model = data.model
        if total_weight is None:
            total_weight = _user_total(data.sample_weight, data.weight_unit)
        penalty = self._penalty(total_weight)

        def loss_gradient(smoothness, theta, rows=slice(None)):
            return model.loss_gradient(
                theta,
                data.inputs[rows],
                data.targets[rows],
                data.sample_weight[rows],
                data.data_loss,
                penalty,
                policy,
                smoothness=smoothness,
            )

        if self.solver == "lbfgs" and optimizer is None:

            def solve(smoothness, theta, monitor, prefix):
                return minimize_lbfgs(
                    lambda t: loss_gradient(smoothness, t),
                    theta,
                    max_iter=self.max_iter,
                    tol=self.tol,
                    monitor=monitor,
                    progress=progress,
                    verbose_prefix=prefix,
                )

            return solve
        rng = np.random.RandomState(seed)
        n_samples = len(data.targets)
        batch_size = (
            min(_AUTO_BATCH_SIZE, n_samples)
            if self.batch_size == "auto"
            else self.batch_size
        )

        def solve(smoothness, theta, monitor, prefix):
            result = minimize_adam(
                lambda t, rows: loss_gradient(smoothness, t, rows),
                theta,
                n_samples,
                batch_size=batch_size,
                max_iter=self.max_iter if max_iter is None else max_iter,
                tol=self.tol,
                n_iter_no_change=self.n_iter_no_change,
                shuffle=self.shuffle,
                random_state=rng,
                learning_rate_init=self.learning_rate_init,
                beta_1=self.beta_1,
                beta_2=self.beta_2,
                epsilon=self.epsilon,
                optimizer=optimizer,
                monitor=monitor,
                verbose_prefix=prefix,
            )
            return result, result.loss_curve

        return solve

    def _partial_fit_pmm(
        self, X, targets, sample_weight, output_scaling, extra, weight_unit=1.0
    ):
        """One Adam epoch over a block of rows (validated, zero weights dropped).

        After ``fit`` the first call starts from the fitted matrices (the
        same layout is required) in ``fit``'s internal units; otherwise it
        standardises with the first block's moments
        (``output_scaling(targets, sample_weight)`` for the targets) and
        starts from a random draw.  Later blocks keep the first call's
        units.  The Adam state is kept between calls as arrays.
        """
        spec = self._model_spec(X.shape[1], targets.shape[1])
        model = self._build_model(spec)
        state = getattr(self, "_partial_state", None)
        # Continuing: from the previous partial_fit, or from fit's matrices
        # (unless fit left a constant model).
        continuing = state is not None or (
            hasattr(self, "_spec") and self._fit_is_a_start()
        )
        if continuing and self._spec != spec:
            raise ValueError(
                "partial_fit cannot continue: the model's layout (set by the "
                "parameters and the number of outputs) changed since the "
                "previous call. Call fit, or restore them."
            )
        if state is None:
            rng = check_random_state(self.random_state)
            if continuing:
                x_scaling, y_shift, y_scale = self._fit_units
                theta = self._fitted_start(model, x_scaling, y_shift, y_scale)
            else:
                x_scaling = model.map.input_scaling(X, sample_weight)
                y_shift, y_scale = output_scaling(targets, sample_weight)
                theta = model.initial_parameters(rng)
            optimizer = AdamOptimizer(
                theta, self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon
            )
            state = {
                "x_scaling": x_scaling,
                "y_shift": y_shift,
                "y_scale": y_scale,
                "seed": int(rng.randint(np.iinfo(np.int32).max)),
                "theta": theta,
                "loss_curve": [],
                # Weight of the rows trained on so far, fit's included.
                "total_weight": self._fit_weight if continuing else 0.0,
            }
        else:
            x_scaling = state["x_scaling"]
            optimizer = AdamOptimizer(
                state["theta"],
                self.learning_rate_init,
                self.beta_1,
                self.beta_2,
                self.epsilon,
            )
            optimizer.t, optimizer.m, optimizer.v = state["adam"]
        X_internal = X if x_scaling is None else model.map.scale_inputs(X, x_scaling)
        data = _FitData(
            model,
            self._data_loss(),
            model.map.prepare(X_internal),
            (targets - state["y_shift"]) / state["y_scale"],
            sample_weight,
        )
        n_epochs = len(state["loss_curve"])
        seed = (state["seed"] + n_epochs) % np.iinfo(np.int32).max
        total_weight = state["total_weight"] + _user_total(sample_weight, weight_unit)
        policy = self._policy(model)
        with _training(), policy:
            solve = self._stage_solver(
                data,
                seed,
                policy,
                optimizer=optimizer,
                max_iter=1,
                total_weight=total_weight,
            )
            # No validation split here: with early_stopping the smoothness
            # path would end unpenalised, so the blocks train that way; a
            # fixed prior needs early_stopping=False, as in fit.
            smoothness = 0.0 if self.early_stopping else self.smoothness
            prefix = None
            if self.verbose:
                prefix = f"[{type(self).__name__}] partial_fit epoch {n_epochs + 1}"
            result, curve = solve(smoothness, state["theta"], None, prefix)
        if not np.all(np.isfinite(result.x)):
            raise ValueError(
                "Adam produced non-finite parameters; try a smaller "
                "learning_rate_init or a larger alpha."
            )
        state = {
            **state,
            "theta": result.x,
            "adam": (optimizer.t, optimizer.m, optimizer.v),
            "loss_curve": state["loss_curve"] + curve,
            "total_weight": total_weight,
        }
        theta = model.rescale(result.x, x_scaling, state["y_shift"], state["y_scale"])
        fitted = {
            "n_iter_": len(state["loss_curve"]),
            "loss_": float(result.fun),
            "loss_curve_": list(state["loss_curve"]),
            "validation_scores_": None,
            "best_validation_score_": None,
        }
        return self._set_fitted(
            spec, model, theta, fitted, {**extra, "_partial_state": state}
        )

    def _validate(self, model, data_loss, theta, held_out, policy):
        """Validation loss (weighted mean) and score of ``theta``."""
        inputs, targets, sample_weight = held_out
        outputs = model.outputs(theta, inputs, policy)
        if not np.all(np.isfinite(outputs)):
            # A diverged step is never the best, and no NaN reaches the score.
            return float("inf"), float("-inf")
        loss = data_loss.loss_gradient(outputs, targets, sample_weight)[0]
        score = self._validation_score(outputs, targets, sample_weight)
        return float(loss / sample_weight.sum()), float(score)

    def _set_fitted(self, spec, model, theta, fitted, extra=None):
        """Set every fitted attribute (the only place that does)."""
        attributes = self._params_to_attributes(spec, model.layout.unpack(theta))
        self._spec = spec
        self.n_params_ = model.n_params
        for name, value in {**fitted, **attributes, **(extra or {})}.items():
            setattr(self, name, value)
        return self

    # ------------------------------------------------------------------
    # predict
    # ------------------------------------------------------------------

    def _apply_fitted(self, method, X):
        """Validate ``X`` and evaluate the fitted model's ``method`` on it."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        model, theta = self._fitted_model()
        try:
            return getattr(model, method)(
                theta, model.map.prepare(X), self._policy(model)
            )
        except np.linalg.LinAlgError as exc:
            raise ValueError(
                "The eigensolver failed on the matrices of these inputs, most "
                "likely because their entries overflow. Rescale X as the "
                "training data were."
            ) from exc

    def _outputs(self, X):
        """PMM outputs in user units, shape (N, S * q)."""
        return self._apply_fitted("outputs", X)


class _AffinePMM(_BasePMM):
    """Estimators on the affine map :math:`H(x) = H_0 + \\sum_l x_l H_l`,
    optionally on ``n_directions`` learned directions of the features."""

    _parameter_constraints: dict = {
        **_BasePMM._parameter_constraints,
        "n_directions": [Interval(Integral, 1, None, closed="left"), None],
    }

    def _model_spec(self, n_features, n_outputs):
        return {
            "n_features": int(n_features),
            "n_outputs_per_system": int(n_outputs),
            "matrix_size": self._resolved_matrix_size(n_outputs),
            "n_eigenvectors": self._spec_n_eigenvectors(),
            "n_decoders": None if self.n_decoders is None else int(self.n_decoders),
            "which": self.which if isinstance(self.which, str) else int(self.which),
            "readout": self.readout,
            "complex_valued": self.hermitian == "complex",
            "n_directions": (
                None if self.n_directions is None else int(self.n_directions)
            ),
        }

    def _resolved_matrix_size(self, n_outputs):
        """The matrix size of a fit with ``n_outputs`` outputs."""
        return int(self.matrix_size)

    def _build_map(self, spec):
        n_features, n, complex_valued = (
            spec["n_features"],
            spec["matrix_size"],
            spec["complex_valued"],
        )
        if spec["n_directions"] is None:
            return AffineMap(n_features, n, complex_valued)
        return ProjectedMap(n_features, spec["n_directions"], n, complex_valued)

    def _params_to_attributes(self, spec, params):
        n, q = spec["matrix_size"], spec["n_outputs_per_system"]
        decoders = params.get("decoders")
        couplings = params["couplings"]
        if spec["n_directions"] is not None:
            couplings = self._build_map(spec).effective_couplings(params)
        return {
            "hamiltonians_": np.concatenate([params["constant"][None], couplings]),
            "decoders_": None if decoders is None else decoders.reshape(q, -1, n, n),
            "intercept_": params["intercept"],
        }

    def _attributes_to_params(self, spec):
        params = {
            "constant": self.hamiltonians_[0],
            "couplings": self.hamiltonians_[1:],
            "intercept": self.intercept_,
        }
        if spec["n_directions"] is not None:
            params.update(self._build_map(spec).factor_couplings(params["couplings"]))
        if self.decoders_ is not None:
            n = spec["matrix_size"]
            params["decoders"] = self.decoders_.reshape(1, -1, n, n)
        return params

    def eigenvalues(self, X):
        """Eigenvalues of the fitted primary matrix :math:`H(x)` for each row.

        Useful to plot level flows and avoided crossings along a path in input
        space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        eigenvalues : ndarray of shape (n_samples, matrix_size)
            All eigenvalues of :math:`H(x) = H_0 + \\sum_l x_l H_l`, ascending.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_pmm import PMMRegressor
        >>> X = np.linspace(-1, 1, 100).reshape(-1, 1)
        >>> y = np.sin(3 * X[:, 0])
        >>> reg = PMMRegressor(matrix_size=4, random_state=0).fit(X, y)
        >>> levels = reg.eigenvalues([[-1.0], [0.0], [1.0]])
        >>> levels.shape
        (3, 4)
        >>> bool(np.all(np.diff(levels, axis=1) >= 0))
        True
        """
        return self._apply_fitted("eigenvalues", X)[:, 0]
