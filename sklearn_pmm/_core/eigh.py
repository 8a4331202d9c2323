# SPDX-License-Identifier: BSD-3-Clause
"""Batched Hermitian eigensolver, its adjoint, and chunked parallel execution.

The hot path is NumPy's stacked ``eigh`` gufunc: it calls LAPACK's
``syevd``/``heevd`` for every matrix of an ``(..., n, n)`` stack from compiled
code, with no per-matrix Python overhead (``benchmarks/bench_speed.py``
compares it with ``scipy.linalg.eigh``, the reference API, which loops over a
stack in Python).  Every function here works over any leading axes: samples,
and classes where each class has its own matrix.
"""

import contextlib
import functools
import threading
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np
from joblib import effective_n_jobs, parallel_config
from sklearn import config_context, get_config
from threadpoolctl import ThreadpoolController

from sklearn_pmm._compat import get_chunk_n_rows

# Gaps below this fraction of the spectral scale are broadened in the adjoint.
DEFAULT_BROADENING = 1e-8


def eigh_stack(matrices):
    """Eigenvalues (ascending) and eigenvectors of a stack of Hermitian matrices.

    Parameters
    ----------
    matrices : ndarray of shape (..., n, n)
        Real symmetric or complex Hermitian matrices; only the lower triangle
        is read, as in LAPACK.

    Returns
    -------
    eigenvalues : ndarray of shape (..., n)
    eigenvectors : ndarray of shape (..., n, n)
        Column ``i`` of ``eigenvectors[...]`` belongs to ``eigenvalues[..., i]``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._core.eigh import eigh_stack
    >>> values, vectors = eigh_stack(np.array([[[2.0, 1.0], [1.0, 2.0]]]))
    >>> values
    array([[1., 3.]])
    """
    return np.linalg.eigh(matrices)


def broadened_inverse_gaps(eigenvalues, selected_values, broadening):
    r"""Broadened :math:`1/(\lambda_i - \lambda_m)` between selected and all levels.

    .. math::

        F_{\dots,m,k} = \frac{\lambda_{k} - \lambda_{m}}
                         {(\lambda_{k} - \lambda_{m})^2 + \epsilon^2},
        \qquad \epsilon = \text{broadening} \cdot
        \max(\max_m |\lambda_{m}|, 1)

    per matrix, which is exact for separated levels (to a relative
    :math:`(\epsilon/\text{gap})^2`) and zero, not infinite, for degenerate
    ones, including the level itself.

    Parameters
    ----------
    eigenvalues : ndarray of shape (..., n)
    selected_values : ndarray of shape (..., r)
    broadening : float

    Returns
    -------
    inverse_gaps : ndarray of shape (..., n, r)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._core.eigh import broadened_inverse_gaps
    >>> broadened_inverse_gaps(np.array([[1.0, 3.0]]), np.array([[1.0]]), 1e-8)
    array([[[ 0. ],
            [-0.5]]])
    """
    gaps = selected_values[..., None, :] - eigenvalues[..., :, None]
    scale = np.maximum(np.abs(eigenvalues).max(axis=-1), 1.0)
    eps2 = (broadening * scale)[..., None, None] ** 2
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
    ``(n, r)`` factor keeps the cost at :math:`O(n^2 r)` per matrix.  The loss
    must not depend on eigenvector phases.

    Parameters
    ----------
    eigenvectors : ndarray of shape (..., n, n)
    selected_index : ndarray of shape (..., r)
        Column of each selected eigenpair in ``eigenvectors``.
    selected_values : ndarray of shape (..., r)
    eigenvalues : ndarray of shape (..., n)
    vectors_grad : ndarray of shape (..., n, r) or None
        :math:`\bar V` for the selected eigenvectors.
    values_grad : ndarray of shape (..., r) or None
        :math:`\bar\lambda` for the selected eigenvalues.
    broadening : float, default=1e-8
        Relative broadening of degenerate gaps.

    Returns
    -------
    factor : ndarray of shape (..., n, r)
        :math:`A`, so that :math:`\bar G = V_S A^\dagger` per matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._core.eigh import eigh_adjoint_factor, eigh_stack
    >>> values, vectors = eigh_stack(np.array([np.diag([1.0, 2.0])]))
    >>> index = np.array([[0]])
    >>> values_grad = np.ones((1, 1))
    >>> eigh_adjoint_factor(vectors, index, values[:, :1], values, None, values_grad)
    array([[[1.],
            [0.]]])
    """
    if vectors_grad is not None:
        overlap = np.conj(np.swapaxes(eigenvectors, -1, -2)) @ vectors_grad
        coupling = overlap * broadened_inverse_gaps(
            eigenvalues, selected_values, broadening
        )
    else:
        shape = (
            *selected_index.shape[:-1],
            eigenvalues.shape[-1],
            selected_index.shape[-1],
        )
        coupling = np.zeros(shape, dtype=eigenvectors.dtype)
    if values_grad is not None:
        # Hellmann–Feynman: lambda_bar at the selected rows of V^dagger V_S = I.
        n, r = coupling.shape[-2:]
        flat = coupling.reshape(-1, n, r)
        matrix = np.arange(len(flat))[:, None]
        flat[matrix, selected_index.reshape(-1, r), np.arange(r)] += (
            values_grad.reshape(-1, r)
        )
        coupling = flat.reshape(coupling.shape)
    return eigenvectors @ coupling


@functools.cache
def _threadpool_controller():
    # Built once: inspecting the loaded BLAS libraries costs about a millisecond.
    return ThreadpoolController()


class _SharedBLASLimit:
    """One process-wide BLAS limit for any number of holders.

    BLAS threads are a process setting.  Holders in several threads at once
    (a committee's members, threaded searches) each entering their own
    ``threadpoolctl`` limit would race: one that entered while another held
    the limit would record "one thread" as the original setting and restore
    it last.  Here the first holder records and sets the limit and the last
    one restores it.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._holders = 0
        self._limiter = None

    @contextlib.contextmanager
    def hold(self):
        with self._lock:
            if self._holders == 0:
                self._limiter = _threadpool_controller().limit(
                    limits=1, user_api="blas"
                )
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0:
                    self._limiter.restore_original_limits()
                    self._limiter = None


_BLAS_LIMIT = _SharedBLASLimit()


def single_blas_thread():
    """Context manager holding BLAS at one thread.

    Every matrix here is small: BLAS threads only contend with the chunk
    workers and with L-BFGS-B's own BLAS calls.  Safe to enter from several
    threads at once: the setting before the first entry comes back when the
    last one exits.

    Examples
    --------
    >>> from threadpoolctl import threadpool_info
    >>> from sklearn_pmm._core.eigh import single_blas_thread
    >>> with single_blas_thread():
    ...     {pool["num_threads"] for pool in threadpool_info()
    ...      if pool["user_api"] == "blas"}
    {1}
    """
    return _BLAS_LIMIT.hold()


# Samples per thread (at most n_samples // MIN_TASK_ROWS threads): one chunk
# of the largest size, so threads start at 512 rows.  A margin: with every
# chunk on its own thread (ad hoc, 1 December 2026), one loss-and-gradient
# evaluation of 500 rows in two chunks already ran 1.10 (n = 5, real) to
# 1.66 (n = 16, complex) times as fast as in one thread, and 300 rows
# (chunks of 256 and 44) 1.06-1.15 times.  It was 2048 while joblib.Parallel
# ran the threads: its 10 ms polling made smaller tasks slower than one
# thread.
MIN_TASK_ROWS = 256


class FitCancelled(Exception):
    """Raised in a run whose :class:`Cancellation` was set."""


class Cancellation:
    """Stops runs in other threads at their next evaluation, and waits for them.

    A run is a call :meth:`run` makes; the policies that carry this object
    (``ExecutionPolicy(cancel=...)``) raise :class:`FitCancelled` from
    :meth:`ExecutionPolicy.map` once :meth:`cancel_and_wait` was called, and
    that call returns when no run is left.  Sent to another process (a
    joblib backend such as Dask's), it arrives as a fresh object that is
    never cancelled.

    Parameters
    ----------
    parent : Cancellation or None, default=None
        A cancellation this one follows: cancelling the parent cancels this
        one too (a committee member's threaded starts follow the committee's
        cancellation); cancelling this one leaves the parent alone.

    Examples
    --------
    >>> from sklearn_pmm._core.eigh import Cancellation, ExecutionPolicy
    >>> cancellation = Cancellation()
    >>> policy = ExecutionPolicy(chunk_size=4, cancel=cancellation)
    >>> def rows(batch):
    ...     return batch.stop - batch.start
    >>> cancellation.run(policy.map, rows, 10)
    [4, 4, 2]
    >>> cancellation.cancel_and_wait()
    >>> policy.map(rows, 10)
    Traceback (most recent call last):
    ...
    sklearn_pmm._core.eigh.FitCancelled
    >>> Cancellation(parent=cancellation).cancelled
    True
    """

    def __init__(self, parent=None):
        self.parent = parent
        self._cancelled = False
        self._running = 0
        self._changed = threading.Condition()

    @property
    def cancelled(self):
        return self._cancelled or (self.parent is not None and self.parent.cancelled)

    def run(self, function, *args):
        """``function(*args)``, counted as running until it returns or raises."""
        with self._changed:
            if self.cancelled:
                raise FitCancelled
            self._running += 1
        try:
            return function(*args)
        finally:
            with self._changed:
                self._running -= 1
                self._changed.notify_all()

    def cancel_and_wait(self):
        """Cancel, and return once no run is left."""
        with self._changed:
            self._cancelled = True
            self._changed.wait_for(lambda: self._running == 0)

    def __reduce__(self):
        return (Cancellation, ())


class ExecutionPolicy:
    """How the samples of one evaluation are split into chunks and run.

    The chunks depend only on the number of samples and ``chunk_size``,
    never on ``n_jobs``, and results come back in chunk order, so any
    reduction the caller does is independent of the number of workers.
    Runs of consecutive chunks go to threads (LAPACK releases the GIL), one
    run per thread, as many chunks in each as the chunk count allows, and
    at most one thread per ``min_task_rows`` samples; with one worker, one
    chunk or fewer than twice ``min_task_rows`` samples the chunks run in a
    plain loop.

    The number of threads follows joblib (``n_jobs``,
    :obj:`joblib.parallel_config`), but the threads are a
    :class:`concurrent.futures.ThreadPoolExecutor`'s, and the calling thread
    runs the first run itself: ``joblib.Parallel`` checks for finished tasks
    every 10 ms, about as long as a whole evaluation of a thousand
    rows.

    Parameters
    ----------
    chunk_size : int, default=1024
        Samples per chunk.
    n_jobs : int or None, default=None
        Number of threads; ``None`` means 1 unless in a
        :obj:`joblib.parallel_config` context, ``-1`` means all processors.
    min_task_rows : int or None, default=None
        Samples per thread: at most ``n_samples // min_task_rows`` threads
        run; ``None`` means :data:`MIN_TASK_ROWS`.
    cancel : Cancellation or None, default=None
        Once it is cancelled, :meth:`map` raises :class:`FitCancelled`.

    Examples
    --------
    >>> from sklearn_pmm._core.eigh import ExecutionPolicy
    >>> policy = ExecutionPolicy(chunk_size=4)
    >>> policy.map(lambda batch: (batch.start, batch.stop), 10)
    [(0, 4), (4, 8), (8, 10)]
    """

    def __init__(self, chunk_size=1024, n_jobs=None, min_task_rows=None, cancel=None):
        self.chunk_size = int(chunk_size)
        self.n_jobs = n_jobs
        if min_task_rows is None:
            min_task_rows = MIN_TASK_ROWS
        self.min_task_rows = int(min_task_rows)
        self.cancel = cancel
        self._executor = None

    def _n_threads(self):
        # Local threads whatever joblib backend is active: under the dask
        # backend a chunk of one loss evaluation is far too small a task.
        with parallel_config(backend="threading"):
            return effective_n_jobs(self.n_jobs)

    def _new_executor(self, n_threads):
        # The calling thread runs one of the n_threads runs itself.
        return ThreadPoolExecutor(
            max_workers=n_threads - 1, thread_name_prefix="sklearn_pmm-chunks"
        )

    def __enter__(self):
        """Keep one thread pool open across calls (an L-BFGS run)."""
        n_threads = self._n_threads()
        if n_threads > 1:
            self._executor = self._new_executor(n_threads)
        return self

    def __exit__(self, *exc_info):
        if self._executor is not None:
            executor, self._executor = self._executor, None
            executor.shutdown(wait=True)
        return None

    def serial(self, cancel=None):
        """The same chunks, run in the calling thread, cancelled by ``cancel``."""
        return ExecutionPolicy(
            self.chunk_size, n_jobs=1, min_task_rows=self.min_task_rows, cancel=cancel
        )

    def map(self, function, n_samples):
        """``[function(chunk_slice) for each chunk]``, in chunk order."""
        if self.cancel is not None and self.cancel.cancelled:
            raise FitCancelled
        # Plain slices: sklearn's gen_batches validates its arguments on every
        # call, which costs a quarter of a millisecond per loss evaluation.
        batches = [
            slice(start, min(start + self.chunk_size, n_samples))
            for start in range(0, n_samples, self.chunk_size)
        ]
        # Threads are looked up only when the rows could feed two of them.
        n_tasks = n_samples // self.min_task_rows
        if n_tasks > 1:
            n_tasks = min(n_tasks, len(batches), self._n_threads())
        with single_blas_thread():
            if n_tasks <= 1:
                return _map_in_order(function, batches)
            runs = [
                [batches[i] for i in task]
                for task in np.array_split(np.arange(len(batches)), n_tasks)
            ]
            if self._executor is not None:
                return _map_runs(self._executor, function, runs)
            with self._new_executor(n_tasks) as executor:
                return _map_runs(executor, function, runs)


def _map_in_order(function, batches, config=None):
    """``[function(batch) for batch in batches]``: one thread's run of chunks.

    ``config`` is scikit-learn's configuration of the calling thread, which
    a worker thread does not inherit.
    """
    if config is None:
        return [function(batch) for batch in batches]
    with config_context(**config):
        return [function(batch) for batch in batches]


def _map_runs(executor, function, runs):
    """The results of every run, in order: the first run in the calling
    thread, the others in ``executor``."""
    config = get_config()
    futures = [
        executor.submit(_map_in_order, function, run, config) for run in runs[1:]
    ]
    try:
        first = _map_in_order(function, runs[0])
    finally:
        # The runs share the caller's arrays: none may outlive this call.
        wait(futures)
    return [*first, *(result for future in futures for result in future.result())]


def chunk_rows(model):
    """Rows per chunk for ``model``, bounded by scikit-learn's ``working_memory``.

    A row holds ``S`` primary matrices and, in flight, about eight arrays of
    their size (matrix, eigenvectors, adjoint factors, readout terms), so a
    chunk of ``rows`` samples needs about ``rows * 8 * S * n**2 * itemsize``
    bytes.  The rows are those that fit in ``sklearn.get_config()
    ["working_memory"]`` MiB, at most the map's ``max_chunk_rows``: the
    result depends on neither ``n_jobs`` nor the number of samples.

    Examples
    --------
    >>> from sklearn import config_context
    >>> from sklearn_pmm._core.eigh import chunk_rows
    >>> from sklearn_pmm._core.maps import AffineMap
    >>> from sklearn_pmm._core.model import PMMModel
    >>> from sklearn_pmm._core.readout import DecoderReadout
    >>> model = PMMModel(AffineMap(2, 7, True), DecoderReadout(1, 3))
    >>> chunk_rows(model)
    256
    >>> with config_context(working_memory=0.5):
    ...     chunk_rows(model)
    83
    """
    primary_map = model.map
    itemsize = 16 if primary_map.complex_valued else 8
    row_bytes = 8 * primary_map.n_systems * primary_map.matrix_size**2 * itemsize
    return get_chunk_n_rows(row_bytes, max_n_rows=primary_map.max_chunk_rows)
