# SPDX-License-Identifier: BSD-3-Clause
"""The estimator base shared by the PMM regressor and classifier.

It validates hyperparameters and data, standardises inputs (and, for
regression, targets), runs L-BFGS with restarts and warm starts on the pure
loss of :class:`~sklearn_pmm._loss.PMMModel`, and folds the standardisation
back into the fitted matrices.
"""

import time
from abc import ABC, abstractmethod
from numbers import Integral, Real

import numpy as np
from joblib import effective_n_jobs
from scipy.optimize import minimize
from sklearn.base import BaseEstimator
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from sklearn_pmm._compat import Interval, StrOptions, _check_optimize_result
from sklearn_pmm._eigh import _threadpool_controller
from sklearn_pmm._loss import PMMModel
from sklearn_pmm._readout import WHICH_OPTIONS


def weighted_mean_scale(values, sample_weight):
    """Weighted mean and standard deviation per column (zero scales become 1).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._base import weighted_mean_scale
    >>> weighted_mean_scale(np.array([[0.0, 5.0], [2.0, 5.0]]), np.ones(2))
    (array([1., 5.]), array([1., 1.]))
    """
    weights = sample_weight / sample_weight.sum()
    mean = weights @ values
    centred = values - mean
    # Divide by the largest deviation first so that huge units do not overflow.
    largest = np.abs(centred).max(axis=0)
    unit = np.where(largest > 0, largest, 1.0)
    scale = unit * np.sqrt(weights @ (centred / unit) ** 2)
    # Constant up to rounding, relative to the column's own magnitude, so that
    # small units (1e-20) are still standardised.
    rounding = 10 * np.finfo(np.float64).eps * np.abs(mean)
    return mean, np.where(scale > rounding, scale, 1.0)


class _BasePMM(BaseEstimator, ABC):
    """Shared machinery of the PMM estimators; not for direct use."""

    _parameter_constraints: dict = {
        "matrix_size": [Interval(Integral, 1, None, closed="left")],
        "n_eigenvectors": [Interval(Integral, 1, None, closed="left")],
        "n_decoders": [Interval(Integral, 1, None, closed="left"), None],
        "which": [
            StrOptions(set(WHICH_OPTIONS)),
            Interval(Integral, 0, None, closed="left"),
        ],
        "readout": [StrOptions({"decoder", "expectation", "eigenvalues"})],
        "hermitian": [StrOptions({"real", "complex"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_restarts": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
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
        max_iter,
        tol,
        n_restarts,
        batch_size,
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
        self.max_iter = max_iter
        self.tol = tol
        self.n_restarts = n_restarts
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    @abstractmethod
    def _data_loss(self):
        """The per-sample loss object (squared error or cross-entropy)."""

    def _build_model(self, n_features, n_outputs):
        if self.n_eigenvectors > self.matrix_size:
            raise ValueError(
                f"n_eigenvectors={self.n_eigenvectors} must be at most "
                f"matrix_size={self.matrix_size}."
            )
        if (
            isinstance(self.which, Integral)
            and self.which + self.n_eigenvectors > self.matrix_size
        ):
            raise ValueError(
                f"which={self.which} selects levels up to "
                f"{self.which + self.n_eigenvectors - 1}, but matrix_size="
                f"{self.matrix_size} has levels 0 to {self.matrix_size - 1}."
            )
        if self.readout == "eigenvalues" and self.n_eigenvectors < n_outputs:
            raise ValueError(
                f"The eigenvalue readout needs n_eigenvectors >= n_outputs; got "
                f"n_eigenvectors={self.n_eigenvectors} for {n_outputs} outputs."
            )
        return PMMModel(
            n_features=n_features,
            n_outputs=n_outputs,
            matrix_size=self.matrix_size,
            n_eigenvectors=self.n_eigenvectors,
            readout=self.readout,
            n_decoders=self.n_decoders,
            which=self.which,
            complex_valued=self.hermitian == "complex",
        )

    def _fit_pmm(self, X, targets, sample_weight, y_shift, y_scale, warm):
        """Fit on validated arrays; ``targets`` are already in internal units.

        ``warm`` asks to continue from the previous fit (``warm_start`` and
        fitted).
        """
        n_features, n_outputs = X.shape[1], targets.shape[1]
        model = self._build_model(n_features, n_outputs)
        x_shift, x_scale = weighted_mean_scale(X, sample_weight)
        X_internal = (X - x_shift) / x_scale
        rng = check_random_state(self.random_state)
        # Warm starts continue from the fitted matrices when they fit the new
        # layout (same sizes, kind and readout); otherwise the fit starts cold.
        if warm and self._model.layout == model.layout:
            starts = [
                model.rescale(
                    self._coef_vector(model),
                    -x_shift / x_scale,
                    1.0 / x_scale,
                    -y_shift / y_scale,
                    1.0 / y_scale,
                )
            ]
        else:
            starts = [model.initial_parameters(rng) for _ in range(1 + self.n_restarts)]

        data_loss = self._data_loss()
        fit_args = (model, X_internal, targets, sample_weight, data_loss)
        n_workers = effective_n_jobs(self.n_jobs)
        # One BLAS thread: every matrix here is small, and L-BFGS-B's own BLAS
        # calls slow down 20-40 fold when BLAS threads contend for the cores.
        with _threadpool_controller().limit(limits=1, user_api="blas"):
            if len(starts) > 1 and n_workers > 1:
                # Independent starts in threads, each evaluating serially: the
                # chunks, and so every result, are the same as in series.
                runs = Parallel(n_jobs=min(n_workers, len(starts)), prefer="threads")(
                    delayed(self._run_lbfgs)(*fit_args, theta0, index, 1, None)
                    for index, theta0 in enumerate(starts)
                )
            else:
                with Parallel(n_jobs=self.n_jobs, prefer="threads") as parallel:
                    runs = [
                        self._run_lbfgs(*fit_args, theta0, index, self.n_jobs, parallel)
                        for index, theta0 in enumerate(starts)
                    ]
        # The lowest training loss wins, the first start on ties.
        best = min(range(len(runs)), key=lambda index: runs[index][0].fun)
        result, curve = runs[best]
        if not np.all(np.isfinite(result.x)) or not np.isfinite(result.fun):
            raise ValueError(
                "L-BFGS produced non-finite parameters; try a larger alpha or "
                "rescaling the data."
            )
        n_iter = max(_check_optimize_result("lbfgs", result, self.max_iter), 1)
        theta = model.rescale(result.x, x_shift, x_scale, y_shift, y_scale)
        return self._store_fit(model, theta, n_iter, float(result.fun), curve)

    def _run_lbfgs(
        self,
        model,
        X,
        targets,
        sample_weight,
        data_loss,
        theta0,
        start,
        n_jobs,
        parallel,
    ):
        """One L-BFGS run; returns the SciPy result and the loss curve."""
        last = {}

        def fun(theta):
            loss, grad = model.loss_gradient(
                theta,
                X,
                targets,
                sample_weight,
                data_loss,
                self.alpha,
                batch_size=self.batch_size,
                n_jobs=n_jobs,
                parallel=parallel,
            )
            last["theta"], last["grad"] = theta, grad
            return loss, grad

        curve = []
        tic = time.perf_counter()

        def callback(intermediate_result):
            curve.append(float(intermediate_result.fun))
            if self.verbose:
                grad_norm = (
                    np.abs(last["grad"]).max()
                    if np.array_equal(last.get("theta"), intermediate_result.x)
                    else float("nan")
                )
                print(
                    f"[{type(self).__name__}] start {start} iteration {len(curve)}: "
                    f"loss={curve[-1]:.6g} |grad|_inf={grad_norm:.3g} "
                    f"elapsed={time.perf_counter() - tic:.2f}s"
                )

        result = minimize(
            fun,
            theta0,
            method="L-BFGS-B",
            jac=True,
            callback=callback,
            options={
                "maxiter": self.max_iter,
                # Line searches may take several evaluations per iteration.
                "maxfun": 10 * self.max_iter,
                "gtol": self.tol,
                "ftol": 64 * np.finfo(float).eps,
                # A long history pays off on these curved losses: Franke
                # nMAE 2.4e-3 (10), 2.0e-3 (30), 1.7e-3 (50) at 1000 iterations.
                "maxcor": 50,
                "maxls": 50,
            },
        )
        return result, curve

    def _coef_vector(self, model):
        """The fitted matrices, in user units, as one parameter vector."""
        # The fitted model's size, not self.matrix_size: set_params after fit
        # must not change what predict computes.
        n = model.matrix_size
        secondary = None if self.decoders_ is None else self.decoders_.reshape(-1, n, n)
        return model.pack(self.hamiltonians_, secondary, self.intercept_)

    def _store_fit(self, model, theta, n_iter, loss, loss_curve):
        """Set every fitted attribute from user-unit parameters ``theta``."""
        self.n_iter_ = n_iter
        self.loss_ = loss
        self.loss_curve_ = loss_curve
        self.n_params_ = model.n_params
        hamiltonians, secondary, intercept = model.unpack(theta)
        self.hamiltonians_ = hamiltonians
        self.decoders_ = (
            secondary.reshape(model.secondary_shape)
            if model.readout.n_matrices
            else None
        )
        self.intercept_ = intercept
        self._model = model
        return self

    def _apply_fitted(self, method, X):
        """Validate ``X`` and call ``PMMModel.<method>`` with the fitted matrices."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return getattr(self._model, method)(
            self._coef_vector(self._model),
            X,
            batch_size=self.batch_size,
            n_jobs=self.n_jobs,
        )

    def _outputs(self, X):
        """PMM outputs in user units, shape (N, q)."""
        return self._apply_fitted("predict", X)

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
        """
        return self._apply_fitted("eigenvalues", X)
