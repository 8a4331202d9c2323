# SPDX-License-Identifier: BSD-3-Clause
"""A PMM as a composition: primary-matrix map, eigenpair selection, readout.

:class:`PMMModel` holds no fitted state: it lays the parameter vector out
from the blocks of its map and readout (plus one intercept per output) and
evaluates outputs, eigenvalues, and the weighted-mean loss with its analytic
gradient for any parameter vector, so the estimators only orchestrate the
solver (the design of scikit-learn's ``LinearModelLoss``).  The pipeline

    inputs -> map -> H (N, S, n, n) -> eigh -> select r pairs -> readout
           -> z + offset + intercept -> data loss

is back-propagated in reverse: the data loss gives :math:`\\bar z`, the
readout :math:`\\bar V, \\bar\\lambda` and its own block gradients, the eigen
adjoint the per-sample :math:`\\bar H`, and the map its block gradients.
"""

import numpy as np

from sklearn_pmm._core.eigh import DEFAULT_BROADENING, eigh_adjoint_factor, eigh_stack
from sklearn_pmm._core.params import ParameterBlock, ParameterLayout
from sklearn_pmm._core.readout import select_eigenpairs


class PMMModel:
    r"""Layout, forward pass and loss gradient of a PMM.

    Parameters
    ----------
    primary_map : PrimaryMap
        How inputs become the ``S`` primary matrices of each sample.
    readout : Readout
        How the selected eigenpairs of each matrix become ``q`` outputs.
    which : {"lowest", "highest", "largest_magnitude"} or int, default="lowest"
        Which eigenpairs are selected (see
        :func:`~sklearn_pmm._core.readout.select_eigenpairs`).
    broadening : float, default=1e-8
        Relative broadening of degenerate gaps in the eigen adjoint.

    Attributes
    ----------
    layout : ParameterLayout
        The map's blocks, the readout's blocks, then ``"intercept"`` (one
        unpenalised float per output).
    n_outputs : int
        ``S * q`` outputs per sample.

    Examples
    --------
    >>> from sklearn_pmm._core.maps import AffineMap
    >>> from sklearn_pmm._core.model import PMMModel
    >>> from sklearn_pmm._core.readout import DecoderReadout
    >>> model = PMMModel(AffineMap(2, 7, complex_valued=True),
    ...                  DecoderReadout(n_outputs=1, n_eigenvectors=3))
    >>> model.n_params
    442
    """

    def __init__(
        self, primary_map, readout, which="lowest", broadening=DEFAULT_BROADENING
    ):
        self.map = primary_map
        self.readout = readout
        self.which = which
        self.broadening = broadening
        readout.validate(primary_map.matrix_size)
        self.n_outputs = primary_map.n_systems * readout.n_outputs
        self.layout = ParameterLayout(
            [
                *primary_map.blocks(),
                *readout.blocks(primary_map.matrix_size, primary_map.complex_valued),
                ParameterBlock(
                    "intercept", "vector", (self.n_outputs,), penalised=False
                ),
            ]
        )

    @property
    def n_params(self):
        """Number of trainable floats."""
        return self.layout.n_params

    def initial_parameters(self, random_state):
        """A random parameter vector for standardised inputs and outputs.

        The draw depends only on ``random_state`` and the layout.
        """
        params = self.map.initial_parameters(random_state)
        params.update(
            self.readout.initial_parameters(
                random_state, self.map.matrix_size, self.map.complex_valued
            )
        )
        params["intercept"] = np.zeros(self.n_outputs)
        return self.layout.pack(params)

    def _select(self, values, vectors=None):
        """``(index, selected_values, selected_vectors)``; the vectors are
        ``None`` without ``vectors``."""
        index = select_eigenpairs(values, self.readout.n_levels, self.which)
        if self.which == "largest_magnitude":
            selected_values = np.take_along_axis(values, index, -1)
            selected_vectors = (
                None
                if vectors is None
                else np.take_along_axis(vectors, index[..., None, :], -1)
            )
        else:  # the same columns for every matrix: plain indexing is faster
            columns = index.reshape(-1, index.shape[-1])[0]
            selected_values = values[..., columns]
            selected_vectors = None if vectors is None else vectors[..., columns]
        return index, selected_values, selected_vectors

    def _eigensystem(self, matrices):
        values, vectors = eigh_stack(matrices)
        return values, vectors, *self._select(values, vectors)

    def _outputs_of(self, raw, offset, params):
        """The readout's raw outputs, per sample, plus offset and intercept."""
        return raw.reshape(len(raw), self.n_outputs) + (offset + params["intercept"])

    def _forward(self, params, inputs, offset, shared):
        eig = self._eigensystem(self.map.matrices(params, inputs, shared))
        raw, cache = self.readout.forward(eig[4], eig[3], params)
        return self._outputs_of(raw, offset, params), eig, cache

    def _values_forward(self, params, inputs, offset, shared):
        """The outputs of a readout that reads no eigenvectors: LAPACK's
        eigenvalue-only driver costs about half of the full decomposition."""
        values = np.linalg.eigvalsh(self.map.matrices(params, inputs, shared))
        raw, _ = self.readout.forward(None, self._select(values)[1], params)
        return self._outputs_of(raw, offset, params)

    def outputs(self, theta, inputs, policy):
        """Outputs ``z`` of shape ``(N, S * q)`` for a parameter vector.

        Eigenvectors are computed only if the readout reads them
        (``readout.needs_vectors``).

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
        inputs : ndarray
            ``primary_map.prepare(X)`` in the units of ``theta``.
        policy : ExecutionPolicy
        """
        params = self.layout.unpack(theta)
        offset = self.readout.offset(params)[0].ravel()
        shared = self.map.shared(params)
        if self.readout.needs_vectors:

            def forward(rows):
                return self._forward(params, rows, offset, shared)[0]

        else:

            def forward(rows):
                return self._values_forward(params, rows, offset, shared)

        chunks = policy.map(lambda batch: forward(inputs[batch]), len(inputs))
        return np.concatenate(chunks)

    def eigenvalues(self, theta, inputs, policy):
        """All eigenvalues of the primary matrices, ascending, shape ``(N, S, n)``."""
        params = self.layout.unpack(theta)
        shared = self.map.shared(params)
        chunks = policy.map(
            lambda batch: np.linalg.eigvalsh(
                self.map.matrices(params, inputs[batch], shared)
            ),
            len(inputs),
        )
        return np.concatenate(chunks)

    def _chunk_loss_gradient(
        self, inputs, targets, weights, params, offset, shared, data_loss
    ):
        outputs, eig, cache = self._forward(params, inputs, offset, shared)
        values, vectors, index, selected_values, selected_vectors = eig
        loss, outputs_grad = data_loss.loss_gradient(outputs, targets, weights)
        per_system = outputs_grad.reshape(len(outputs_grad), self.map.n_systems, -1)
        vectors_grad, values_grad, grads = self.readout.backward(
            per_system, selected_vectors, cache, params
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
        matrices_grad = selected_vectors @ np.conj(np.swapaxes(factor, -1, -2))
        grads.update(self.map.backward_terms(params, inputs, matrices_grad, shared))
        return loss, grads, outputs_grad.sum(axis=0)

    def loss_gradient(
        self,
        theta,
        inputs,
        targets,
        sample_weight,
        data_loss,
        penalty,
        policy,
        smoothness=0.0,
    ):
        r"""Weighted-mean loss plus penalties, and its gradient.

        .. math::

            L(\theta) = \frac{\sum_s w_s \ell(z(x_s), y_s)}{\sum_s w_s}
                        + \frac{\alpha}{2} \sum_{i \in \text{penalised}} \theta_i^2
                        + \frac{\gamma}{2} P(\theta)

        with :math:`P` the map's smoothness penalty
        (:meth:`PrimaryMap.smoothness_penalty`) and the penalised floats
        those of the layout's penalised blocks.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
        inputs : ndarray
            ``primary_map.prepare(X)`` for the N samples.
        targets : ndarray of shape (N, S * q)
        sample_weight : ndarray of shape (N,)
        data_loss : DataLoss
        penalty : float
            :math:`\alpha`, applied to every penalised block.
        policy : ExecutionPolicy
        smoothness : float, default=0.0
            :math:`\gamma`.

        Returns
        -------
        loss : float
        gradient : ndarray of shape (n_params,)
        """
        params = self.layout.unpack(theta)
        offset, offset_cache = self.readout.offset(params)
        offset = offset.ravel()
        shared = self.map.shared(params)
        chunks = policy.map(
            lambda batch: self._chunk_loss_gradient(
                inputs[batch],
                targets[batch],
                sample_weight[batch],
                params,
                offset,
                shared,
                data_loss,
            ),
            len(inputs),
        )
        loss, grads, outputs_grad_sum = chunks[0]
        for chunk_loss, chunk_grads, chunk_sum in chunks[1:]:
            loss = loss + chunk_loss
            grads = {name: grads[name] + chunk_grads[name] for name in grads}
            outputs_grad_sum = outputs_grad_sum + chunk_sum
        grads = self.map.finish_backward(params, grads)
        per_system = outputs_grad_sum.reshape(self.map.n_systems, -1)
        for name, grad in self.readout.offset_gradient(
            per_system, offset_cache
        ).items():
            grads[name] = grads[name] + grad
        grads["intercept"] = outputs_grad_sum
        grad = self.layout.pack_gradient(grads)
        weight_sum = sample_weight.sum()
        loss /= weight_sum
        grad /= weight_sum
        if smoothness:
            value, smooth_grads = self.map.smoothness_penalty(params)
            loss += 0.5 * smoothness * value
            grad += self.layout.pack_gradient(
                {name: 0.5 * smoothness * g for name, g in smooth_grads.items()}
            )
        if penalty:
            penalised = theta * self.layout.penalised
            loss += 0.5 * penalty * np.dot(penalised, penalised)
            grad += penalty * penalised
        return float(loss), grad

    def without_features(self, theta, unused):
        """``theta`` with no effect of the features flagged in ``unused``.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
        unused : ndarray of bool, shape (n_features,)

        Returns
        -------
        theta : ndarray of shape (n_params,)
        """
        params = self.map.without_features(self.layout.unpack(theta), unused)
        return self.layout.pack(params)

    def rescale(self, theta, x_scaling, y_shift, y_scale):
        r"""Fold affine maps of inputs and outputs into the parameters.

        Returns ``theta'`` with ``z(theta', x) = y_scale * z(theta, x') +
        y_shift`` where ``x'`` is ``x`` standardised by ``x_scaling`` (the
        map's ``(shift, scale)``, or ``None``), exactly: the map absorbs the
        input scaling, the readout the output scale (or, for the eigenvalue
        readout, the map, with one common scale) and the intercepts the rest.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
        x_scaling : tuple or None
        y_shift, y_scale : ndarray of shape (S * q,)
            ``y_scale`` must be positive.

        Returns
        -------
        theta : ndarray of shape (n_params,)
        """
        params = self.layout.unpack(theta)
        if x_scaling is not None:
            params = self.map.fold_input_scaling(params, *x_scaling)
        y_scale = np.asarray(y_scale, dtype=np.float64)
        scaled, primary_factor = self.readout.scale_outputs(params, y_scale)
        params.update(scaled)
        if primary_factor is not None:
            params = self.map.scale(params, primary_factor)
        params["intercept"] = y_scale * params["intercept"] + y_shift
        return self.layout.pack(params)
