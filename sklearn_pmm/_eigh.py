# SPDX-License-Identifier: BSD-3-Clause
"""Batched Hermitian eigensolver, its adjoint, and chunked parallel execution.

The hot path is NumPy's stacked ``eigh`` gufunc: it calls LAPACK's
``syevd``/``heevd`` for every matrix of an ``(N, n, n)`` stack from compiled
code, with no per-matrix Python overhead (``benchmarks/bench_speed.py``
compares it with ``scipy.linalg.eigh`` and a per-matrix LAPACK loop).
"""

import functools

import numpy as np
import scipy.linalg
from joblib import effective_n_jobs
from sklearn.utils.parallel import Parallel, delayed
from threadpoolctl import ThreadpoolController

# Gaps below this fraction of the spectral scale are broadened in the adjoint.
DEFAULT_BROADENING = 1e-8


def eigh_stack(matrices):
    """Eigenvalues (ascending) and eigenvectors of a stack of Hermitian matrices.

    Parameters
    ----------
    matrices : ndarray of shape (N, n, n)
        Real symmetric or complex Hermitian matrices; only the lower triangle
        is read, as in LAPACK.

    Returns
    -------
    eigenvalues : ndarray of shape (N, n)
    eigenvectors : ndarray of shape (N, n, n)
        Column ``i`` of ``eigenvectors[s]`` belongs to ``eigenvalues[s, i]``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._eigh import eigh_stack
    >>> values, vectors = eigh_stack(np.array([[[2.0, 1.0], [1.0, 2.0]]]))
    >>> values
    array([[1., 3.]])
    """
    return np.linalg.eigh(matrices)


def broadened_inverse_gaps(eigenvalues, selected_values, broadening):
    r"""Broadened :math:`1/(\lambda_i - \lambda_m)` between selected and all levels.

    .. math::

        F_{s,m,k} = \frac{\lambda_{s,k} - \lambda_{s,m}}
                         {(\lambda_{s,k} - \lambda_{s,m})^2 + \epsilon_s^2},
        \qquad \epsilon_s = \text{broadening} \cdot
        \max(\max_m |\lambda_{s,m}|, 1)

    which is exact for separated levels and zero (not infinite) for
    degenerate ones, including the level itself.

    Parameters
    ----------
    eigenvalues : ndarray of shape (N, n)
    selected_values : ndarray of shape (N, r)
    broadening : float

    Returns
    -------
    inverse_gaps : ndarray of shape (N, n, r)
    """
    gaps = selected_values[:, None, :] - eigenvalues[:, :, None]
    scale = np.maximum(np.abs(eigenvalues).max(axis=1), 1.0)
    eps2 = (broadening * scale)[:, None, None] ** 2
    return gaps / (gaps * gaps + eps2)


def eigh_adjoint_factor(
    eigenvectors,
    selected_index,
    selected_values,
    eigenvalues,
    vectors_grad,
    values_grad,
    broadening=DEFAULT_BROADENING,
):
    r"""Back-propagate through a batched Hermitian eigendecomposition, factored.

    Given gradients with respect to ``r`` selected eigenpairs, the matrix
    gradient :math:`\bar G` (with :math:`dL = \operatorname{Re}\sum_{ab}
    \overline{\bar G_{ab}}\, dH_{ab}`) is

    .. math::

        \bar G = V_S A^\dagger, \qquad
        A = V \left(\operatorname{diag}(\bar\lambda)
                 + F \circ (V^\dagger \bar V)\right)

    restricted to the ``r`` selected columns (:math:`V_S` are the selected
    eigenvectors, which the caller has): Hellmann–Feynman for the
    eigenvalues, first-order perturbation theory for the eigenvectors, with
    the broadened gaps of :func:`broadened_inverse_gaps`.  Returning the
    ``(n, r)`` factor keeps the cost at :math:`O(n^2 r)` per sample and lets
    the caller sum over samples with one GEMM.  The loss must not depend on
    eigenvector phases.

    Parameters
    ----------
    eigenvectors : ndarray of shape (N, n, n)
    selected_index : ndarray of shape (N, r)
        Column of each selected eigenpair in ``eigenvectors``.
    selected_values : ndarray of shape (N, r)
    eigenvalues : ndarray of shape (N, n)
    vectors_grad : ndarray of shape (N, n, r) or None
        :math:`\bar V` for the selected eigenvectors.
    values_grad : ndarray of shape (N, r) or None
        :math:`\bar\lambda` for the selected eigenvalues.
    broadening : float, default=1e-8
        Relative broadening of degenerate gaps.

    Returns
    -------
    factor : ndarray of shape (N, n, r)
        :math:`A`, so that :math:`\bar G_s = V_{S,s} A_s^\dagger`.
    """
    n_samples, n = eigenvalues.shape
    r = selected_index.shape[1]
    if vectors_grad is not None:
        overlap = np.conj(eigenvectors.transpose(0, 2, 1)) @ vectors_grad
        coupling = overlap * broadened_inverse_gaps(
            eigenvalues, selected_values, broadening
        )
    else:
        coupling = np.zeros((n_samples, n, r), dtype=eigenvectors.dtype)
    if values_grad is not None:
        samples = np.arange(n_samples)[:, None]
        coupling[samples, selected_index, np.arange(r)[None, :]] += values_grad
    return eigenvectors @ coupling


def eigh_adjoint(
    eigenvectors,
    selected_index,
    selected_values,
    eigenvalues,
    vectors_grad,
    values_grad,
    broadening=DEFAULT_BROADENING,
):
    """The matrix gradient of :func:`eigh_adjoint_factor`, shape ``(N, n, n)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._eigh import eigh_adjoint, eigh_stack
    >>> values, vectors = eigh_stack(np.array([np.diag([1.0, 2.0])]))
    >>> index = np.array([[0]])
    >>> eigh_adjoint(vectors, index, values[:, :1], values, None, np.ones((1, 1)))
    array([[[1., 0.],
            [0., 0.]]])
    """
    selected_vectors = np.take_along_axis(eigenvectors, selected_index[:, None, :], 2)
    factor = eigh_adjoint_factor(
        eigenvectors,
        selected_index,
        selected_values,
        eigenvalues,
        vectors_grad,
        values_grad,
        broadening,
    )
    return selected_vectors @ np.conj(factor.transpose(0, 2, 1))


@functools.cache
def _threadpool_controller():
    # Built once: inspecting the loaded BLAS libraries costs about a millisecond.
    return ThreadpoolController()


def chunked_map(function, n_samples, *, batch_size, n_jobs, parallel=None):
    """Apply ``function(batch_slice)`` over fixed chunks, in order.

    The chunks depend only on ``n_samples`` and ``batch_size``, never on
    ``n_jobs``, and results come back in chunk order, so any reduction the
    caller does is independent of the number of workers.  Chunks run in
    threads (LAPACK releases the GIL); with one worker or one chunk they run
    in a plain loop.  BLAS is held at one thread throughout: the matrices are
    small, and BLAS threads only contend with the workers.

    Parameters
    ----------
    function : callable
        Called as ``function(slice)``.
    n_samples : int
    batch_size : int
    n_jobs : int or None
    parallel : Parallel or None
        An open ``Parallel`` context to reuse across calls.

    Returns
    -------
    results : list
        One result per chunk, in chunk order.
    """
    # Plain slices: sklearn's gen_batches validates its arguments on every
    # call, which costs a quarter of a millisecond per loss evaluation.
    batches = [
        slice(start, min(start + batch_size, n_samples))
        for start in range(0, n_samples, batch_size)
    ]
    with _threadpool_controller().limit(limits=1, user_api="blas"):
        if len(batches) == 1 or effective_n_jobs(n_jobs) == 1:
            return [function(batch) for batch in batches]
        if parallel is None:
            parallel = Parallel(n_jobs=n_jobs, prefer="threads")
        return parallel(delayed(function)(batch) for batch in batches)


def eigh_batched(
    matrices, *, batch_size=1024, n_jobs=None, subset_by_index=None, driver=None
):
    """Eigendecompose an ``(N, n, n)`` Hermitian stack in parallel chunks.

    The default path is :func:`eigh_stack` (LAPACK ``syevd``/``heevd`` from
    compiled code).  Asking for ``subset_by_index`` or a ``driver`` goes through
    :func:`scipy.linalg.eigh`, the reference API, which loops over the stack in
    Python (about 15-40 µs per matrix more at n <= 16).

    Parameters
    ----------
    matrices : ndarray of shape (N, n, n)
    batch_size : int, default=1024
        Matrices per chunk.
    n_jobs : int, default=None
        Number of threads; ``None`` means 1 unless in a
        :obj:`joblib.parallel_config` context, ``-1`` means all processors.
    subset_by_index : (int, int), default=None
        Only the eigenpairs with these (inclusive, ascending) indices.
    driver : str, default=None
        A :func:`scipy.linalg.eigh` driver such as ``"evr"`` or ``"evx"``.

    Returns
    -------
    eigenvalues : ndarray of shape (N, n) or (N, k)
    eigenvectors : ndarray of shape (N, n, n) or (N, n, k)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._eigh import eigh_batched
    >>> stack = np.stack([np.diag([3.0, 1.0]), np.eye(2)])
    >>> eigh_batched(stack, batch_size=1)[0]
    array([[1., 3.],
           [1., 1.]])
    >>> eigh_batched(stack, subset_by_index=(1, 1))[0]
    array([[3.],
           [1.]])
    """
    if subset_by_index is None and driver is None:
        solve = eigh_stack
    else:

        def solve(stack):
            return scipy.linalg.eigh(
                stack, subset_by_index=subset_by_index, driver=driver
            )

    results = chunked_map(
        lambda batch: solve(matrices[batch]),
        len(matrices),
        batch_size=batch_size,
        n_jobs=n_jobs,
    )
    return (
        np.concatenate([values for values, _ in results]),
        np.concatenate([vectors for _, vectors in results]),
    )
