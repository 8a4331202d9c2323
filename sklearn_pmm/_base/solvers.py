# SPDX-License-Identifier: BSD-3-Clause
"""Optimisers that take a loss-and-gradient function and a start vector.

They know nothing of PMMs (the design of ``GaussianProcessRegressor.
_constrained_optimization``): restarts just call them again.
"""

import time

import numpy as np
from scipy.optimize import OptimizeResult, minimize
from sklearn.utils import check_random_state

# The status of a run that ``monitor`` stopped: scipy.optimize.minimize's when
# the callback raises StopIteration, and Adam's by the same convention.
STOPPED_BY_MONITOR = 99
# The status of a run that used up its budget: max_iter iterations (or, for
# L-BFGS, its function evaluations), as scipy.optimize.minimize reports it.
STATUS_MAX_ITER = 1


def minimize_lbfgs(
    fun,
    theta0,
    *,
    max_iter,
    tol,
    monitor=None,
    progress=None,
    verbose_prefix=None,
):
    """Minimise ``fun`` with L-BFGS from ``theta0``.

    Parameters
    ----------
    fun : callable
        ``fun(theta) -> (loss, gradient)``.
    theta0 : ndarray of shape (n_params,)
    max_iter : int
        Maximum number of iterations (at most ``10 * max_iter`` evaluations,
        since line searches may take several).
    tol : float
        Stop when the largest gradient component is below ``tol``.
    monitor : callable or None, default=None
        Called as ``monitor(theta)`` after every iteration; returning
        ``True`` stops the run (``result.status`` is then 99).
    progress : (int, float) or None, default=None
        ``(window, rtol)``: the run has converged (``result.status`` 0)
        once the loss fell by less than the fraction ``rtol`` of itself over
        the last ``window`` iterations.
    verbose_prefix : str or None, default=None
        If given, print the loss, gradient norm and elapsed time after every
        iteration, after this prefix.

    Returns
    -------
    result : scipy.optimize.OptimizeResult
    loss_curve : list of float
        The loss after each iteration.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._base.solvers import minimize_lbfgs
    >>> result, curve = minimize_lbfgs(
    ...     lambda t: (float(t @ t), 2 * t), np.ones(3), max_iter=10, tol=1e-10)
    >>> bool(result.fun < 1e-12), len(curve) <= 10
    (True, True)
    """
    last = {}

    def objective(theta):
        loss, grad = fun(theta)
        last["theta"], last["grad"] = theta, grad
        return loss, grad

    curve, slowed = [], []
    tic = time.perf_counter()

    def callback(intermediate_result):
        curve.append(float(intermediate_result.fun))
        if verbose_prefix is not None:
            grad_norm = (
                np.abs(last["grad"]).max()
                if np.array_equal(last.get("theta"), intermediate_result.x)
                else float("nan")
            )
            print(
                f"{verbose_prefix} iteration {len(curve)}: "
                f"loss={curve[-1]:.6g} |grad|_inf={grad_norm:.3g} "
                f"elapsed={time.perf_counter() - tic:.2f}s"
            )
        if monitor is not None and monitor(intermediate_result.x):
            raise StopIteration
        if progress is not None:
            window, rtol = progress
            if len(curve) > window and curve[-window - 1] - curve[-1] <= rtol * abs(
                curve[-window - 1]
            ):
                slowed.append(True)
                raise StopIteration

    result = minimize(
        objective,
        theta0,
        method="L-BFGS-B",
        jac=True,
        callback=callback,
        options={
            "maxiter": max_iter,
            "maxfun": 10 * max_iter,
            "gtol": tol,
            "ftol": 64 * np.finfo(float).eps,
            # A long history, chosen on Franke fits when the engine was
            # built (that comparison is not stored in benchmarks/results).
            "maxcor": 50,
            "maxls": 50,
        },
    )
    if slowed:
        result.status, result.success = 0, True
        result.message = (
            f"CONVERGENCE: the loss fell by less than {progress[1]:g} of itself "
            f"over the last {progress[0]} iterations"
        )
    return result, curve


class AdamOptimizer:
    r"""Adam (Kingma and Ba, 2014): the state of one stochastic-gradient run.

    As in ``MLPRegressor(solver="adam")``, every :meth:`update` with the
    gradient :math:`g_t` of step :math:`t = 1, 2, \ldots` does, elementwise
    and from :math:`m_0 = v_0 = 0`,

    .. math::

        m_t &= \beta_1 m_{t-1} + (1 - \beta_1)\, g_t, \\
        v_t &= \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2, \\
        \eta_t &= \eta\, \frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t}, \\
        \theta_t &= \theta_{t-1} - \eta_t\, \frac{m_t}{\sqrt{v_t} + \epsilon}.

    This is the paper's efficient form of the bias-corrected update
    :math:`\theta_t = \theta_{t-1} - \eta\, \hat m_t / (\sqrt{\hat v_t}
    + \hat\epsilon)` with :math:`\hat m_t = m_t / (1 - \beta_1^t)`,
    :math:`\hat v_t = v_t / (1 - \beta_2^t)` and :math:`\hat\epsilon =
    \epsilon / \sqrt{1 - \beta_2^t}`.

    The object holds plain floats and arrays, so it pickles and deep-copies;
    an estimator keeps its step count and moments between ``partial_fit``
    calls and rebuilds it from them to continue the run.

    Parameters
    ----------
    theta : ndarray of shape (n_params,)
        The parameters to be optimised; only their shape is used, to size
        the moments.
    learning_rate_init : float, default=0.001
        The step size :math:`\eta`.
    beta_1 : float, default=0.9
        Decay rate :math:`\beta_1 \in [0, 1)` of the first moment.
    beta_2 : float, default=0.999
        Decay rate :math:`\beta_2 \in [0, 1)` of the second moment.
    epsilon : float, default=1e-8
        :math:`\epsilon`, for numerical stability.

    Attributes
    ----------
    learning_rate : float
        The step size :math:`\eta_t` of the last update
        (``learning_rate_init`` before the first).
    t : int
        The number of updates so far.
    m : ndarray of shape (n_params,)
        The first moment :math:`m_t`.
    v : ndarray of shape (n_params,)
        The second moment :math:`v_t`.

    References
    ----------
    D. P. Kingma and J. Ba, "Adam: A method for stochastic optimization",
    ICLR 2015, https://arxiv.org/abs/1412.6980.

    Examples
    --------
    The first step moves every parameter by the learning rate, against the
    sign of its gradient:

    >>> import numpy as np
    >>> from sklearn_pmm._base.solvers import AdamOptimizer
    >>> optimizer = AdamOptimizer(np.zeros(2), learning_rate_init=0.1, epsilon=0)
    >>> optimizer.update(np.zeros(2), np.array([3.0, -0.5]))
    array([-0.1,  0.1])
    >>> optimizer.t
    1
    """

    def __init__(
        self, theta, learning_rate_init=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8
    ):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate_init
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0
        self.m = np.zeros(np.shape(theta))
        self.v = np.zeros(np.shape(theta))

    def update(self, theta, grad):
        """One Adam step.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            The current parameters; left unchanged.
        grad : ndarray of shape (n_params,)
            The gradient of the loss at ``theta``.

        Returns
        -------
        theta : ndarray of shape (n_params,)
            The updated parameters, a new array.
        """
        grad = np.asarray(grad, dtype=float)
        if grad.shape != self.m.shape:
            raise ValueError(
                f"The gradient has shape {grad.shape} but the optimizer was "
                f"made for parameters of shape {self.m.shape}."
            )
        self.t += 1
        self.m = self.beta_1 * self.m + (1 - self.beta_1) * grad
        self.v = self.beta_2 * self.v + (1 - self.beta_2) * grad**2
        self.learning_rate = float(
            self.learning_rate_init
            * np.sqrt(1 - self.beta_2**self.t)
            / (1 - self.beta_1**self.t)
        )
        return theta - self.learning_rate * self.m / (np.sqrt(self.v) + self.epsilon)


def minimize_adam(
    batch_fun,
    theta0,
    n_samples,
    *,
    batch_size,
    max_iter,
    tol,
    n_iter_no_change,
    shuffle,
    random_state,
    learning_rate_init=1e-3,
    beta_1=0.9,
    beta_2=0.999,
    epsilon=1e-8,
    optimizer=None,
    monitor=None,
    verbose_prefix=None,
):
    r"""Minimise a mean loss with Adam on mini-batches, epoch by epoch.

    The loop of ``MLPRegressor(solver="adam", early_stopping=False)``: each
    epoch (one iteration) draws a permutation of the ``n_samples`` rows (the
    identity without ``shuffle``), cuts it into consecutive batches of
    ``batch_size`` rows (the last one may be smaller) and takes one
    :class:`AdamOptimizer` step per batch.  The epoch's loss is the mean of
    the batch losses :math:`L_b` weighted by the batch sizes :math:`n_b`,

    .. math::

        L^{(k)} = \frac{1}{N} \sum_b n_b L_b(\theta_b),

    each evaluated at the parameters :math:`\theta_b` before its step.  The
    run has converged when :math:`L^{(k)} > \min_{j<k} L^{(j)} - \mathrm{tol}`
    for ``n_iter_no_change`` epochs in a row.

    Parameters
    ----------
    batch_fun : callable
        ``batch_fun(theta, rows) -> (loss, gradient)``: the mean loss over
        the rows ``rows`` (an integer array) of the caller's data, and its
        gradient.
    theta0 : ndarray of shape (n_params,)
    n_samples : int
        Number of rows; every epoch passes each of ``range(n_samples)`` to
        ``batch_fun`` exactly once.
    batch_size : int
        Rows per batch; larger values mean one batch of all rows.
    max_iter : int
        Maximum number of epochs.
    tol : float
        Absolute improvement of the epoch loss that counts as progress.
    n_iter_no_change : int
        Number of epochs in a row without progress after which the run has
        converged.
    shuffle : bool
        Whether to visit the rows in a new random order every epoch.
    random_state : int, RandomState instance or None
        The source of the permutations (see :term:`Glossary <random_state>`);
        they are the only randomness.
    learning_rate_init, beta_1, beta_2, epsilon : float
        The hyperparameters of a new :class:`AdamOptimizer`; ignored when
        ``optimizer`` is given.
    optimizer : AdamOptimizer or None, default=None
        An optimizer to continue (it is updated in place), for example the
        ``optimizer`` of an earlier result; ``None`` starts a new one.
    monitor : callable or None, default=None
        Called as ``monitor(theta)`` after every epoch; returning ``True``
        stops the run (``result.status`` is then 99).
    verbose_prefix : str or None, default=None
        If given, print the loss and elapsed time after every epoch, after
        this prefix.

    Returns
    -------
    result : scipy.optimize.OptimizeResult
        With ``x`` (the final parameters), ``fun`` (the last epoch loss),
        ``nit`` (epochs), ``nfev`` (batch evaluations, one per step),
        ``status`` (0 converged, 1 ``max_iter`` reached, 99 stopped by
        ``monitor``, which takes precedence), ``success`` (``status == 0``),
        ``message``, ``loss_curve`` (the loss of every epoch, a list of
        float) and ``optimizer`` (the :class:`AdamOptimizer`, to continue).

    See Also
    --------
    minimize_lbfgs : The full-batch solver.

    Examples
    --------
    Least squares, :math:`\frac12 (x_s^\top \theta - y_s)^2` averaged over
    batches of 8 of the 40 rows:

    >>> import numpy as np
    >>> from sklearn_pmm._base.solvers import minimize_adam
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(40, 2))
    >>> y = X @ [1.0, -2.0]
    >>> def batch_fun(theta, rows):
    ...     residual = X[rows] @ theta - y[rows]
    ...     return 0.5 * np.mean(residual**2), X[rows].T @ residual / len(rows)
    >>> result = minimize_adam(
    ...     batch_fun, np.zeros(2), len(X), batch_size=8, max_iter=500,
    ...     tol=1e-8, n_iter_no_change=10, shuffle=True, random_state=0,
    ...     learning_rate_init=0.05)
    >>> result.x.round(4)
    array([ 1., -2.])
    >>> result.status, result.nit == len(result.loss_curve), result.optimizer.t
    (0, True, ...)
    """
    if min(n_samples, batch_size, max_iter, n_iter_no_change) < 1:
        raise ValueError(
            "n_samples, batch_size, max_iter and n_iter_no_change must be "
            f"positive; got {n_samples}, {batch_size}, {max_iter} and "
            f"{n_iter_no_change}."
        )
    rng = check_random_state(random_state)
    theta = np.array(theta0, dtype=float)
    if optimizer is None:
        optimizer = AdamOptimizer(theta, learning_rate_init, beta_1, beta_2, epsilon)
    batch_size = min(batch_size, n_samples)
    order = np.arange(n_samples)
    curve, best_loss, no_improvement, n_steps = [], np.inf, 0, 0
    status, message = (
        STATUS_MAX_ITER,
        (
            f"Maximum number of iterations (max_iter={max_iter}) reached and the "
            "optimization hasn't converged yet."
        ),
    )
    tic = time.perf_counter()
    for _ in range(max_iter):
        if shuffle:
            order = rng.permutation(n_samples)
        accumulated = 0.0
        for start in range(0, n_samples, batch_size):
            rows = order[start : start + batch_size]
            loss, grad = batch_fun(theta, rows)
            accumulated += float(loss) * len(rows)
            theta = optimizer.update(theta, grad)
            n_steps += 1
        curve.append(accumulated / n_samples)
        if curve[-1] <= best_loss - tol:  # a NaN loss is no progress
            no_improvement = 0
        else:
            no_improvement += 1
        if curve[-1] < best_loss:
            best_loss = curve[-1]
        if verbose_prefix is not None:
            print(
                f"{verbose_prefix} iteration {len(curve)}: loss={curve[-1]:.6g} "
                f"elapsed={time.perf_counter() - tic:.2f}s"
            )
        if monitor is not None and monitor(theta):
            status, message = STOPPED_BY_MONITOR, "Stopped by the monitor."
            break
        if no_improvement >= n_iter_no_change:
            status, message = (
                0,
                (
                    f"Training loss did not improve more than tol={tol} for "
                    f"{n_iter_no_change} consecutive epochs."
                ),
            )
            break
    return OptimizeResult(
        x=theta,
        fun=curve[-1],
        nit=len(curve),
        nfev=n_steps,
        status=status,
        success=status == 0,
        message=message,
        loss_curve=curve,
        optimizer=optimizer,
    )
