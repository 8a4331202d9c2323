# SPDX-License-Identifier: BSD-3-Clause
"""Parameter layout, forward model and loss-and-gradient of a PMM.

:class:`PMMModel` holds no fitted state: it knows how the float64 parameter
vector is laid out and evaluates outputs, loss and analytic gradient for any
parameter vector, so the estimators only orchestrate the solver (the design
of scikit-learn's ``LinearModelLoss``).
"""

import numpy as np
from scipy.special import log_softmax

from sklearn_pmm._eigh import DEFAULT_BROADENING, chunked_map, eigh_adjoint_factor
from sklearn_pmm._hermitian import HermitianPacking
from sklearn_pmm._readout import make_readout, select_eigenpairs


class SquaredError:
    r"""Half squared error :math:`\frac12\|z - y\|^2` per sample.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._loss import SquaredError
    >>> loss, grad = SquaredError().loss_gradient(
    ...     np.array([[1.0]]), np.array([[3.0]]), np.array([2.0]))
    >>> float(loss), grad
    (4.0, array([[-4.]]))
    """

    def loss_gradient(self, outputs, targets, weights):
        """Weighted loss sum and its gradient with respect to the outputs."""
        residual = outputs - targets
        loss = 0.5 * np.dot(weights, np.einsum("sk,sk->s", residual, residual))
        return loss, weights[:, None] * residual


class SoftmaxCrossEntropy:
    r"""Cross-entropy of :math:`\operatorname{softmax}(z/\tau)` per sample.

    Parameters
    ----------
    temperature : float
        The fixed softmax temperature :math:`\tau`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._loss import SoftmaxCrossEntropy
    >>> loss, grad = SoftmaxCrossEntropy(1.0).loss_gradient(
    ...     np.zeros((1, 2)), np.array([[1.0, 0.0]]), np.ones(1))
    >>> round(float(loss), 6)
    0.693147
    """

    def __init__(self, temperature):
        self.temperature = temperature

    def loss_gradient(self, outputs, targets, weights):
        """Weighted loss sum and its gradient; ``targets`` are one-hot rows."""
        log_proba = log_softmax(outputs / self.temperature, axis=1)
        loss = -np.dot(weights, np.einsum("sk,sk->s", targets, log_proba))
        grad = (np.exp(log_proba) - targets) * (weights / self.temperature)[:, None]
        return loss, grad


class PMMModel:
    r"""Layout, forward pass and loss gradient of an affine PMM.

    The model is :math:`H(x) = H_0 + \sum_l x_l H_l`, eigendecomposed per
    sample; ``r`` eigenpairs are selected and read out.  The parameter vector
    holds, in order, the packed :math:`H_0, \dots, H_p`, the packed secondary
    matrices of the readout and the ``q`` intercepts.

    Parameters
    ----------
    n_features : int
    n_outputs : int
    matrix_size : int
    n_eigenvectors : int
    readout : {"decoder", "expectation", "eigenvalues"}
    n_decoders : int or None
    which : {"lowest", "highest", "largest_magnitude"}
    complex_valued : bool
    broadening : float, default=1e-8

    Examples
    --------
    >>> from sklearn_pmm._loss import PMMModel
    >>> model = PMMModel(2, 1, 7, 3, "decoder", None, "largest_magnitude", True)
    >>> model.n_params
    442
    """

    def __init__(
        self,
        n_features,
        n_outputs,
        matrix_size,
        n_eigenvectors,
        readout,
        n_decoders,
        which,
        complex_valued,
        broadening=DEFAULT_BROADENING,
    ):
        self.n_features = n_features
        self.n_outputs = n_outputs
        self.matrix_size = matrix_size
        self.n_eigenvectors = n_eigenvectors
        self.which = which
        self.broadening = broadening
        self.packing = HermitianPacking(matrix_size, complex_valued)
        self.readout = make_readout(readout, n_outputs, n_eigenvectors, n_decoders)
        k = self.packing.n_floats
        n_ham = (n_features + 1) * k
        n_sec = self.readout.n_matrices * k
        self._slices = {
            "hamiltonians": slice(0, n_ham),
            "secondary": slice(n_ham, n_ham + n_sec),
            "intercept": slice(n_ham + n_sec, n_ham + n_sec + n_outputs),
        }
        self.n_params = n_ham + n_sec + n_outputs
        # Penalised floats: every matrix entry, not the intercepts.
        self.penalty_mask = np.ones(self.n_params)
        self.penalty_mask[self._slices["intercept"]] = 0.0

    @property
    def layout(self):
        """What a parameter vector's meaning depends on (for warm starts)."""
        return (
            self.n_features,
            self.n_outputs,
            self.matrix_size,
            self.packing.complex_valued,
            self.readout.kind,
            self.readout.n_matrices,
        )

    @property
    def secondary_shape(self):
        """Shape ``(q, M, n, n)`` of the readout's secondary matrices."""
        n = self.matrix_size
        return (self.n_outputs, self.readout.n_matrices // self.n_outputs, n, n)

    def unpack(self, theta):
        """Split a parameter vector into matrices and intercepts.

        Returns
        -------
        hamiltonians : ndarray of shape (p + 1, n, n)
        secondary : ndarray of shape (q * M, n, n)
        intercept : ndarray of shape (q,)
        """
        k = self.packing.n_floats
        hams = self.packing.unpack(theta[self._slices["hamiltonians"]].reshape(-1, k))
        secondary = self.packing.unpack(theta[self._slices["secondary"]].reshape(-1, k))
        return hams, secondary, theta[self._slices["intercept"]].copy()

    def pack(self, hamiltonians, secondary, intercept):
        """Inverse of :meth:`unpack` (reads upper triangles only)."""
        parts = [self.packing.pack(hamiltonians).ravel()]
        if self.readout.n_matrices:
            parts.append(self.packing.pack(secondary).ravel())
        parts.append(np.asarray(intercept, dtype=np.float64).ravel())
        return np.concatenate(parts)

    def primary_matrices(self, X, hamiltonians):
        """The stack :math:`H(x_s) = H_0 + \\sum_l x_{sl} H_l`, shape (N, n, n)."""
        n = self.matrix_size
        flat = hamiltonians.reshape(len(hamiltonians), n * n)
        stack = X @ flat[1:] + flat[0]
        return stack.reshape(len(X), n, n)

    def _eigensystem(self, X, hamiltonians):
        values, vectors = np.linalg.eigh(self.primary_matrices(X, hamiltonians))
        index = select_eigenpairs(values, self.n_eigenvectors, self.which)
        if self.which == "largest_magnitude":
            selected_values = np.take_along_axis(values, index, 1)
            selected_vectors = np.take_along_axis(vectors, index[:, None, :], 2)
        else:  # the same columns for every sample: plain indexing is faster
            selected_values = values[:, index[0]]
            selected_vectors = vectors[:, :, index[0]]
        return values, vectors, index, selected_values, selected_vectors

    def _outputs_from_params(self, X, params, offset):
        hamiltonians, secondary, intercept = params
        eig = self._eigensystem(X, hamiltonians)
        raw, cache = self.readout.forward(eig[4], eig[3], secondary)
        return raw + (offset + intercept), eig, cache

    def predict(self, theta, X, *, batch_size=1024, n_jobs=None):
        """Outputs ``z`` of shape ``(N, q)`` for a parameter vector."""
        params = self.unpack(theta)
        offset, _ = self.readout.offset(params[1])
        chunks = chunked_map(
            lambda batch: self._outputs_from_params(X[batch], params, offset)[0],
            len(X),
            batch_size=batch_size,
            n_jobs=n_jobs,
        )
        return np.concatenate(chunks)

    def eigenvalues(self, theta, X, *, batch_size=1024, n_jobs=None):
        """All eigenvalues of :math:`H(x)`, ascending, shape ``(N, n)``."""
        hamiltonians = self.unpack(theta)[0]
        chunks = chunked_map(
            lambda batch: np.linalg.eigvalsh(
                self.primary_matrices(X[batch], hamiltonians)
            ),
            len(X),
            batch_size=batch_size,
            n_jobs=n_jobs,
        )
        return np.concatenate(chunks)

    def _chunk_loss_gradient(self, X, targets, weights, params, offset, data_loss):
        outputs, eig, cache = self._outputs_from_params(X, params, offset)
        values, vectors, index, selected_values, selected_vectors = eig
        loss, outputs_grad = data_loss.loss_gradient(outputs, targets, weights)
        vectors_grad, values_grad, secondary_grad = self.readout.backward(
            outputs_grad, selected_vectors, cache, params[1]
        )
        factor = eigh_adjoint_factor(
            vectors,
            index,
            selected_values,
            values,
            vectors_grad,
            values_grad,
            self.broadening,
        )
        # Per-sample matrix gradients V_S A^dagger, then sum_s [1, x_s]_l G_s
        # as one GEMM (2-3x faster than one GEMM over (sample, vector) pairs).
        n = self.matrix_size
        flat_grad = (selected_vectors @ np.conj(factor.transpose(0, 2, 1))).reshape(
            len(X), n * n
        )
        ham_grad = np.empty((self.n_features + 1, n * n), dtype=flat_grad.dtype)
        ham_grad[0] = flat_grad.sum(axis=0)
        ham_grad[1:] = X.T @ flat_grad
        return loss, ham_grad, secondary_grad, outputs_grad.sum(axis=0)

    def loss_gradient(
        self,
        theta,
        X,
        targets,
        sample_weight,
        data_loss,
        alpha=0.0,
        *,
        batch_size=1024,
        n_jobs=None,
        parallel=None,
    ):
        r"""Weighted-mean loss plus L2 penalty, and its gradient.

        .. math::

            L(\theta) = \frac{\sum_s w_s \ell(z(x_s), y_s)}{\sum_s w_s}
                        + \frac{\alpha}{2}\|\theta_{\text{matrices}}\|^2

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
        X : ndarray of shape (N, p)
        targets : ndarray of shape (N, q)
        sample_weight : ndarray of shape (N,)
        data_loss : SquaredError or SoftmaxCrossEntropy
        alpha : float, default=0.0
        batch_size : int, default=1024
        n_jobs : int or None, default=None
        parallel : Parallel or None, default=None

        Returns
        -------
        loss : float
        gradient : ndarray of shape (n_params,)
        """
        params = self.unpack(theta)
        offset, norm_grad = self.readout.offset(params[1])
        chunks = chunked_map(
            lambda batch: self._chunk_loss_gradient(
                X[batch],
                targets[batch],
                sample_weight[batch],
                params,
                offset,
                data_loss,
            ),
            len(X),
            batch_size=batch_size,
            n_jobs=n_jobs,
            parallel=parallel,
        )
        loss, ham_grad, secondary_grad, outputs_grad_sum = chunks[0]
        for chunk in chunks[1:]:
            loss = loss + chunk[0]
            ham_grad = ham_grad + chunk[1]
            if secondary_grad is not None:
                secondary_grad = secondary_grad + chunk[2]
            outputs_grad_sum = outputs_grad_sum + chunk[3]

        n = self.matrix_size
        packing = self.packing
        grad = np.empty(self.n_params)
        grad[self._slices["hamiltonians"]] = packing.pack_gradient(
            ham_grad.reshape(-1, n, n)
        ).ravel()
        if secondary_grad is not None:
            offset_grad = self.readout.offset_gradient(outputs_grad_sum, norm_grad)
            if offset_grad is not None:
                secondary_grad = secondary_grad + offset_grad
            grad[self._slices["secondary"]] = packing.pack_gradient(
                secondary_grad
            ).ravel()
        grad[self._slices["intercept"]] = outputs_grad_sum
        weight_sum = sample_weight.sum()
        loss /= weight_sum
        grad /= weight_sum
        if alpha:
            penalised = theta * self.penalty_mask
            loss += 0.5 * alpha * np.dot(penalised, penalised)
            grad += alpha * penalised
        return float(loss), grad

    def rescale(self, theta, x_shift, x_scale, y_shift, y_scale):
        r"""Fold affine maps of inputs and outputs into the parameters.

        Returns ``theta'`` with
        ``z(theta', x) = y_scale * z(theta, (x - x_shift) / x_scale) + y_shift``,
        exactly: the input map is absorbed by :math:`H_0` and :math:`H_l`, the
        output map by the intercepts and the secondary matrices (scaled by
        :math:`\sqrt{s_k}` for decoders, :math:`s_k` for observables) or, for the
        eigenvalue readout, by all of :math:`H` (one common scale then).

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
        x_shift, x_scale : ndarray of shape (p,)
        y_shift, y_scale : ndarray of shape (q,)
            ``y_scale`` must be positive.

        Returns
        -------
        theta : ndarray of shape (n_params,)
        """
        hams, secondary, intercept = self.unpack(theta)
        x_scale = np.asarray(x_scale, dtype=np.float64)
        y_scale = np.asarray(y_scale, dtype=np.float64)
        linear = hams[1:] / x_scale[:, None, None]
        constant = hams[0] - np.tensordot(x_shift, linear, axes=1)
        hams = np.concatenate([constant[None], linear])
        if self.readout.n_matrices:
            per_output = np.repeat(y_scale, self.readout.n_matrices // self.n_outputs)
            if self.readout.kind == "decoder":
                per_output = np.sqrt(per_output)
            secondary = secondary * per_output[:, None, None]
        else:
            if not np.allclose(y_scale, y_scale[0], rtol=1e-12, atol=0):
                raise ValueError("The eigenvalue readout needs one common y_scale.")
            hams = hams * y_scale[0]
        return self.pack(hams, secondary, y_scale * intercept + y_shift)

    def initial_parameters(
        self, random_state, *, spread=1.0, coupling=1.0, secondary=0.5
    ):
        r"""Random starting parameters for inputs and outputs of unit scale.

        :math:`H_0` has a spread spectrum (its diagonal evenly spaced on
        ``[-spread, spread]``) plus a random Hermitian part; each :math:`H_l`
        and each secondary matrix is a random Hermitian matrix whose entries
        have standard deviation ``coupling / sqrt(n p)`` and
        ``secondary / sqrt(n)``.  Intercepts start at zero.  The draw depends
        only on ``random_state`` and the layout.

        Parameters
        ----------
        random_state : numpy.random.RandomState
        spread, coupling, secondary : float

        Returns
        -------
        theta : ndarray of shape (n_params,)
        """
        n, p = self.matrix_size, self.n_features
        n_mat = 1 + p + self.readout.n_matrices
        k = self.packing.n_floats
        raw = random_state.standard_normal((n_mat, k))
        scales = np.empty(n_mat)
        scales[0] = spread / np.sqrt(n)
        scales[1 : p + 1] = coupling / np.sqrt(n * p)
        scales[p + 1 :] = secondary / np.sqrt(n)
        matrices = self.packing.unpack(raw * scales[:, None])
        matrices[0] += np.diag(np.linspace(-spread, spread, n))
        return self.pack(matrices[: p + 1], matrices[p + 1 :], np.zeros(self.n_outputs))
