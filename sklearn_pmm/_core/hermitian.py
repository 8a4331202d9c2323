# SPDX-License-Identifier: BSD-3-Clause
"""Packing stacks of Hermitian matrices into real parameter vectors.

A real symmetric n x n matrix is stored as its upper triangle, n(n+1)/2 floats;
a complex Hermitian one as the real upper triangle followed by the imaginary
strict upper triangle, n**2 floats.  The index arrays are built once per layout.
"""

import numpy as np


class HermitianPacking:
    r"""Pack and unpack stacks of Hermitian (or real symmetric) matrices.

    For a real symmetric matrix :math:`A` the packed floats are
    :math:`A_{ab}` for :math:`a \le b`; for a complex Hermitian matrix they are
    :math:`\operatorname{Re} A_{ab}` for :math:`a \le b` followed by
    :math:`\operatorname{Im} A_{ab}` for :math:`a < b`.

    Parameters
    ----------
    size : int
        Matrix size ``n``.
    complex_valued : bool
        Whether the matrices are complex Hermitian (``n**2`` floats each) or
        real symmetric (``n(n+1)/2`` floats each).

    Attributes
    ----------
    n_floats : int
        Number of real floats per packed matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._core.hermitian import HermitianPacking
    >>> packing = HermitianPacking(2, complex_valued=True)
    >>> packing.n_floats
    4
    >>> packing.unpack(np.array([[1.0, 2.0, 3.0, 4.0]]))[0]
    array([[1.+0.j, 2.+4.j],
           [2.-4.j, 3.+0.j]])
    """

    def __init__(self, size, complex_valued):
        self.size = size
        self.complex_valued = complex_valued
        self._rows, self._cols = np.triu_indices(size)
        self._strict_rows, self._strict_cols = np.triu_indices(size, k=1)
        n_upper = size * (size + 1) // 2
        self.n_floats = n_upper + (len(self._strict_rows) if complex_valued else 0)
        self.dtype = np.complex128 if complex_valued else np.float64

    def unpack(self, packed):
        """Matrices of shape ``(m, n, n)`` from floats of shape ``(m, n_floats)``."""
        packed = np.asarray(packed, dtype=np.float64)
        n, n_upper = self.size, len(self._rows)
        matrices = np.zeros((packed.shape[0], n, n), dtype=self.dtype)
        matrices[:, self._rows, self._cols] = packed[:, :n_upper]
        matrices[:, self._cols, self._rows] = packed[:, :n_upper]
        if self.complex_valued:
            imag = packed[:, n_upper:]
            matrices[:, self._strict_rows, self._strict_cols] += 1j * imag
            matrices[:, self._strict_cols, self._strict_rows] -= 1j * imag
        return matrices

    def pack(self, matrices):
        """Floats of shape ``(m, n_floats)`` from Hermitian ``(m, n, n)`` matrices.

        Only the upper triangle is read: ``unpack(pack(A))`` equals ``A`` for
        Hermitian ``A``.
        """
        matrices = np.asarray(matrices)
        upper = matrices[:, self._rows, self._cols].real
        if not self.complex_valued:
            return np.ascontiguousarray(upper, dtype=np.float64)
        imag = matrices[:, self._strict_rows, self._strict_cols].imag
        return np.concatenate([upper, imag], axis=1)

    def pack_gradient(self, matrix_grad):
        r"""Gradient with respect to the packed floats (the adjoint of ``unpack``).

        Parameters
        ----------
        matrix_grad : ndarray of shape (m, n, n)
            :math:`\bar G` such that a real loss changes as
            :math:`dL = \operatorname{Re}\sum_{ab} \overline{\bar G_{ab}}\, dA_{ab}`
            for independent entries :math:`A_{ab}`; it need not be Hermitian.

        Returns
        -------
        grad : ndarray of shape (m, n_floats)
        """
        rows, cols = self._rows, self._cols
        sym = matrix_grad[:, rows, cols] + matrix_grad[:, cols, rows]
        on_diagonal = rows == cols
        sym[:, on_diagonal] *= 0.5
        if not self.complex_valued:
            return np.ascontiguousarray(sym.real, dtype=np.float64)
        srows, scols = self._strict_rows, self._strict_cols
        imag = matrix_grad[:, srows, scols].imag - matrix_grad[:, scols, srows].imag
        return np.concatenate([sym.real, imag], axis=1)
