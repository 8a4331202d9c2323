# SPDX-License-Identifier: BSD-3-Clause
"""The estimator base shared by every PMM estimator.

It validates hyperparameters, builds the model (a primary-matrix map and a
readout composed by :class:`~sklearn_pmm._model.PMMModel`), standardises the
inputs through the map, runs the solver from one or more starts, folds the
standardisation back into the fitted matrices and sets every fitted
attribute in one place, after a successful fit.  Fitted state is arrays and
plain values only; the model is rebuilt from them when needed.
"""

import functools
from abc import ABC, abstractmethod
from numbers import Integral, Real

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

from sklearn_pmm._compat import Interval, StrOptions, _check_optimize_result
from sklearn_pmm._eigh import ExecutionPolicy, single_blas_thread
from sklearn_pmm._maps import AffineMap
from sklearn_pmm._model import PMMModel
from sklearn_pmm._readout import READOUTS, WHICH_OPTIONS
from sklearn_pmm._solvers import minimize_lbfgs


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

    # ------------------------------------------------------------------
    # what each estimator defines
    # ------------------------------------------------------------------

    @abstractmethod
    def _data_loss(self):
        """The per-sample loss object (squared error or cross-entropy)."""

    @abstractmethod
    def _model_spec(self, n_features, n_outputs):
        """Plain values the model is built from (stored as fitted state)."""

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

    def _check_levels(self, matrix_size, n_levels):
        if isinstance(self.which, Integral) and self.which + n_levels > matrix_size:
            raise ValueError(
                f"which={self.which} selects levels up to "
                f"{self.which + n_levels - 1}, but matrix_size="
                f"{matrix_size} has levels 0 to {matrix_size - 1}."
            )

    def _build_model(self, spec):
        """The model of a spec (built at fit, and again from fitted state)."""
        primary_map = self._build_map(spec)
        readout = READOUTS[spec["readout"]](
            n_outputs=spec["n_outputs_per_system"],
            n_eigenvectors=spec["n_eigenvectors"],
            n_decoders=spec["n_decoders"],
            n_systems=primary_map.n_systems,
        )
        readout.validate(primary_map.matrix_size)
        if spec["which"] is not None and isinstance(spec["which"], Integral):
            self._check_levels(primary_map.matrix_size, readout.n_levels)
        return PMMModel(primary_map, readout, which=spec["which"])

    def _fitted_model(self):
        """The fitted model and its parameter vector, rebuilt from fitted state."""
        model = self._build_model(self._spec)
        return model, model.layout.pack(self._attributes_to_params(self._spec))

    def _policy(self):
        return ExecutionPolicy(chunk_size=self.batch_size, n_jobs=self.n_jobs)

    # ------------------------------------------------------------------
    # fit
    # ------------------------------------------------------------------

    def _fit_pmm(self, X, targets, sample_weight, y_shift, y_scale, warm, extra=None):
        """Fit on validated arrays; ``targets`` are already in internal units.

        ``warm`` asks to continue from the previous fit (``warm_start`` and
        fitted).  Every fitted attribute is set at the end, together with the
        plain values in ``extra``.
        """
        spec = self._model_spec(X.shape[1], targets.shape[1])
        model = self._build_model(spec)
        primary_map = model.map
        x_scaling = primary_map.input_scaling(X, sample_weight)
        inputs = primary_map.prepare(
            X if x_scaling is None else primary_map.scale_inputs(X, x_scaling)
        )
        rng = check_random_state(self.random_state)
        # Warm starts continue from the fitted matrices when they fit the new
        # layout (same sizes, kind and readout); otherwise the fit starts cold.
        if (
            warm
            and self._build_model(self._spec).layout.signature == model.layout.signature
        ):
            previous = self._fitted_model()[1]
            inverse = None
            if x_scaling is not None:
                shift, scale = x_scaling
                inverse = (-shift / scale, 1.0 / scale)
            starts = [
                model.rescale(previous, inverse, -y_shift / y_scale, 1.0 / y_scale)
            ]
        else:
            starts = [model.initial_parameters(rng) for _ in range(1 + self.n_restarts)]

        fit_args = (model, inputs, targets, sample_weight, self._data_loss())
        n_workers = effective_n_jobs(self.n_jobs)
        policy = self._policy()
        with single_blas_thread():
            if len(starts) > 1 and n_workers > 1:
                # Independent starts in threads, each evaluating serially: the
                # chunks, and so every result, are the same as in series.
                runs = Parallel(n_jobs=min(n_workers, len(starts)), prefer="threads")(
                    delayed(self._run_solver)(*fit_args, theta0, index, policy.serial())
                    for index, theta0 in enumerate(starts)
                )
            else:
                with policy:
                    runs = [
                        self._run_solver(*fit_args, theta0, index, policy)
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
        theta = model.rescale(result.x, x_scaling, y_shift, y_scale)
        fitted = {
            "n_iter_": n_iter,
            "loss_": float(result.fun),
            "loss_curve_": curve,
        }
        return self._set_fitted(spec, model, theta, fitted, extra)

    def _run_solver(
        self, model, inputs, targets, sample_weight, data_loss, theta0, start, policy
    ):
        """One solver run from ``theta0``: the SciPy result and the loss curve."""

        def fun(theta):
            return model.loss_gradient(
                theta, inputs, targets, sample_weight, data_loss, self.alpha, policy
            )

        prefix = f"[{type(self).__name__}] start {start}" if self.verbose else None
        return minimize_lbfgs(
            fun, theta0, max_iter=self.max_iter, tol=self.tol, verbose_prefix=prefix
        )

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
        return getattr(model, method)(theta, model.map.prepare(X), self._policy())

    def _outputs(self, X):
        """PMM outputs in user units, shape (N, S * q)."""
        return self._apply_fitted("outputs", X)


class _AffinePMM(_BasePMM):
    """Estimators on the affine map :math:`H(x) = H_0 + \\sum_l x_l H_l`."""

    def _model_spec(self, n_features, n_outputs):
        return {
            "n_features": int(n_features),
            "n_outputs_per_system": int(n_outputs),
            "matrix_size": int(self.matrix_size),
            "n_eigenvectors": int(self.n_eigenvectors),
            "n_decoders": None if self.n_decoders is None else int(self.n_decoders),
            "which": self.which if isinstance(self.which, str) else int(self.which),
            "readout": self.readout,
            "complex_valued": self.hermitian == "complex",
        }

    def _build_map(self, spec):
        return AffineMap(
            spec["n_features"], spec["matrix_size"], spec["complex_valued"]
        )

    def _params_to_attributes(self, spec, params):
        n, q = spec["matrix_size"], spec["n_outputs_per_system"]
        decoders = params.get("decoders")
        return {
            "hamiltonians_": np.concatenate(
                [params["constant"][None], params["couplings"]]
            ),
            "decoders_": None if decoders is None else decoders.reshape(q, -1, n, n),
            "intercept_": params["intercept"],
        }

    def _attributes_to_params(self, spec):
        params = {
            "constant": self.hamiltonians_[0],
            "couplings": self.hamiltonians_[1:],
            "intercept": self.intercept_,
        }
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
        """
        return self._apply_fitted("eigenvalues", X)[:, 0]
