# SPDX-License-Identifier: BSD-3-Clause
"""Eigenvector selection and the PMM readouts, in one registry.

A readout turns the selected eigenpairs of each primary matrix into outputs.
Every readout implements the contract of :class:`Readout` (its parameter
blocks, initial draw, forward and backward passes, sample-independent offset
and its gradient, and how it absorbs a scaling of the outputs) and is found by
name in :data:`READOUTS`; adding a readout touches this module only.

Notation: ``N`` samples, ``S`` systems (primary matrices per sample: one for
the affine map, one per class for the image map), matrix size ``n``, ``r``
selected eigenpairs, ``q`` outputs per system, ``M`` secondary (decoder or
observable) matrices per output.  Gradients with respect to complex
quantities follow the convention
:math:`dL = \\operatorname{Re}\\sum \\overline{\\bar x}\\, dx`.
"""

import numbers
from abc import ABC, abstractmethod

import numpy as np

from sklearn_pmm._core.params import ParameterBlock, ParameterLayout

WHICH_OPTIONS = ("lowest", "highest", "largest_magnitude")


def select_eigenpairs(eigenvalues, n_select, which):
    """Columns of the selected eigenpairs of every matrix.

    Parameters
    ----------
    eigenvalues : ndarray of shape (..., n)
        Ascending eigenvalues.
    n_select : int
        Number ``r`` of eigenpairs to select.
    which : {"lowest", "highest", "largest_magnitude"} or int
        ``"lowest"`` takes the ``r`` lowest in ascending order, ``"highest"``
        the ``r`` highest in descending order, ``"largest_magnitude"`` the
        ``r`` largest :math:`|\\lambda|` in descending magnitude; an integer
        ``k`` takes levels ``k, ..., k + r - 1`` counted from the lowest (an
        interior level is neither concave nor convex in ``x``, unlike the
        extreme ones).

    Returns
    -------
    index : ndarray of shape (..., r)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._core.readout import select_eigenpairs
    >>> select_eigenpairs(np.array([[-3.0, -1.0, 2.0]]), 2, "largest_magnitude")
    array([[0, 2]])
    """
    n = eigenvalues.shape[-1]
    if which == "lowest":
        columns = np.arange(n_select)
    elif isinstance(which, numbers.Integral) and 0 <= which <= n - n_select:
        columns = np.arange(which, which + n_select)
    elif which == "highest":
        columns = np.arange(n - 1, n - 1 - n_select, -1)
    elif which == "largest_magnitude":
        order = np.argsort(-np.abs(eigenvalues), axis=-1, kind="stable")
        return order[..., :n_select]
    else:
        raise ValueError(
            f"which must be one of {WHICH_OPTIONS} or an integer level in "
            f"[0, {n - n_select}], got {which!r}."
        )
    return np.broadcast_to(columns, (*eigenvalues.shape[:-1], n_select))


def spectral_norm_squared(matrices):
    r"""Squared spectral norm :math:`\|A\|_2^2` of Hermitian matrices and its gradient.

    Parameters
    ----------
    matrices : ndarray of shape (..., n, n)

    Returns
    -------
    norm_squared : ndarray of shape (...)
    matrix_grad : ndarray of shape (..., n, n)
        :math:`2\mu\, u u^\dagger`, with :math:`\mu` the eigenvalue of largest
        magnitude and :math:`u` its eigenvector.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._core.readout import spectral_norm_squared
    >>> spectral_norm_squared(np.array([np.diag([1.0, -3.0])]))[0]
    array([9.])
    """
    values, vectors = np.linalg.eigh(matrices)
    top = np.argmax(np.abs(values), axis=-1)[..., None]
    mu = np.take_along_axis(values, top, -1)[..., 0]
    u = np.take_along_axis(vectors, top[..., None], -1)[..., 0]
    grad = 2 * mu[..., None, None] * u[..., :, None] * np.conj(u[..., None, :])
    return mu**2, grad


class Readout(ABC):
    r"""The contract every readout implements.

    A readout reads ``q`` outputs per system from the ``r`` selected
    eigenpairs, through secondary matrices (the block ``"decoders"``, shape
    ``(S, q * M, n, n)``) and a sample-independent offset.  The model adds one
    intercept per output itself.

    Parameters
    ----------
    n_outputs : int
        Outputs ``q`` per system.
    n_eigenvectors : int
        Eigenpairs ``r`` read per system.
    n_decoders : int or None, default=None
        Secondary matrices per output; ``None`` means one per eigenvector pair
        (or per eigenvector), as the readout defines.
    n_systems : int, default=1
        Primary matrices ``S`` per sample, each with its own secondary
        matrices.

    Attributes
    ----------
    n_levels : int
        Eigenpairs the model must select per system.
    n_per_output : int
        Secondary matrices ``M`` per output (0 if the readout has none).
    needs_vectors : bool
        Whether :meth:`forward` reads eigenvectors; if not, the model's
        outputs (``predict``) are computed from the eigenvalues alone.
    """

    needs_vectors = True

    def __init__(self, n_outputs, n_eigenvectors, n_decoders=None, n_systems=1):
        self.n_outputs = n_outputs
        self.n_eigenvectors = n_eigenvectors
        self.n_decoders = n_decoders
        self.n_systems = n_systems
        self.n_levels = n_eigenvectors
        self.n_per_output = 0

    def validate(self, matrix_size):
        """Raise ``ValueError`` if the readout cannot work with this matrix size."""
        if self.n_levels > matrix_size:
            raise ValueError(
                f"n_eigenvectors={self.n_levels} must be at most "
                f"matrix_size={matrix_size}."
            )

    def blocks(self, matrix_size, complex_valued):
        """The readout's parameter blocks."""
        if not self.n_per_output:
            return []
        kind = "hermitian" if complex_valued else "symmetric"
        shape = (self.n_systems, self.n_outputs * self.n_per_output)
        return [ParameterBlock("decoders", kind, (*shape, matrix_size, matrix_size))]

    def initial_parameters(self, random_state, matrix_size, complex_valued, scale=0.5):
        r"""Random secondary matrices, packed floats of deviation ``scale / sqrt(n)``.

        Parameters
        ----------
        random_state : numpy.random.RandomState
        matrix_size : int
        complex_valued : bool
        scale : float, default=0.5

        Returns
        -------
        params : dict
        """
        layout = ParameterLayout(self.blocks(matrix_size, complex_valued))
        raw = random_state.standard_normal(layout.n_params)
        return layout.unpack(raw * (scale / np.sqrt(matrix_size)))

    @abstractmethod
    def forward(self, vectors, values, params):
        """Outputs of the selected eigenpairs, without offset and intercepts.

        Parameters
        ----------
        vectors : ndarray of shape (N, S, n, r) or None
        values : ndarray of shape (N, S, r)
        params : dict
            The model's parameters (the readout reads its own blocks).

        Returns
        -------
        outputs : ndarray of shape (N, S, q)
        cache : object
            Whatever :meth:`backward` needs.
        """

    @abstractmethod
    def backward(self, outputs_grad, vectors, cache, params):
        """Gradients given :math:`\\bar z` of shape ``(N, S, q)``.

        Returns
        -------
        vectors_grad : ndarray of shape (N, S, n, r) or None
        values_grad : ndarray of shape (N, S, r) or None
        grads : dict
            Gradients of the readout's blocks, summed over the samples.
        """

    def offset(self, params):
        """Sample-independent part of the outputs, shape ``(S, q)``, and a cache."""
        return np.zeros((self.n_systems, self.n_outputs)), None

    def offset_gradient(self, outputs_grad_sum, cache):
        """Block gradients of the offset given :math:`\\sum_s \\bar z_s` (S, q)."""
        return {}

    def scale_outputs(self, params, y_scale):
        """Parameters whose outputs are multiplied by ``y_scale`` (shape (S * q,), > 0).

        Returns
        -------
        params : dict
            The readout's blocks, scaled.
        primary_factor : float or None
            A common factor the primary matrices must be multiplied by, if
            the readout cannot absorb the scaling itself.
        """
        return {}, None


class EigenvalueReadout(Readout):
    r"""Selected eigenvalues as outputs: :math:`z_k = \lambda_k(x) + g_k`.

    The affine eigenvalue PMM of the universal-approximation theorem.  Output
    ``k`` reads the ``k``-th selected level; ``n_outputs`` levels are
    selected, so every output has its own level.  ``n_eigenvectors`` is not
    used: the first ``n_outputs`` of any larger selection are the same levels
    (whatever ``which`` is), so it could only have demanded a larger matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._core.readout import EigenvalueReadout
    >>> readout = EigenvalueReadout(n_outputs=2, n_eigenvectors=3)
    >>> readout.n_levels
    2
    >>> readout.forward(None, np.array([[[-1.0, 2.0]]]), {})[0]
    array([[[-1.,  2.]]])
    """

    needs_vectors = False

    def __init__(self, n_outputs, n_eigenvectors, n_decoders=None, n_systems=1):
        super().__init__(n_outputs, n_eigenvectors, n_decoders, n_systems)
        self.n_levels = n_outputs

    def validate(self, matrix_size):
        if self.n_levels > matrix_size:
            raise ValueError(
                f"The eigenvalue readout reads one level per output: "
                f"{self.n_levels} levels, but matrix_size={matrix_size}."
            )

    def forward(self, vectors, values, params):
        return values[..., : self.n_outputs].copy(), None

    def backward(self, outputs_grad, vectors, cache, params):
        values_grad = np.zeros((*outputs_grad.shape[:-1], self.n_levels))
        values_grad[..., : self.n_outputs] = outputs_grad
        return None, values_grad, {}

    def scale_outputs(self, params, y_scale):
        if not np.allclose(y_scale, y_scale[0], rtol=1e-12, atol=0):
            raise ValueError("The eigenvalue readout needs one common y_scale.")
        return {}, float(y_scale[0])


class _TermReadout(Readout):
    r"""Readouts that are sums of terms :math:`v_i^\dagger D_{km} v_j`.

    With :math:`W_{kmij} = v_i^\dagger D_{km} v_j` for the selected
    eigenvectors, each (matrix, pair) combination is a *term*.  By default
    (``n_decoders=None``) there is one matrix per pair in :attr:`pairs`, so
    each matrix has one term; ``n_decoders=l`` gives ``l`` matrices per
    output, each shared by all pairs.  Forward and backward passes work on
    all samples and systems at once, and on all terms at once but for the
    backward pass's sum of each term into its two vectors.  With one term
    per matrix, one ``(n, n) x (n, N)`` GEMM per term applies the matrices;
    a shared matrix is applied once to all ``r`` selected vectors,
    ``(n, n) x (n, rN)``, and the overlaps of all its pairs are read from
    that product, so no product :math:`D v_j` is formed twice.  The sums
    over samples are GEMMs too.
    """

    def __init__(self, n_outputs, n_eigenvectors, n_decoders=None, n_systems=1):
        super().__init__(n_outputs, n_eigenvectors, n_decoders, n_systems)
        pairs = self.pairs(n_eigenvectors)
        per_output = (
            [[pair] for pair in pairs] if n_decoders is None else [pairs] * n_decoders
        )
        self.n_per_output = len(per_output)
        terms = [
            (k * self.n_per_output + m, i, j, k)
            for k in range(n_outputs)
            for m, matrix_pairs in enumerate(per_output)
            for i, j in matrix_pairs
        ]
        self._matrix, self._left, self._right, self._output = (
            np.array(column) for column in zip(*terms, strict=True)
        )
        self._terms_per_matrix = np.bincount(
            self._matrix, minlength=n_outputs * self.n_per_output
        )
        self._output_onehot = np.eye(n_outputs)[self._output]
        self._pair_left, self._pair_right = (
            np.array(column) for column in zip(*pairs, strict=True)
        )

    def validate(self, matrix_size):
        super().validate(matrix_size)
        if matrix_size == 1:
            # A 1 x 1 matrix has one eigenvector, the same for every input.
            raise ValueError(
                "matrix_size=1 makes a constant model: the readout reads "
                "eigenvectors, and a 1 x 1 matrix has one, the same for every "
                "input. Use matrix_size >= 2, or readout='eigenvalues'."
            )

    def _factor(self, y_scale):
        """Per-matrix output scale, shape (S, q * M, 1, 1), of ``y_scale`` (S * q,)."""
        per_output = np.reshape(y_scale, (self.n_systems, self.n_outputs))
        return np.repeat(per_output, self.n_per_output, axis=-1)[..., None, None]

    @staticmethod
    @abstractmethod
    def pairs(n_eigenvectors):
        """The eigenvector pairs ``(i, j)`` read by each matrix."""

    @abstractmethod
    def _terms(self, overlaps):
        """Real term values from the overlaps :math:`W`, shape (S * T, N)."""

    @abstractmethod
    def _overlaps_grad(self, weights, overlaps):
        """:math:`\\bar W` from the terms' output weights, shape (S * T, N)."""

    def forward(self, vectors, values, params):
        if self.n_decoders is not None:
            return self._shared_forward(vectors, params["decoders"])
        matrices = params["decoders"]
        n_systems, n = matrices.shape[0], matrices.shape[-1]
        n_terms, n_samples = len(self._matrix), vectors.shape[0]
        # (S, r, n, N) once, then each term's vectors by indexing; systems and
        # terms share one stacked axis.
        by_vector = np.ascontiguousarray(vectors.transpose(1, 3, 2, 0))
        left = by_vector[:, self._left].reshape(n_systems * n_terms, n, n_samples)
        right = by_vector[:, self._right].reshape(n_systems * n_terms, n, n_samples)
        term_matrices = matrices[:, self._matrix].reshape(n_systems * n_terms, n, n)
        # One (n, n) x (n, N) GEMM per term: D v_j only for the pairs in use.
        applied_right = term_matrices @ right
        # Product then sum: faster than einsum on complex stacks (profiled).
        overlaps = np.conj(left)
        overlaps *= applied_right
        overlaps = overlaps.sum(axis=1)
        terms = self._terms(overlaps).reshape(n_systems, n_terms, n_samples)
        outputs = np.matmul(terms.transpose(0, 2, 1), self._output_onehot)
        return outputs.transpose(1, 0, 2), (left, right, applied_right, overlaps)

    def backward(self, outputs_grad, vectors, cache, params):
        if self.n_decoders is not None:
            return self._shared_backward(outputs_grad, cache, params["decoders"])
        left, right, applied_right, overlaps = cache
        matrices = params["decoders"]
        n_systems, n = matrices.shape[0], matrices.shape[-1]
        n_terms, n_samples = len(self._matrix), outputs_grad.shape[0]
        weights = np.matmul(outputs_grad.transpose(1, 0, 2), self._output_onehot.T)
        weights = weights.transpose(0, 2, 1).reshape(n_systems * n_terms, n_samples)
        overlaps_grad = self._overlaps_grad(weights, overlaps)
        # dL/dD_c = sum over its terms and samples of Wbar v_i v_j^dagger.
        term_grads = (left * overlaps_grad[:, None, :]) @ np.conj(
            right.transpose(0, 2, 1)
        )
        matrices_grad = term_grads.reshape(n_systems, n_terms, n, n)
        # dL/dv_j += Wbar D v_i and dL/dv_i += conj(Wbar) D v_j, per term.
        term_matrices = matrices[:, self._matrix].reshape(n_systems * n_terms, n, n)
        applied_left = term_matrices @ left
        to_right = (applied_left * overlaps_grad[:, None, :]).reshape(
            n_systems, n_terms, n, n_samples
        )
        to_left = (applied_right * np.conj(overlaps_grad)[:, None, :]).reshape(
            n_systems, n_terms, n, n_samples
        )
        # Each term adds to its two vectors: slice sums, faster than
        # contracting with one-hot matrices (profiled).
        vectors_grad = np.zeros(
            (n_systems, self.n_eigenvectors, n, n_samples), to_right.dtype
        )
        for term, (i, j) in enumerate(zip(self._left, self._right, strict=True)):
            vectors_grad[:, j] += to_right[:, term]
            vectors_grad[:, i] += to_left[:, term]
        return vectors_grad.transpose(3, 0, 2, 1), None, {"decoders": matrices_grad}

    def _shared_forward(self, vectors, matrices):
        """Forward pass when every matrix reads all pairs (``n_decoders=l``)."""
        n_samples, n_systems, n, r = vectors.shape
        n_matrices = matrices.shape[1]
        # (S, n, r, N): the selected vectors of all samples side by side, so
        # one GEMM per matrix gives D v_i for every i and sample.
        by_system = np.ascontiguousarray(vectors.transpose(1, 2, 3, 0))
        applied = matrices @ by_system.reshape(n_systems, 1, n, r * n_samples)
        applied = applied.reshape(n_systems, n_matrices, n, r, n_samples)
        # W_cij = v_i^dagger (D_c v_j), pair by pair: elementwise products
        # summed over the vector components beat a five-index einsum 2-3x.
        conj_vectors = np.conj(by_system)[:, None]
        overlaps = np.stack(
            [
                (conj_vectors[:, :, :, i] * applied[:, :, :, j]).sum(axis=2)
                for i, j in zip(self._pair_left, self._pair_right, strict=True)
            ],
            axis=2,
        )
        per_matrix = self._terms(overlaps).sum(axis=2)
        outputs = per_matrix.reshape(
            n_systems, self.n_outputs, self.n_per_output, n_samples
        ).sum(axis=2)
        return outputs.transpose(2, 0, 1), (by_system, applied, overlaps)

    def _shared_backward(self, outputs_grad, cache, matrices):
        """Backward pass of :meth:`_shared_forward`."""
        by_system, applied, overlaps = cache
        n_systems, n, r, n_samples = by_system.shape
        weights = np.repeat(outputs_grad.transpose(1, 2, 0), self.n_per_output, axis=1)
        overlaps_grad = np.broadcast_to(
            self._overlaps_grad(weights[:, :, None, :], overlaps), overlaps.shape
        )
        dtype = np.result_type(overlaps_grad, by_system)
        # sum_i Wbar_cij v_i per matrix, for dL/dD_c = sum_s sum_j (.) v_j^dagger.
        weighted = np.zeros((n_systems, matrices.shape[1], n, r, n_samples), dtype)
        vectors_grad = np.zeros((n_systems, n, r, n_samples), dtype)
        for pair, (i, j) in enumerate(
            zip(self._pair_left, self._pair_right, strict=True)
        ):
            pair_grad = overlaps_grad[:, :, None, pair]
            weighted[:, :, :, j] += by_system[:, None, :, i] * pair_grad
            # dL/dv_j += Wbar D v_i and dL/dv_i += conj(Wbar) D v_j.
            vectors_grad[:, :, j] += (applied[:, :, :, i] * pair_grad).sum(axis=1)
            vectors_grad[:, :, i] += (applied[:, :, :, j] * np.conj(pair_grad)).sum(
                axis=1
            )
        flat = by_system.reshape(n_systems, 1, n, r * n_samples)
        matrices_grad = weighted.reshape(*weighted.shape[:3], r * n_samples) @ np.conj(
            np.swapaxes(flat, -1, -2)
        )
        return vectors_grad.transpose(3, 0, 1, 2), None, {"decoders": matrices_grad}


class DecoderReadout(_TermReadout):
    r"""Decoder (transition-probability) readout.

    .. math::

        z_k = \sum_m \sum_{(i,j)\in P_m}
              \left(|v_i^\dagger D_{km} v_j|^2 - \tfrac12 \|D_{km}\|_2^2\right)

    over the pairs :math:`i \le j` (one matrix per pair by default).  The
    centring makes each term lie in :math:`[-\frac12\|D\|^2, \frac12\|D\|^2]`.

    Examples
    --------
    >>> from sklearn_pmm._core.readout import DecoderReadout
    >>> DecoderReadout(n_outputs=1, n_eigenvectors=3).n_per_output
    6
    """

    @staticmethod
    def pairs(n_eigenvectors):
        r = n_eigenvectors
        return [(i, j) for i in range(r) for j in range(i, r)]

    def _terms(self, overlaps):
        return overlaps.real**2 + overlaps.imag**2

    def _overlaps_grad(self, weights, overlaps):
        return 2 * weights * overlaps

    def offset(self, params):
        """The centring :math:`-\\frac12\\sum \\|D\\|_2^2` per output, shape (S, q)."""
        matrices = params["decoders"]
        norms, norm_grad = spectral_norm_squared(matrices)
        centring = -0.5 * norms * self._terms_per_matrix
        shape = (matrices.shape[0], self.n_outputs, self.n_per_output)
        return centring.reshape(shape).sum(axis=-1), norm_grad

    def offset_gradient(self, outputs_grad_sum, cache):
        weight = -0.5 * np.repeat(outputs_grad_sum, self.n_per_output, axis=-1)
        weight *= self._terms_per_matrix
        return {"decoders": weight[..., None, None] * cache}

    def scale_outputs(self, params, y_scale):
        # |v^dagger D v|^2 and ||D||^2 are quadratic in D.
        return {"decoders": params["decoders"] * np.sqrt(self._factor(y_scale))}, None


class ExpectationReadout(_TermReadout):
    r"""Expectation values :math:`z_k = \sum_m \sum_{i \in P_m} v_i^\dagger D_{km} v_i`.

    One observable per eigenvector by default; ``n_decoders=l`` gives ``l``
    observables per output, each summed over all selected eigenvectors.

    Examples
    --------
    >>> from sklearn_pmm._core.readout import ExpectationReadout
    >>> ExpectationReadout(n_outputs=2, n_eigenvectors=3).n_per_output
    3
    """

    @staticmethod
    def pairs(n_eigenvectors):
        return [(i, i) for i in range(n_eigenvectors)]

    def validate(self, matrix_size):
        super().validate(matrix_size)
        if self.n_decoders is not None and self.n_eigenvectors == matrix_size:
            # sum_i v_i^dagger D v_i over a whole eigenbasis is tr D.
            raise ValueError(
                f"n_decoders={self.n_decoders} with n_eigenvectors="
                f"{self.n_eigenvectors} = matrix_size makes a constant model: an "
                "observable summed over every eigenvector is its trace, the same "
                "for every input. Use n_eigenvectors < matrix_size, or "
                "n_decoders=None (one observable per eigenvector)."
            )

    def _terms(self, overlaps):
        return overlaps.real

    def _overlaps_grad(self, weights, overlaps):
        return weights

    def scale_outputs(self, params, y_scale):
        return {"decoders": params["decoders"] * self._factor(y_scale)}, None


READOUTS = {
    "decoder": DecoderReadout,
    "expectation": ExpectationReadout,
    "eigenvalues": EigenvalueReadout,
}
"""Readout classes by the name the estimators' ``readout`` parameter takes."""
