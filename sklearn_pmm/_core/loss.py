# SPDX-License-Identifier: BSD-3-Clause
"""Per-sample data losses on the PMM outputs, in one registry.

Each loss documents the same contract as scikit-learn's ``BaseLoss``: the
weighted loss sum and its gradient with respect to the outputs
(:meth:`DataLoss.loss_gradient`) and, for probabilistic losses, the
probabilities the outputs stand for (:meth:`DataLoss.predict_proba`).
"""

from abc import ABC, abstractmethod

import numpy as np
from scipy.special import log_softmax, softmax


class DataLoss(ABC):
    """The contract of a per-sample loss :math:`\\ell(z, y)` on outputs ``z``."""

    @abstractmethod
    def loss_gradient(self, outputs, targets, weights):
        """Weighted loss sum :math:`\\sum_s w_s \\ell(z_s, y_s)` and its gradient.

        Parameters
        ----------
        outputs : ndarray of shape (N, q)
        targets : ndarray of shape (N, q)
        weights : ndarray of shape (N,)

        Returns
        -------
        loss : float
        outputs_grad : ndarray of shape (N, q)
        """

    def predict_proba(self, outputs):
        """Probabilities the outputs stand for (probabilistic losses only)."""
        raise NotImplementedError(f"{type(self).__name__} is not probabilistic.")


class SquaredError(DataLoss):
    r"""Half squared error :math:`\frac12\|z - y\|^2` per sample.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._core.loss import SquaredError
    >>> loss, grad = SquaredError().loss_gradient(
    ...     np.array([[1.0]]), np.array([[3.0]]), np.array([2.0]))
    >>> float(loss), grad
    (4.0, array([[-4.]]))
    """

    def loss_gradient(self, outputs, targets, weights):
        residual = outputs - targets
        loss = 0.5 * np.dot(weights, np.einsum("sk,sk->s", residual, residual))
        return loss, weights[:, None] * residual


class SoftmaxCrossEntropy(DataLoss):
    r"""Cross-entropy of :math:`\operatorname{softmax}(z/\tau)` per sample.

    Parameters
    ----------
    temperature : float
        The fixed softmax temperature :math:`\tau`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._core.loss import SoftmaxCrossEntropy
    >>> loss, grad = SoftmaxCrossEntropy(1.0).loss_gradient(
    ...     np.zeros((1, 2)), np.array([[1.0, 0.0]]), np.ones(1))
    >>> round(float(loss), 6)
    0.693147
    >>> SoftmaxCrossEntropy(0.5).predict_proba(np.array([[0.0, np.log(2)]]))
    array([[0.2, 0.8]])
    """

    def __init__(self, temperature):
        self.temperature = temperature

    def loss_gradient(self, outputs, targets, weights):
        """Weighted loss sum and its gradient; ``targets`` are one-hot rows."""
        log_proba = log_softmax(outputs / self.temperature, axis=1)
        loss = -np.dot(weights, np.einsum("sk,sk->s", targets, log_proba))
        grad = (np.exp(log_proba) - targets) * (weights / self.temperature)[:, None]
        return loss, grad

    def predict_proba(self, outputs):
        # Shift before dividing, so a tiny temperature cannot give inf - inf.
        shifted = outputs - outputs.max(axis=1, keepdims=True)
        with np.errstate(over="ignore"):
            return softmax(shifted / self.temperature, axis=1)

    def predict_log_proba(self, outputs):
        """Log-probabilities, accurate for extreme logits."""
        shifted = outputs - outputs.max(axis=1, keepdims=True)
        with np.errstate(over="ignore"):
            return log_softmax(shifted / self.temperature, axis=1)


def weighted_r2_score(targets, outputs, sample_weight):
    r"""Coefficient of determination, averaged over the outputs.

    .. math::

        R^2_k = 1 - \frac{\sum_s w_s (y_{sk} - z_{sk})^2}
                          {\sum_s w_s (y_{sk} - \bar y_k)^2},
        \qquad \bar y_k = \frac{\sum_s w_s y_{sk}}{\sum_s w_s},

    with :func:`sklearn.metrics.r2_score`'s values for a constant target
    (1 for a perfect prediction, else 0).  The value of ``r2_score(targets,
    outputs, sample_weight=sample_weight)`` up to rounding, without its
    input checks: early stopping scores the validation rows at every
    iteration.

    Parameters
    ----------
    targets : ndarray of shape (N, q)
    outputs : ndarray of shape (N, q)
    sample_weight : ndarray of shape (N,)

    Returns
    -------
    score : float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._core.loss import weighted_r2_score
    >>> weighted_r2_score(np.array([[1.0], [3.0]]), np.array([[2.0], [3.0]]),
    ...                   np.ones(2))
    0.5
    """
    mean = sample_weight @ targets / sample_weight.sum()
    residual = sample_weight @ (targets - outputs) ** 2
    spread = sample_weight @ (targets - mean) ** 2
    scores = np.where(residual == 0, 1.0, 0.0)
    varying = (spread != 0) & (residual != 0)
    scores[varying] = 1 - residual[varying] / spread[varying]
    return float(scores.mean())


DATA_LOSSES = {"squared_error": SquaredError, "cross_entropy": SoftmaxCrossEntropy}
"""Data loss classes by name."""
