# SPDX-License-Identifier: BSD-3-Clause
"""Scaling benchmark: fit and predict time and peak memory from 10^3 to 10^6 rows.

This is a benchmark, not a test: it asserts nothing, it prints Markdown
tables (and, with ``--output``, writes them to a file with a JSON file of the
raw numbers next to it).  Run it from the repository root with the package
importable (``pip install -e .``, or prefix the commands with
``PYTHONPATH=.``)::

    python benchmarks/bench_scale.py                   # N = 1e3 ... 1e6 (~15 min)
    python benchmarks/bench_scale.py --quick           # N <= 1e4 smoke run (~1 min)
    python benchmarks/bench_scale.py --sizes 1000 100000 --matrix-size 5
    python benchmarks/bench_scale.py --output benchmarks/results/scale.md

Data: noisy Franke, ``make_test_function("franke", n_samples=N, noise=0.1,
random_state=0)``; the estimator is ``PMMRegressor`` with ``random_state=0``,
``smoothness=0``, ``early_stopping=False`` and ``n_restarts=0`` pinned (one
unpenalised run from one start on all rows, whatever the package defaults
are) and its other defaults
(``matrix_size=7``, complex Hermitian, ``n_eigenvectors=3``, decoder
readout, ``n_jobs=None``, so one worker; Adam with ``batch_size="auto"``,
i.e. 200 rows, and ``learning_rate_init=1e-3``).  The package may be edited
while the benchmark runs: a hash of its sources is recorded at the start, at
the end and in every child, and a change is flagged in the output.

Every measurement of the fit and predict tables runs in a fresh Python
process (``subprocess``), one per (N, solver) and one per N for predict, so
that neither memory nor caches carry over.  Children run one after the other
and inherit the parent's ``nice`` level.

Fit table (one row per solver and N)
------------------------------------
k
    ``max_iter``: L-BFGS iterations (``tol=0``, so no early convergence) or
    Adam epochs.  L-BFGS uses the same ``k`` at every N (the first iterations
    need more line-search evaluations than later ones, so a different ``k``
    per N would bias the per-iteration time); Adam epochs all cost the same,
    so small N get more epochs to dwarf the fit's fixed overhead.
evals
    Calls of ``PMMModel.loss_gradient`` during the fit, counted by a thin
    wrapper installed in the child: loss evaluations for L-BFGS (line
    searches may take several per iteration), mini-batch steps for Adam.
s / iter
    Wall time of ``fit`` divided by ``n_iter_`` (best of ``repeats`` fits in
    the same child; includes validation, duplicate merging and
    standardisation, which are O(N log N)).
µs / sample / iter
    ``s / iter`` per training row: constant if the fit is linear in N.
vs largest N
    That per-sample time over the one at the largest N of the run; the
    linearity target asks for 0.8 ... 1.2 at every N.
CPU µs / sample / iter
    The same with the child's CPU time (``time.process_time``); the fit is
    single-threaded, so this is what the wall time would be on an idle
    machine, up to contention for shared caches and cores (SMT).
ref eigh µs / mat
    Best time per matrix of ``np.linalg.eigh`` on a fixed random complex
    stack of 2000 ``n x n`` matrices (BLAS at one thread), timed in the same
    child just before and after the fits (the mean of the two): how fast the
    machine was at the time.
iter / sample in ref eighs, vs largest N (calibrated)
    ``µs / sample / iter`` divided by the reference: an iteration's cost per
    row in bare eigendecompositions, and its ratio to the largest N.  On a
    shared machine whose speed drifts by a factor of two over minutes, this
    ratio is the more meaningful linearity check; the target is reported on
    both.
peak Δ MiB
    Peak resident set size of the child during its first ``fit`` minus its
    resident set size just before it, after the data were created and one
    small warm-up fit ran (so imports and lazy initialisation do not count).
    The peak is reset just before the call by writing ``5`` to
    ``/proc/self/clear_refs`` (Linux >= 4.0) and read as ``VmHWM`` from
    ``/proc/self/status``.  ``getrusage(RUSAGE_SELF).ru_maxrss`` is the same
    high-water mark but the kernel carries it over ``exec`` from the forked
    copy of the parent, so in a child smaller than the parent it cannot drop
    below the parent's size and hides the increase; it is kept in the JSON
    file (``ru_maxrss_*``) and used only where ``/proc`` is missing (the
    increase is then a lower bound, marked ``‡``).  The data themselves
    (``X`` and ``y``: 24 bytes per row) are in the baseline.

Time-per-epoch table (one row per solver and N)
-----------------------------------------------
epochs
    Adam epochs, or L-BFGS full-batch loss evaluations (``evals``): an
    L-BFGS epoch is one evaluation, and an iteration may take several.
solver s
    Wall time spent inside ``minimize_lbfgs`` / ``minimize_adam`` (wrapped
    with a timer in the child) during the best of the fits: the epochs
    without the fit's one-off work (validation, duplicate merging,
    standardisation, set-up), which the whole-fit ``s / iter`` spreads over
    only ``k`` iterations.
µs / sample / epoch, vs largest N, calibrated
    That time per epoch and row, and its ratios as in the fit table.  The
    linearity target is reported on both tables.

Interleaved time-per-epoch table (one row per solver and N)
----------------------------------------------------------
One more child (skipped with ``--no-epochs``) holds the data of every N and
times one epoch of each solver at each N in interleaved rounds (best of 3):
an L-BFGS epoch is one full-batch ``loss_gradient`` evaluation, an Adam epoch
one ``minimize_adam`` pass of ``batch_size`` mini-batches, on the model,
standardised inputs and chunks that ``fit`` builds, at random parameters.
Small N are repeated so that a timing lasts at least about 1 s.  Separate
processes minutes apart see the machine at different speeds; here every N
sees the same drift, so this is the first of the linearity verdicts.

Predict table (one row per N)
-----------------------------
A model fitted once in the parent (L-BFGS, 50 iterations on 1000 rows) is
pickled and loaded by each child.

predict µs / sample
    ``predict(X)`` on the N rows (the package's whole path: validation, the
    affine stack built in chunks of ``chunk_rows`` rows, chunked ``eigh``,
    selection, decoder readout).
eigh µs / sample
    ``np.linalg.eigh`` of the ``(N, n, n)`` stack ``H(x) = H_0 + x_1 H_1 +
    x_2 H_2`` built from the fitted ``hamiltonians_`` beforehand (not timed),
    in one gufunc call, BLAS capped at one thread as ``predict`` does.
    The two are timed in interleaved rounds, best of each.
throughput
    eigh time over predict time; the target is >= 0.8.
peak Δ MiB
    As for the fit, for the first ``predict`` call, before the stack exists.
max |Δλ|
    Largest difference between ``eigenvalues(X)`` of the estimator and
    ``eigvalsh`` of the stack on 1000 rows: checks that the stack is the one
    ``predict`` diagonalises.

Time to accuracy (one N, ``--tta-n``)
-------------------------------------
Test R² on the noiseless Franke function on ``make_test_grid(100)`` (10^4
points) against wall time.  L-BFGS: separate fits with ``max_iter`` = each
checkpoint from the same ``random_state`` and the default ``tol``.  L-BFGS is
deterministic, so the fit with ``max_iter=k`` ends on exactly the k-th
iterate of a longer run, and its wall time is what that model costs (a
``warm_start`` continuation would restart L-BFGS without its curvature
history, which is a different, worse optimiser).  Adam: one run of
``partial_fit`` calls on all N rows (one epoch each, Adam moments kept
between calls), with the clock stopped while R² is evaluated at the
checkpoints; each call also re-validates and re-merges the rows, which
``fit(solver="adam")`` does once.

Targets (printed MET / MISSED): a 10^6-row fit (each solver) and a 10^6-row
predict each raise peak memory by <= 512 MiB; fit time per iteration / epoch
linear in N within 20 %; predict throughput >= 0.8x the bare eigensolves at
every N.  Timings on a shared machine are noisy: the load average before and
after every child is in the JSON file.
"""

import argparse
import contextlib
import gc
import json
import os
import pickle
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import scipy
import sklearn
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_info, threadpool_limits

from sklearn_pmm import PMMRegressor
from sklearn_pmm.datasets import franke, make_test_function, make_test_grid

DEFAULT_SIZES = [1_000, 10_000, 100_000, 1_000_000]
QUICK_SIZES = [1_000, 10_000]
MEMORY_TARGET_MIB = 512
MEMORY_TARGET_N = 1_000_000
LINEARITY_TOLERANCE = 0.20
THROUGHPUT_TARGET = 0.8
NOISE = 0.1
MIB = 1024.0 * 1024.0


# ----------------------------------------------------------------------
# memory
# ----------------------------------------------------------------------


def maxrss_mib():
    """``getrusage(RUSAGE_SELF).ru_maxrss`` in MiB (KiB on Linux, bytes on macOS)."""
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value / MIB if sys.platform == "darwin" else value / 1024.0


def _proc_status_mib(field):
    """A ``kB`` field of ``/proc/self/status`` in MiB, or None."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        return None
    return None


def current_rss_mib():
    """Current resident set size in MiB (``VmRSS``), or None."""
    return _proc_status_mib("VmRSS")


def peak_rss_mib():
    """Peak resident set size in MiB: ``VmHWM`` where available, else ru_maxrss.

    Both are the same high-water mark of this process's memory, but
    ``ru_maxrss`` never falls below the size of the parent process at the
    ``fork`` before ``exec`` (the kernel keeps it across ``exec``), so for a
    child smaller than the parent it hides the increase; ``VmHWM`` does not.
    """
    value = _proc_status_mib("VmHWM")
    return maxrss_mib() if value is None else value


def reset_peak_rss():
    """Reset the peak RSS to the current RSS (Linux >= 4.0); True on success."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
    except OSError:
        return False
    current = current_rss_mib()
    return current is not None and peak_rss_mib() <= current + 1.0


class PeakMemory:
    """Peak RSS increase, in MiB, of the code run inside the ``with`` block."""

    def __enter__(self):
        gc.collect()
        self.reset = reset_peak_rss()
        self.baseline = current_rss_mib() if self.reset else peak_rss_mib()
        self.maxrss_before = maxrss_mib()
        self.increase = None
        return self

    def __exit__(self, *exc_info):
        self.peak = peak_rss_mib()
        self.maxrss_after = maxrss_mib()
        self.increase = max(0.0, self.peak - self.baseline)
        return None

    def as_dict(self):
        return {
            "baseline_mib": self.baseline,
            "peak_mib": self.peak,
            "increase_mib": self.increase,
            "peak_was_reset": self.reset,
            "ru_maxrss_before_mib": self.maxrss_before,
            "ru_maxrss_after_mib": self.maxrss_after,
        }


# ----------------------------------------------------------------------
# child processes
# ----------------------------------------------------------------------


def package_fingerprint():
    """SHA-256 (12 hex digits) of the package's ``.py`` sources.

    Other people may edit the package while the benchmark runs; the parent
    records this at start and end and every child at its start.
    """
    import hashlib

    import sklearn_pmm

    root = os.path.dirname(os.path.abspath(sklearn_pmm.__file__))
    digest = hashlib.sha256()
    for directory, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                digest.update(os.path.relpath(path, root).encode())
                with open(path, "rb") as handle:
                    digest.update(handle.read())
    return digest.hexdigest()[:12]


def load_average():
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def franke_data(n_samples):
    return make_test_function(
        "franke", n_samples=n_samples, noise=NOISE, random_state=0
    )


def count_loss_evaluations():
    """Wrap ``PMMModel.loss_gradient`` with a call counter (child only)."""
    from sklearn_pmm._core import model

    original = model.PMMModel.loss_gradient
    counter = {"calls": 0}

    def counted(self, *args, **kwargs):
        counter["calls"] += 1
        return original(self, *args, **kwargs)

    model.PMMModel.loss_gradient = counted
    return counter


def time_solvers():
    """Wrap the solvers ``fit`` calls with a timer (child only).

    ``minimize_lbfgs`` and ``minimize_adam`` run the epochs and nothing else:
    the time inside them is the fit's time without its one-off work
    (validation, duplicate merging, standardisation, set-up, the final
    rescaling).
    """
    from sklearn_pmm._base import estimator

    timer = {"seconds": 0.0}

    def timed(solver):
        def wrapper(*args, **kwargs):
            tic = time.perf_counter()
            try:
                return solver(*args, **kwargs)
            finally:
                timer["seconds"] += time.perf_counter() - tic

        return wrapper

    estimator.minimize_lbfgs = timed(estimator.minimize_lbfgs)
    estimator.minimize_adam = timed(estimator.minimize_adam)
    return timer


# Pinned for every estimator of the benchmark, whatever the package defaults
# are: one unpenalised run from one start on all rows, so that both solvers
# minimise the same loss and ``fit(max_iter=k)`` ends on the k-th iterate of
# one L-BFGS run.
PINNED = {
    "smoothness": 0.0,
    "early_stopping": False,
    "n_restarts": 0,
    "random_state": 0,
}


def regressor(task, **params):
    defaults = {"matrix_size": task["matrix_size"], **PINNED}
    if task.get("batch_size") is not None:
        defaults["batch_size"] = task["batch_size"]
    return PMMRegressor(**{**defaults, **params})


def reference_eigh_us(matrix_size, n_matrices=2000, rounds=3):
    """Best time per matrix (µs) of ``np.linalg.eigh`` on a fixed random
    complex Hermitian stack, BLAS at one thread: the machine's current speed."""
    rng = np.random.default_rng(1)
    shape = (n_matrices, matrix_size, matrix_size)
    a = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    stack = a + np.conj(np.swapaxes(a, -1, -2))
    best = np.inf
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(rounds):
            tic = time.perf_counter()
            np.linalg.eigh(stack)
            best = min(best, time.perf_counter() - tic)
    return best / n_matrices * 1e6


def child_fit(task):
    """Time ``fit`` and measure its peak memory on N Franke rows."""
    counter = count_loss_evaluations()
    timer = time_solvers()
    n_samples, solver, k = task["n_samples"], task["solver"], task["max_iter"]

    def make():
        return regressor(task, solver=solver, max_iter=k, tol=0.0, early_stopping=False)

    X, y = franke_data(n_samples)
    # Warm-up on a few rows: imports, caches, lazy initialisation.
    regressor(task, solver=solver, max_iter=2, tol=0.0).fit(X[:256], y[:256])
    reference = [reference_eigh_us(task["matrix_size"])]
    times, cpu_times, evals, solver_times = [], [], [], []
    for repeat in range(task["repeats"]):
        estimator = make()
        counter["calls"] = 0
        timer["seconds"] = 0.0
        memory = PeakMemory() if repeat == 0 else None
        with memory or contextlib.nullcontext():
            tic, cpu = time.perf_counter(), time.process_time()
            estimator.fit(X, y)
            times.append(time.perf_counter() - tic)
            cpu_times.append(time.process_time() - cpu)
        if repeat == 0:
            first_memory = memory
        evals.append(counter["calls"])
        solver_times.append(timer["seconds"])
        n_iter = estimator.n_iter_
        del estimator
        gc.collect()
    reference.append(reference_eigh_us(task["matrix_size"]))
    return {
        "n_samples": n_samples,
        "solver": solver,
        "max_iter": k,
        "n_iter": n_iter,
        "evals": evals,
        "seconds": times,
        "cpu_seconds": cpu_times,
        "solver_seconds": solver_times,
        "reference_eigh_us": reference,
        "memory": first_memory.as_dict(),
    }


def child_predict(task):
    """Predict time and peak memory, and numpy's stacked eigh on the same stack."""
    n_samples = task["n_samples"]
    with open(task["model_path"], "rb") as handle:
        estimator = pickle.load(handle)
    X = franke_data(n_samples)[0]
    estimator.predict(X[:100])  # warm-up
    with PeakMemory() as memory:
        tic = time.perf_counter()
        estimator.predict(X)
        first = time.perf_counter() - tic

    hamiltonians = estimator.hamiltonians_
    n = hamiltonians.shape[-1]
    couplings = hamiltonians[1:].reshape(len(hamiltonians) - 1, n * n)
    constant = hamiltonians[0].reshape(n * n)
    stack = np.empty((n_samples, n, n), dtype=hamiltonians.dtype)
    step = 65_536
    for start in range(0, n_samples, step):
        rows = slice(start, start + step)
        stack[rows] = (X[rows] @ couplings + constant).reshape(-1, n, n)
    check = min(n_samples, 1000)
    difference = estimator.eigenvalues(X[:check]) - np.linalg.eigvalsh(stack[:check])
    max_diff = float(np.abs(difference).max())

    def run_eigh():
        with threadpool_limits(limits=1, user_api="blas"):
            return np.linalg.eigh(stack)

    best = {"predict": [first], "eigh": []}
    rounds = 0
    start_time = time.perf_counter()
    while rounds < task["repeats"] or (
        rounds < 4 * task["repeats"] and time.perf_counter() - start_time < 1.0
    ):
        order = ["eigh", "predict"] if rounds % 2 == 0 else ["predict", "eigh"]
        for name in order:
            tic = time.perf_counter()
            if name == "eigh":
                result = run_eigh()
            else:
                result = estimator.predict(X)
            best[name].append(time.perf_counter() - tic)
            del result
        rounds += 1
    return {
        "n_samples": n_samples,
        "predict_seconds": best["predict"],
        "eigh_seconds": best["eigh"],
        "max_eigenvalue_diff": max_diff,
        "memory": memory.as_dict(),
    }


def child_tta(task):
    """Test R² on the noiseless grid against wall time, L-BFGS and Adam."""
    n_samples = task["n_samples"]
    X, y = franke_data(n_samples)
    grid = make_test_grid(100)
    truth = franke(grid[:, 0], grid[:, 1])
    regressor(task, max_iter=2).fit(X[:256], y[:256])  # warm-up

    def r2(estimator):
        residual = truth - estimator.predict(grid)
        return float(1.0 - residual @ residual / np.sum((truth - truth.mean()) ** 2))

    lbfgs = []
    for k in task["lbfgs_checkpoints"]:
        estimator = regressor(task, solver="lbfgs", max_iter=k)
        tic = time.perf_counter()
        estimator.fit(X, y)
        seconds = time.perf_counter() - tic
        lbfgs.append(
            {
                "max_iter": k,
                "n_iter": int(estimator.n_iter_),
                "seconds": seconds,
                "test_r2": r2(estimator),
                "train_loss": float(estimator.loss_),
            }
        )
        print(f"    tta L-BFGS k={k}: {seconds:.1f} s", file=sys.stderr, flush=True)
    adam = []
    estimator = regressor(task, solver="adam")
    clock = 0.0
    checkpoints = set(task["adam_checkpoints"])
    for epoch in range(1, max(checkpoints) + 1):
        tic = time.perf_counter()
        estimator.partial_fit(X, y)
        clock += time.perf_counter() - tic
        if epoch in checkpoints:
            adam.append(
                {
                    "epochs": epoch,
                    "n_iter": int(estimator.n_iter_),
                    "seconds": clock,
                    "test_r2": r2(estimator),
                    "train_loss": float(estimator.loss_),
                }
            )
            message = f"    tta Adam epoch {epoch}: {clock:.1f} s"
            print(message, file=sys.stderr, flush=True)
    return {"n_samples": n_samples, "lbfgs": lbfgs, "adam": adam}


def child_epochs(task):
    """One epoch of each solver at every N, in interleaved rounds, one process.

    The model, inputs, loss and chunking are those ``fit`` builds; an L-BFGS
    epoch is one full-batch ``loss_gradient``, an Adam epoch one
    ``minimize_adam`` pass of ``batch_size`` mini-batches.  Timing every N in
    each round, in alternating order, lets the machine's drift hit all N
    alike, which separate processes minutes apart cannot.
    """
    from sklearn_pmm._base.estimator import _AUTO_BATCH_SIZE
    from sklearn_pmm._base.solvers import minimize_adam

    estimator = regressor(task)
    sizes = task["sizes"]
    model = estimator._build_model(estimator._model_spec(2, 1))
    policy = estimator._policy(model)
    data_loss = estimator._data_loss()
    theta = model.initial_parameters(np.random.RandomState(0))
    batch = task.get("batch_size") or _AUTO_BATCH_SIZE  # the fit's "auto"
    data = {}
    for n_samples in sizes:
        X, y = franke_data(n_samples)
        scaling = model.map.input_scaling(X, np.ones(n_samples))
        inputs = model.map.prepare(model.map.scale_inputs(X, scaling))
        targets = ((y - y.mean()) / y.std())[:, None]
        data[n_samples] = (inputs, targets, np.ones(n_samples))

    def lbfgs_epoch(n_samples):
        inputs, targets, weights = data[n_samples]
        model.loss_gradient(theta, inputs, targets, weights, data_loss, 0.0, policy)

    def adam_epoch(n_samples):
        inputs, targets, weights = data[n_samples]
        minimize_adam(
            lambda t, rows: model.loss_gradient(
                t, inputs[rows], targets[rows], weights[rows], data_loss, 0.0, policy
            ),
            theta,
            n_samples,
            batch_size=batch,
            max_iter=1,
            tol=0.0,
            n_iter_no_change=1,
            shuffle=True,
            random_state=0,
        )

    epochs = {"lbfgs": lbfgs_epoch, "adam": adam_epoch}
    best = {(solver, n): np.inf for solver in epochs for n in sizes}
    with threadpool_limits(limits=1, user_api="blas"), policy:
        lbfgs_epoch(sizes[0])  # warm-up
        for round_ in range(task["rounds"]):
            order = sizes if round_ % 2 == 0 else sizes[::-1]
            for n_samples in order:
                for solver, epoch in epochs.items():
                    # Repeat small N so that each timing lasts >= ~1 s.
                    repeats = max(1, 100_000 // n_samples)
                    tic = time.perf_counter()
                    for _ in range(repeats):
                        epoch(n_samples)
                    seconds = (time.perf_counter() - tic) / repeats
                    best[solver, n_samples] = min(best[solver, n_samples], seconds)
    return {
        "rounds": task["rounds"],
        "epochs": [
            {"solver": solver, "n_samples": n, "seconds": best[solver, n]}
            for solver in epochs
            for n in sizes
        ],
    }


CHILD_TASKS = {
    "fit": child_fit,
    "predict": child_predict,
    "tta": child_tta,
    "epochs": child_epochs,
}


def child_main(payload):
    task = json.loads(payload)
    warnings.simplefilter("ignore", ConvergenceWarning)
    fingerprint = package_fingerprint()
    result = CHILD_TASKS[task["kind"]](task)
    result["package_fingerprint"] = fingerprint
    result["estimator_params"] = {
        key: value
        for key, value in regressor(task).get_params().items()
        if isinstance(value, (int, float, str, bool, type(None)))
    }
    print("RESULT " + json.dumps(result), flush=True)


def run_child(task):
    """Run one task in a fresh interpreter; return its result and the loads."""
    load_before = load_average()
    tic = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", json.dumps(task)],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - tic
    sys.stderr.write(completed.stderr)
    lines = [
        line for line in completed.stdout.splitlines() if line.startswith("RESULT ")
    ]
    if completed.returncode or not lines:
        raise RuntimeError(
            f"child {task} failed with code {completed.returncode}:\n"
            f"{completed.stdout}\n{completed.stderr}"
        )
    result = json.loads(lines[-1][len("RESULT ") :])
    result.update(
        {"load_before": load_before, "load_after": load_average(), "wall": elapsed}
    )
    return result


# ----------------------------------------------------------------------
# plan, tables, targets
# ----------------------------------------------------------------------


def adam_epochs(n_samples, minimum):
    """Adam epochs at N: at least ``minimum``, more for small N (<= 20)."""
    return max(minimum, min(20, 20_000 // n_samples))


def repeats_for(n_samples, repeats):
    if n_samples <= 10_000:
        return repeats
    if n_samples <= 100_000:
        return min(repeats, 2)
    return 1


def fit_rows(fits):
    """Derived figures of the fit children, with ratios to the largest N."""
    rows = []
    for solver in ("lbfgs", "adam"):
        runs = sorted(
            (fit for fit in fits if fit["solver"] == solver),
            key=lambda fit: fit["n_samples"],
        )
        if not runs:
            continue
        for fit in runs:
            n_samples = fit["n_samples"]
            best = min(fit["seconds"])
            index = fit["seconds"].index(best)
            per_iter = best / fit["n_iter"]
            us_sample_iter = per_iter / n_samples * 1e6
            reference = float(np.mean(fit["reference_eigh_us"]))
            rows.append(
                {
                    "solver": solver,
                    "N": n_samples,
                    "k": fit["max_iter"],
                    "n_iter": fit["n_iter"],
                    "evals": fit["evals"][index],
                    "seconds": best,
                    "per_iter": per_iter,
                    "us_sample_iter": us_sample_iter,
                    "cpu_us_sample_iter": fit["cpu_seconds"][index]
                    / fit["n_iter"]
                    / n_samples
                    * 1e6,
                    "us_sample_eval": best / fit["evals"][index] / n_samples * 1e6,
                    "reference_us": reference,
                    "calibrated": us_sample_iter / reference,
                    "peak_mib": fit["memory"]["increase_mib"],
                    "baseline_mib": fit["memory"]["baseline_mib"],
                    "reset": fit["memory"]["peak_was_reset"],
                }
            )
        for fit, row in zip(runs, rows[-len(runs) :], strict=True):
            row.update(epoch_cost(fit, row["reference_us"]))
        new = rows[-len(runs) :]
        for key, ratio in (
            ("us_sample_iter", "vs_largest"),
            ("calibrated", "vs_cal"),
            ("us_sample_epoch", "vs_epoch"),
            ("epoch_calibrated", "vs_epoch_cal"),
        ):
            for row in new:
                row[ratio] = row[key] / new[-1][key]
    return rows


def markdown_table(header, rows):
    """A Markdown table, the first column left-aligned and the others right."""
    lines = [
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
    ]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def solver_name(row):
    return "L-BFGS" if row["solver"] == "lbfgs" else "Adam"


def interleaved_rows(epochs):
    """Per-sample epoch times of the interleaved child, with ratios to the
    largest N of each solver."""
    rows = []
    for solver in ("lbfgs", "adam"):
        runs = sorted(
            (run for run in epochs["epochs"] if run["solver"] == solver),
            key=lambda run: run["n_samples"],
        )
        largest = runs[-1]["seconds"] / runs[-1]["n_samples"]
        for run in runs:
            per_sample = run["seconds"] / run["n_samples"]
            rows.append(
                {
                    "solver": solver,
                    "N": run["n_samples"],
                    "seconds": run["seconds"],
                    "us_sample_epoch": per_sample * 1e6,
                    "vs_largest": per_sample / largest,
                }
            )
    return rows


def interleaved_table(rows):
    return markdown_table(
        ["solver", "N", "s / epoch", "µs / sample / epoch", "vs largest N"],
        [
            [
                solver_name(row),
                f"{row['N']:,}",
                f"{row['seconds']:.3g}",
                f"{row['us_sample_epoch']:.2f}",
                f"{row['vs_largest']:.2f}",
            ]
            for row in rows
        ],
    )


def epoch_cost(fit, reference_us):
    """Time per epoch: the best fit's time inside the solver over its epochs
    (Adam) or its full-batch loss evaluations (L-BFGS, whose epoch is one
    evaluation; an iteration may take several)."""
    best = min(fit["solver_seconds"])
    index = fit["solver_seconds"].index(best)
    epochs = fit["n_iter"] if fit["solver"] == "adam" else fit["evals"][index]
    us_sample_epoch = best / epochs / fit["n_samples"] * 1e6
    return {
        "epochs": epochs,
        "solver_seconds": best,
        "us_sample_epoch": us_sample_epoch,
        "epoch_calibrated": us_sample_epoch / reference_us,
    }


def epoch_table(rows):
    header = [
        "solver",
        "N",
        "epochs",
        "solver s",
        "µs / sample / epoch",
        "vs largest N",
        "epoch / sample in ref eighs",
        "vs largest N (calibrated)",
    ]
    return markdown_table(
        header,
        [
            [
                solver_name(row),
                f"{row['N']:,}",
                str(row["epochs"]),
                f"{row['solver_seconds']:.2f}",
                f"{row['us_sample_epoch']:.2f}",
                f"{row['vs_epoch']:.2f}",
                f"{row['epoch_calibrated']:.2f}",
                f"{row['vs_epoch_cal']:.2f}",
            ]
            for row in rows
        ],
    )


def fit_table(rows):
    header = [
        "solver",
        "N",
        "k",
        "evals",
        "fit s",
        "s / iter",
        "µs / sample / iter",
        "vs largest N",
        "CPU µs / sample / iter",
        "ref eigh µs / mat",
        "iter / sample in ref eighs",
        "vs largest N (calibrated)",
        "peak Δ MiB",
        "baseline MiB",
    ]
    return markdown_table(
        header,
        [
            [
                solver_name(row),
                f"{row['N']:,}",
                f"{row['n_iter']}" + ("" if row["n_iter"] == row["k"] else "*"),
                str(row["evals"]),
                f"{row['seconds']:.2f}",
                f"{row['per_iter']:.3g}",
                f"{row['us_sample_iter']:.2f}",
                f"{row['vs_largest']:.2f}",
                f"{row['cpu_us_sample_iter']:.2f}",
                f"{row['reference_us']:.2f}",
                f"{row['calibrated']:.2f}",
                f"{row['vs_cal']:.2f}",
                f"{row['peak_mib']:.1f}" + ("" if row["reset"] else "‡"),
                f"{row['baseline_mib']:.0f}",
            ]
            for row in rows
        ],
    )


def predict_rows(predicts):
    rows = []
    for result in sorted(predicts, key=lambda item: item["n_samples"]):
        n_samples = result["n_samples"]
        predict, eigh = min(result["predict_seconds"]), min(result["eigh_seconds"])
        rows.append(
            {
                "N": n_samples,
                "predict_us": predict / n_samples * 1e6,
                "eigh_us": eigh / n_samples * 1e6,
                "throughput": eigh / predict,
                "peak_mib": result["memory"]["increase_mib"],
                "baseline_mib": result["memory"]["baseline_mib"],
                "max_diff": result["max_eigenvalue_diff"],
                "rounds": len(result["eigh_seconds"]),
            }
        )
    return rows


def predict_table(rows):
    header = [
        "N",
        "predict µs / sample",
        "eigh µs / sample",
        "throughput (eigh / predict)",
        "peak Δ MiB",
        "baseline MiB",
        "max |Δλ|",
        "rounds",
    ]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "---:|" * len(header),
    ]
    for row in rows:
        lines.append(
            f"| {row['N']:,} | {row['predict_us']:.2f} | {row['eigh_us']:.2f} | "
            f"{row['throughput']:.2f} | {row['peak_mib']:.1f} | "
            f"{row['baseline_mib']:.0f} | {row['max_diff']:.1e} | {row['rounds']} |"
        )
    return "\n".join(lines)


def tta_table(tta):
    header = ["solver", "checkpoint", "n_iter_", "wall s", "test R²", "train loss"]
    lines = [
        "| " + " | ".join(header) + " |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for point in tta["lbfgs"]:
        lines.append(
            f"| L-BFGS | max_iter={point['max_iter']} | {point['n_iter']} | "
            f"{point['seconds']:.1f} | {point['test_r2']:.4f} | "
            f"{point['train_loss']:.4g} |"
        )
    for point in tta["adam"]:
        lines.append(
            f"| Adam | epoch {point['epochs']} | {point['n_iter']} | "
            f"{point['seconds']:.1f} | {point['test_r2']:.4f} | "
            f"{point['train_loss']:.4g} |"
        )
    return "\n".join(lines)


def tta_summary(tta):
    """Wall time each solver needs to reach the best R² both reach."""
    best_lbfgs = max((p["test_r2"] for p in tta["lbfgs"]), default=-np.inf)
    best_adam = max((p["test_r2"] for p in tta["adam"]), default=-np.inf)
    common = min(best_lbfgs, best_adam)
    if not np.isfinite(common):
        return "Time to accuracy: not measured."

    def first(points):
        return min(p["seconds"] for p in points if p["test_r2"] >= common)

    return (
        f"Time to accuracy at N={tta['n_samples']:,}: best test R² L-BFGS "
        f"{best_lbfgs:.4f}, Adam {best_adam:.4f}; R² >= {common:.4f} (the lower "
        f"of the two) first reached after {first(tta['lbfgs']):.1f} s (L-BFGS) "
        f"and {first(tta['adam']):.1f} s (Adam)."
    )


def verdict(ok):
    return "MET" if ok else "MISSED"


def target_lines(fits, predicts, interleaved=()):
    lines = []
    # Memory at 10^6 rows.
    for label, rows in (
        ("fit L-BFGS", [r for r in fits if r["solver"] == "lbfgs"]),
        ("fit Adam", [r for r in fits if r["solver"] == "adam"]),
        ("predict", predicts),
    ):
        at = [row for row in rows if row["N"] == MEMORY_TARGET_N]
        if not at:
            lines.append(
                f"- Peak memory of a 10^6-row {label} <= {MEMORY_TARGET_MIB} MiB: "
                f"not measured (N=10^6 not in --sizes); largest N measured: "
                + (
                    f"{rows[-1]['N']:,} rows, +{rows[-1]['peak_mib']:.0f} MiB."
                    if rows
                    else "none."
                )
            )
            continue
        value = at[0]["peak_mib"]
        lines.append(
            f"- Peak memory of a 10^6-row {label} <= {MEMORY_TARGET_MIB} MiB: "
            f"{verdict(value <= MEMORY_TARGET_MIB)} (+{value:.0f} MiB)."
        )
    # Linearity.
    for solver, label in (("lbfgs", "L-BFGS"), ("adam", "Adam")):
        rows = [row for row in fits if row["solver"] == solver]
        if len(rows) < 2:
            lines.append(f"- {label} time per epoch linear in N: not measured.")
            continue
        verdicts = []
        together = [row for row in interleaved if row["solver"] == solver]
        if together:
            worst = max(together, key=lambda row: abs(row["vs_largest"] - 1.0))
            ok = all(
                abs(row["vs_largest"] - 1.0) <= LINEARITY_TOLERANCE for row in together
            )
            ratios = ", ".join(
                f"{row['N']:,}: {row['vs_largest']:.2f}" for row in together
            )
            verdicts.append(
                f"interleaved in one process {verdict(ok)} (worst "
                f"{worst['vs_largest']:.2f} at N={worst['N']:,}; {ratios})"
            )
        for key, what in (
            ("vs_epoch", "per epoch, wall"),
            ("vs_epoch_cal", "per epoch, calibrated"),
            ("vs_largest", "whole fit / k, wall"),
            ("vs_cal", "whole fit / k, calibrated"),
        ):
            worst = max(rows, key=lambda row: abs(row[key] - 1.0))
            ok = all(abs(row[key] - 1.0) <= LINEARITY_TOLERANCE for row in rows)
            ratios = ", ".join(f"{row['N']:,}: {row[key]:.2f}" for row in rows)
            verdicts.append(
                f"{what} {verdict(ok)} (worst {worst[key]:.2f} at "
                f"N={worst['N']:,}; {ratios})"
            )
        lines.append(
            f"- {label} time per epoch linear in N within "
            f"{LINEARITY_TOLERANCE:.0%} (per-sample time / that at "
            f"N={rows[-1]['N']:,}): " + "; ".join(verdicts) + "."
        )
    # Predict throughput.
    if predicts:
        worst = min(predicts, key=lambda row: row["throughput"])
        ok = worst["throughput"] >= THROUGHPUT_TARGET
        values = ", ".join(f"{row['N']:,}: {row['throughput']:.2f}" for row in predicts)
        lines.append(
            f"- Predict throughput >= {THROUGHPUT_TARGET}x numpy's stacked eigh: "
            f"{verdict(ok)} (worst {worst['throughput']:.2f} at N={worst['N']:,}; "
            f"{values})."
        )
    return lines


def environment_lines():
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    lines = [
        f"- Python {platform.python_version()} on {platform.platform()}"
        f" ({platform.machine()})",
        f"- numpy {np.__version__}, scipy {scipy.__version__}, "
        f"scikit-learn {sklearn.__version__}; working_memory="
        f"{sklearn.get_config()['working_memory']} MiB",
        f"- CPUs: os.cpu_count()={os.cpu_count()}, usable={usable}; nice "
        f"{os.nice(0)}; load average at start {format_load(load_average())} "
        "(other users' work skews timings)",
    ]
    for pool in threadpool_info():
        lines.append(
            f"- {pool['user_api']}: {pool['internal_api']} {pool.get('version')}"
            f" ({pool['num_threads']} threads) {os.path.basename(pool['filepath'])}"
        )
    lines.append(
        "- BLAS threads: 1 inside fit and predict (the package caps itself) and "
        "for the bare eigh; n_jobs=None (one worker)"
    )
    return lines


def format_load(load):
    return "/".join(f"{value:.2f}" for value in load) if load else "n/a"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="N in {1000, 10000}, time to accuracy at 10000 with few checkpoints",
    )
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=None,
        metavar="N",
        help="numbers of rows N (default: 1000 10000 100000 1000000)",
    )
    parser.add_argument(
        "--matrix-size", type=int, default=7, help="PMM matrix size n (default: 7)"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="Adam mini-batch rows (default: the estimator's 'auto', 200)",
    )
    parser.add_argument(
        "--lbfgs-iter",
        type=int,
        default=3,
        help="L-BFGS iterations k of the fit timing, the same at every N (default: 3)",
    )
    parser.add_argument(
        "--adam-epochs",
        type=int,
        default=2,
        help="minimum Adam epochs of the fit timing; N < 10^4 get up to 20 "
        "(default: 2)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="best-of repeats for N <= 10^4 (2 at 10^5, 1 above; default: 3)",
    )
    parser.add_argument(
        "--tta-n",
        type=int,
        default=None,
        help="rows of the time-to-accuracy run (default: 100000; --quick 10000; "
        "0 skips it)",
    )
    parser.add_argument(
        "--tta-lbfgs",
        type=int,
        nargs="+",
        default=None,
        metavar="K",
        help="L-BFGS max_iter checkpoints (default: 2 5 10 20 30)",
    )
    parser.add_argument(
        "--tta-adam",
        type=int,
        nargs="+",
        default=None,
        metavar="E",
        help="Adam epoch checkpoints (default: 1 2 4 8 16 24)",
    )
    parser.add_argument(
        "--no-predict", action="store_true", help="skip the predict measurements"
    )
    parser.add_argument(
        "--no-epochs",
        action="store_true",
        help="skip the interleaved per-epoch timing of all N in one process",
    )
    parser.add_argument(
        "--tta-only",
        action="store_true",
        help="only the time-to-accuracy run (no fit or predict scaling)",
    )
    parser.add_argument(
        "--output",
        metavar="PATH",
        help="also write the tables to this Markdown file and the raw numbers "
        "to the same path with a .json suffix",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes = args.sizes or QUICK_SIZES
        args.tta_n = 10_000 if args.tta_n is None else args.tta_n
        args.tta_lbfgs = args.tta_lbfgs or [2, 5, 10]
        args.tta_adam = args.tta_adam or [1, 2, 4]
    args.sizes = sorted(set(args.sizes or DEFAULT_SIZES))
    args.tta_n = 100_000 if args.tta_n is None else args.tta_n
    args.tta_lbfgs = sorted(set(args.tta_lbfgs or [2, 5, 10, 20, 30]))
    args.tta_adam = sorted(set(args.tta_adam or [1, 2, 4, 8, 16, 24]))
    if min(args.sizes) < 1 or args.lbfgs_iter < 1 or args.adam_epochs < 1:
        parser.error("sizes, --lbfgs-iter and --adam-epochs must be positive")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child is not None:
        child_main(args.child)
        return
    tic = time.perf_counter()
    load_start = load_average()
    env = environment_lines()
    print("## Environment\n")
    print("\n".join(env), flush=True)
    base = {"matrix_size": args.matrix_size, "batch_size": args.batch_size}

    def progress(message):
        print(
            f"  {message} ({time.perf_counter() - tic:.0f} s, load "
            f"{format_load(load_average())})",
            file=sys.stderr,
            flush=True,
        )

    raw = {"args": {k: v for k, v in vars(args).items() if k != "child"}}
    raw["load_start"] = load_start
    fingerprint_start = package_fingerprint()
    fits, predicts = [], []
    if args.tta_only:
        args.sizes, args.no_predict = [], True
    with tempfile.TemporaryDirectory() as directory:
        model_path = os.path.join(directory, "model.pkl")
        if not args.no_predict:
            X, y = franke_data(1000)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model = regressor({"matrix_size": args.matrix_size}, max_iter=50).fit(
                    X, y
                )
            with open(model_path, "wb") as handle:
                pickle.dump(model, handle)
        for n_samples in args.sizes:
            repeats = repeats_for(n_samples, args.repeats)
            for solver, k in (
                ("lbfgs", args.lbfgs_iter),
                ("adam", adam_epochs(n_samples, args.adam_epochs)),
            ):
                task = {
                    **base,
                    "kind": "fit",
                    "n_samples": n_samples,
                    "solver": solver,
                    "max_iter": k,
                    "repeats": repeats,
                }
                fits.append(run_child(task))
                progress(f"fit {solver} N={n_samples} k={k}")
            if not args.no_predict:
                task = {
                    **base,
                    "kind": "predict",
                    "n_samples": n_samples,
                    "model_path": model_path,
                    "repeats": max(2, repeats),
                }
                predicts.append(run_child(task))
                progress(f"predict N={n_samples}")
        epochs = None
        if len(args.sizes) > 1 and not args.no_epochs:
            epochs = run_child(
                {**base, "kind": "epochs", "sizes": args.sizes, "rounds": 3}
            )
            progress("epochs, interleaved")
        tta = None
        if args.tta_n:
            task = {
                **base,
                "kind": "tta",
                "n_samples": args.tta_n,
                "lbfgs_checkpoints": args.tta_lbfgs,
                "adam_checkpoints": args.tta_adam,
            }
            tta = run_child(task)
            progress(f"time to accuracy N={args.tta_n}")

    fit_rows_ = fit_rows(fits)
    predict_rows_ = predict_rows(predicts)
    fingerprint_end = package_fingerprint()
    children = [
        *fits,
        *predicts,
        *([tta] if tta else []),
        *([epochs] if epochs else []),
    ]
    fingerprints = {fingerprint_start, fingerprint_end} | {
        child["package_fingerprint"] for child in children
    }
    pinned = ", ".join(f"{key}={value!r}" for key, value in PINNED.items())
    provenance = [
        f"Package sources (sha256 of `sklearn_pmm/**/*.py`): {fingerprint_start} "
        f"at start, {fingerprint_end} at end"
        + (
            "."
            if len(fingerprints) == 1
            else f"; WARNING: the package changed during the run "
            f"({len(fingerprints)} versions seen, per child in the JSON file)."
        ),
        f"Pinned for every estimator: {pinned}; everything else is the "
        "package default at run time (listed per child in the JSON file).",
    ]
    sections = [*provenance, ""]
    if fit_rows_:
        sections += [
            "## Fit: time per iteration / epoch and peak memory",
            "",
            fit_table(fit_rows_),
            "",
            "k: L-BFGS iterations (`tol=0`) or Adam epochs; `*` marks a fit that "
            "stopped before k; `‡` marks a peak that could not be reset (the "
            "increase is then a lower bound). Calibrated: the wall time per "
            "iteration and sample in units of the reference eigh (a fixed stack "
            "timed in the same process just before and after the fits), which "
            "factors out the machine's speed at the time.",
            "",
            "## Fit: time per epoch, one-off costs removed",
            "",
            epoch_table(fit_rows_),
            "",
            "Solver s: wall time inside `minimize_lbfgs` / `minimize_adam` "
            "during the best fit (the epochs, without validation, duplicate "
            "merging, standardisation and set-up); an epoch is one Adam pass "
            "over the rows or one full-batch L-BFGS loss evaluation.",
            "",
        ]
    epoch_rows_ = interleaved_rows(epochs) if epochs else []
    if epoch_rows_:
        sections += [
            "## Fit: time per epoch, all N interleaved in one process",
            "",
            interleaved_table(epoch_rows_),
            "",
            "Best of 3 rounds; each round times one epoch of each solver at "
            "every N (alternating order), small N repeated to last at least "
            "about 1 s: an L-BFGS epoch is one full-batch loss-and-gradient "
            "evaluation, an Adam epoch one pass of mini-batch steps, on the "
            "model, inputs and chunks that `fit` builds (random parameters).",
            "",
        ]
    if predict_rows_:
        sections += [
            "## Predict against numpy's stacked eigh",
            "",
            predict_table(predict_rows_),
            "",
        ]
    if tta:
        sections += [
            f"## Time to accuracy at N = {tta['n_samples']:,} (test R² on the "
            "noiseless 100×100 grid)",
            "",
            tta_table(tta),
            "",
            tta_summary(tta),
            "",
        ]
    targets = (
        target_lines(fit_rows_, predict_rows_, epoch_rows_) if not args.tta_only else []
    )
    if targets:
        sections += ["## Targets", "", *targets]
    elapsed = time.perf_counter() - tic
    load_end = load_average()
    footer = (
        f"Total benchmark time: {elapsed:.0f} s; load average at start "
        f"{format_load(load_start)}, at end {format_load(load_end)}."
    )
    text = "\n".join(sections)
    print("\n" + text + "\n\n" + footer)

    if args.output:
        command = "python benchmarks/bench_scale.py " + " ".join(
            sys.argv[1:] if argv is None else argv
        )
        document = "\n".join(
            [
                "# sklearn_pmm scaling benchmark",
                "",
                f"Command: `{command.strip()}`",
                "",
                "Noisy Franke data (noise 0.1), `PMMRegressor` defaults "
                f"(matrix_size={args.matrix_size}, complex, r=3, decoder "
                "readout, n_jobs=None), each measurement in a fresh process; "
                "see the docstring of `benchmarks/bench_scale.py` for every "
                "column.",
                "",
                "## Environment",
                "",
                *env,
                "",
                text,
                "",
                footer,
                "",
            ]
        )
        directory = os.path.dirname(args.output)
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(document)
        raw.update(
            {
                "environment": env,
                "fits": fits,
                "predicts": predicts,
                "time_to_accuracy": tta,
                "epochs_interleaved": epochs,
                "fit_rows": fit_rows_,
                "epoch_rows": epoch_rows_,
                "predict_rows": predict_rows_,
                "targets": targets,
                "package_fingerprint_start": fingerprint_start,
                "package_fingerprint_end": fingerprint_end,
                "pinned": PINNED,
                "elapsed_seconds": elapsed,
                "load_end": load_end,
            }
        )
        json_path = os.path.splitext(args.output)[0] + ".json"
        with open(json_path, "w", encoding="utf-8") as handle:
            json.dump(raw, handle, indent=1)
        print(f"Written to {args.output} and {json_path}")


if __name__ == "__main__":
    main()
