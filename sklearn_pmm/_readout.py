# SPDX-License-Identifier: BSD-3-Clause
"""Eigenvector selection and PMM readouts, each with its forward and backward pass.

Notation: ``N`` samples, matrix size ``n``, ``r`` selected eigenvectors,
``q`` outputs, ``M`` secondary (decoder or observable) matrices per output.
Gradients with respect to complex quantities follow the convention
:math:`dL = \\operatorname{Re}\\sum \\overline{\\bar x}\\, dx`.
"""

import numbers

import numpy as np

WHICH_OPTIONS = ("lowest", "highest", "largest_magnitude")


def select_eigenpairs(eigenvalues, n_select, which):
    """Columns of the selected eigenpairs for every sample.

    Parameters
    ----------
    eigenvalues : ndarray of shape (N, n)
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
    index : ndarray of shape (N, r)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._readout import select_eigenpairs
    >>> select_eigenpairs(np.array([[-3.0, -1.0, 2.0]]), 2, "largest_magnitude")
    array([[0, 2]])
    """
    n_samples, n = eigenvalues.shape
    if which == "lowest":
        columns = np.arange(n_select)
    elif isinstance(which, numbers.Integral) and 0 <= which <= n - n_select:
        columns = np.arange(which, which + n_select)
    elif which == "highest":
        columns = np.arange(n - 1, n - 1 - n_select, -1)
    elif which == "largest_magnitude":
        return np.argsort(-np.abs(eigenvalues), axis=1, kind="stable")[:, :n_select]
    else:
        raise ValueError(
            f"which must be one of {WHICH_OPTIONS} or an integer level in "
            f"[0, {n - n_select}], got {which!r}."
        )
    return np.broadcast_to(columns, (n_samples, n_select))


def spectral_norm_squared(matrices):
    r"""Squared spectral norm :math:`\|A\|_2^2` of Hermitian matrices and its gradient.

    Parameters
    ----------
    matrices : ndarray of shape (m, n, n)

    Returns
    -------
    norm_squared : ndarray of shape (m,)
    matrix_grad : ndarray of shape (m, n, n)
        :math:`2\mu\, u u^\dagger`, with :math:`\mu` the eigenvalue of largest
        magnitude and :math:`u` its eigenvector.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._readout import spectral_norm_squared
    >>> spectral_norm_squared(np.array([np.diag([1.0, -3.0])]))[0]
    array([9.])
    """
    values, vectors = np.linalg.eigh(matrices)
    top = np.argmax(np.abs(values), axis=1)
    mu = np.take_along_axis(values, top[:, None], 1)[:, 0]
    u = np.take_along_axis(vectors, top[:, None, None], 2)[:, :, 0]
    grad = 2 * mu[:, None, None] * u[:, :, None] * np.conj(u[:, None, :])
    return mu**2, grad


class EigenvalueReadout:
    r"""Selected eigenvalues as outputs: :math:`z_k = \lambda_k(x) + g_k`.

    The affine eigenvalue PMM of the universal-approximation theorem.  Needs
    ``n_select >= n_outputs``; output ``k`` reads the ``k``-th selected level.

    Parameters
    ----------
    n_outputs : int
    n_select : int

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._readout import EigenvalueReadout
    >>> readout = EigenvalueReadout(n_outputs=1, n_select=1)
    >>> readout.n_matrices
    0
    """

    kind = "eigenvalues"
    n_matrices = 0
    needs_vectors = False

    def __init__(self, n_outputs, n_select):
        self.n_outputs = n_outputs
        self.n_select = n_select

    def offset(self, matrices):
        return np.zeros(self.n_outputs), None

    def forward(self, vectors, values, matrices):
        return values[:, : self.n_outputs].copy(), None

    def backward(self, outputs_grad, vectors, cache, matrices):
        values_grad = np.zeros((len(outputs_grad), self.n_select))
        values_grad[:, : self.n_outputs] = outputs_grad
        return None, values_grad, None

    def offset_gradient(self, outputs_grad_sum, offset_grad):
        return None


class MatrixReadout:
    r"""Decoder (transition-probability) and expectation-value readouts.

    With :math:`W_{kmij} = v_i^\dagger D_{km} v_j` for the selected
    eigenvectors,

    - ``"decoder"``: :math:`z_k = g_k + \sum_m \sum_{(i,j)\in P_m}
      \left(|W_{kmij}|^2 - \tfrac12 \|D_{km}\|_2^2\right)`;
    - ``"expectation"``: :math:`z_k = g_k + \sum_m \sum_{i \in P_m} W_{kmii}`.

    By default (``n_decoders=None``) there is one matrix per eigenvector pair
    :math:`i \le j` (decoder) or per eigenvector (expectation), so
    :math:`P_m` holds one pair; ``n_decoders=l`` gives ``l`` matrices per
    output, each shared by all pairs.

    Each (matrix, pair) combination is a *term*; forward and backward passes
    work on all terms at once: one ``(n, n) x (n, N)`` GEMM per term applies
    the matrices, and the sums over samples are GEMMs too.

    Parameters
    ----------
    kind : {"decoder", "expectation"}
    n_outputs : int
    n_select : int
    n_decoders : int or None

    Examples
    --------
    >>> from sklearn_pmm._readout import MatrixReadout
    >>> MatrixReadout("decoder", n_outputs=1, n_select=3, n_decoders=None).n_matrices
    6
    """

    needs_vectors = True

    def __init__(self, kind, n_outputs, n_select, n_decoders):
        self.kind = kind
        self.n_outputs = n_outputs
        self.n_select = n_select
        r = n_select
        if kind == "decoder":
            pairs = [(i, j) for i in range(r) for j in range(i, r)]
        else:
            pairs = [(i, i) for i in range(r)]
        if n_decoders is None:
            per_output = [[pair] for pair in pairs]
        else:
            per_output = [pairs] * n_decoders
        self.n_per_output = len(per_output)
        self.n_matrices = n_outputs * self.n_per_output
        terms = [
            (k * self.n_per_output + m, i, j, k)
            for k in range(n_outputs)
            for m, matrix_pairs in enumerate(per_output)
            for i, j in matrix_pairs
        ]
        self._matrix, self._left, self._right, self._output = (
            np.array(column) for column in zip(*terms, strict=True)
        )
        self._terms_per_matrix = np.bincount(self._matrix, minlength=self.n_matrices)
        eye = np.eye(r)
        self._left_onehot, self._right_onehot = eye[self._left], eye[self._right]
        self._output_onehot = np.eye(n_outputs)[self._output]

    def offset(self, matrices):
        """Sample-independent centring :math:`-\\frac12\\sum \\|D\\|_2^2` per output."""
        if self.kind != "decoder":
            return np.zeros(self.n_outputs), None
        norms, norm_grad = spectral_norm_squared(matrices)
        centring = -0.5 * norms * self._terms_per_matrix
        return centring.reshape(self.n_outputs, self.n_per_output).sum(
            axis=1
        ), norm_grad

    def offset_gradient(self, outputs_grad_sum, norm_grad):
        """Gradient of the centring given the summed output gradients."""
        if self.kind != "decoder":
            return None
        weight = -0.5 * np.repeat(outputs_grad_sum, self.n_per_output)
        weight *= self._terms_per_matrix
        return weight[:, None, None] * norm_grad

    def forward(self, vectors, values, matrices):
        # (r, n, N) once, then each term's vectors by indexing the first axis.
        by_vector = np.ascontiguousarray(vectors.transpose(2, 1, 0))
        left, right = by_vector[self._left], by_vector[self._right]
        term_matrices = matrices[self._matrix]
        # One (n, n) x (n, N) GEMM per term: D v_j only for the pairs in use.
        applied_right = term_matrices @ right
        overlaps = np.einsum("tas,tas->ts", np.conj(left), applied_right)
        if self.kind == "decoder":
            terms = overlaps.real**2 + overlaps.imag**2
        else:
            terms = overlaps.real
        outputs = terms.T @ self._output_onehot
        return outputs, (left, right, applied_right, overlaps)

    def backward(self, outputs_grad, vectors, cache, matrices):
        left, right, applied_right, overlaps = cache
        weights = (outputs_grad @ self._output_onehot.T).T  # (T, N)
        overlaps_grad = 2 * weights * overlaps if self.kind == "decoder" else weights
        # dL/dD_c = sum over its terms and samples of Wbar v_i v_j^dagger.
        term_grads = (left * overlaps_grad[:, None, :]) @ np.conj(
            right.transpose(0, 2, 1)
        )
        if len(self._matrix) == len(matrices):
            matrices_grad = term_grads
        else:
            matrices_grad = np.zeros_like(matrices, dtype=term_grads.dtype)
            np.add.at(matrices_grad, self._matrix, term_grads)
        # dL/dv_j += Wbar D v_i and dL/dv_i += conj(Wbar) D v_j, per term.
        applied_left = matrices[self._matrix] @ left
        to_right = applied_left * overlaps_grad[:, None, :]
        to_left = applied_right * np.conj(overlaps_grad)[:, None, :]
        vectors_grad = np.tensordot(to_right, self._right_onehot, axes=(0, 0))
        vectors_grad += np.tensordot(to_left, self._left_onehot, axes=(0, 0))
        return vectors_grad.transpose(1, 0, 2), None, matrices_grad


def make_readout(readout, n_outputs, n_select, n_decoders):
    """The readout object for a readout name.

    Examples
    --------
    >>> from sklearn_pmm._readout import make_readout
    >>> make_readout("expectation", 2, 3, None).n_matrices
    6
    """
    if readout == "eigenvalues":
        return EigenvalueReadout(n_outputs, n_select)
    return MatrixReadout(readout, n_outputs, n_select, n_decoders)
