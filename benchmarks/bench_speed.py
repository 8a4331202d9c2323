# SPDX-License-Identifier: BSD-3-Clause
"""Speed benchmark of the PMM engine: eigensolvers, loss gradient, fit, threads.

This is a benchmark, not a test: it asserts nothing, it prints a Markdown
table (and, with ``--output``, writes it to a file).  Run it from the
repository root with the package importable (``pip install -e .``, or prefix
the commands with ``PYTHONPATH=.``)::

    python benchmarks/bench_speed.py                      # full run (minutes)
    python benchmarks/bench_speed.py --quick              # N=1000, n in {5, 7}
    python benchmarks/bench_speed.py --n-samples 1000 --sizes 7 16
    python benchmarks/bench_speed.py --output benchmarks/results/speed.md

Every row uses ``p = 2`` features drawn uniformly on ``[0, 1)``, ``r = 3``
eigenvectors, ``which="lowest"`` and the ``"decoder"`` readout, and one
stack of ``N`` primary matrices ``H(x) = H_0 + x_1 H_1 + x_2 H_2`` built by
the affine map (``sklearn_pmm._core.maps.AffineMap``) from random parameters
(``PMMModel.initial_parameters(np.random.RandomState(0))``), real symmetric
or complex Hermitian.  All candidates of a row see that same stack.

Columns
-------
N, n, H
    Number of samples (matrices), matrix size, real or complex matrices.
numpy µs/mat
    ``np.linalg.eigh`` on the whole ``(N, n, n)`` stack (one gufunc call).
scipy µs/mat
    ``scipy.linalg.eigh`` (default driver) applied to the stack (SciPy >= 1.15
    accepts stacks and loops over them in Python; older ones are looped here).
LAPACK loop µs/mat
    A Python loop calling ``scipy.linalg.lapack.dsyevd`` / ``zheevd`` (the
    driver numpy uses) on each matrix.
predict µs/mat
    The package's whole prediction path, ``PMMModel.outputs`` (the stack
    built from the features, eigendecomposed in chunks, read out), per
    sample.  The chunks are the estimators' own
    (``sklearn_pmm._core.eigh.chunk_rows``: at most 256 rows for this map).
predict/eigh
    Throughput of that prediction path relative to the bare stacked
    eigensolves of the same stack (numpy time / predict time); target >= 0.8.
loss+grad ms
    One ``PMMModel.loss_gradient`` evaluation (``SquaredError``, the
    estimators' chunks, ``n_jobs=None``, ``alpha=0``) on the same ``N``
    samples.
loss+grad / eigh
    That time over one numpy stacked ``eigh`` of the same stack; target
    <= 1.5, i.e. the analytic gradient costs little more than the
    eigendecompositions it needs.
faults / loss+grad
    Minor page faults per loss-and-gradient evaluation (mean of three calls
    after the timings; Unix only): fresh memory the allocator maps in for the
    evaluation's temporaries.  glibc's ``malloc`` returns freed memory to the
    system once more than its trim threshold is free, so each evaluation may
    fault the same temporaries in again; the ``MALLOC_*`` variables of the
    environment, listed under "Environment", change that.
fit ms/iter (iters)
    Wall time of ``PMMRegressor(matrix_size=n, n_eigenvectors=3,
    hermitian=..., which="lowest", max_iter=K, tol=0, early_stopping=False,
    smoothness=0, n_restarts=0, n_jobs=1, random_state=0).fit`` divided by
    ``n_iter_`` (in parentheses): one L-BFGS step on all N rows per iteration,
    from one start.  An iteration
    may evaluate the loss more than once (line search) and the time includes
    the fit's fixed overhead (validation, standardisation, start).
n_jobs=2 speed-up
    Wall time of that fit with ``n_jobs=1`` over its time with ``n_jobs=2``
    (the same iterations and the estimator's own chunks; at most one thread
    per ``sklearn_pmm._core.eigh.MIN_TASK_ROWS`` rows, 256, so N = 1000
    and N = 10000 both run on two threads), the two timed in interleaved
    rounds (at least 2, and up to 10 while they take less than 4 s in all,
    since the best of a few rounds of a short fit is noisy on a shared
    machine).  At most 2 on two cores; below 1 would mean threads slow the
    fit down.

Image PMM (a second table)
    One ``PMMModel.loss_gradient`` evaluation of ``PMMImageClassifier``
    with its defaults (``image_shape=(8, 8)``, the default ``alpha``) and
    random parameters on the 1,257 training digits of the image benchmark's
    split (``train_test_split(test_size=0.3, stratify=y, random_state=0)``),
    against one ``np.linalg.eigh`` of the ``(1257, 10, n, n)`` stack of
    class matrices it diagonalises, in the estimator's chunks (at most 256
    rows, so five); target <= 3.

Timings are the best of several repetitions (``--repeats``, more rounds for
fast calls) with ``time.perf_counter``; the candidates compared in a ratio are
timed in interleaved rounds in the same run, so the ratios are more reliable
than the absolute figures on a shared, noisy machine.  Columns marked ``†``
time the first 1000 matrices of the stack only (the loops cost the same per
matrix) and report per-matrix figures.  All timings run with BLAS capped at
one thread (``threadpool_limits(1, "blas")``), as ``fit`` does: on a small
shared machine OpenBLAS threads inside the tiny per-sample products slow the
complex loss gradient down several-fold.  ``--blas-threads 0`` keeps the
library default for columns 1-2 instead (the fit always caps itself).
"""

import argparse
import os
import platform
import sys
import time
import warnings
from contextlib import nullcontext

try:
    import resource
except ImportError:  # not on Unix
    resource = None

import numpy as np
import scipy
import scipy.linalg
import sklearn
from _provenance import git_describe
from scipy.linalg import lapack
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_info, threadpool_limits

from sklearn_pmm import PMMImageClassifier, PMMRegressor
from sklearn_pmm._core.eigh import ExecutionPolicy, chunk_rows
from sklearn_pmm._core.loss import SquaredError
from sklearn_pmm._core.maps import AffineMap
from sklearn_pmm._core.model import PMMModel
from sklearn_pmm._core.readout import DecoderReadout

N_FEATURES = 2
N_EIGENVECTORS = 3
LOOP_SUBSET = 1000  # matrices timed by the per-matrix Python loops
THROUGHPUT_TARGET = 0.8
# Interleaved best-of-rounds still vary by a few per cent on this machine.
JOBS_NOISE = 0.05
LOSS_RATIO_TARGET = 1.5
IMAGE_LOSS_RATIO_TARGET = 3.0
SUMMARY_SIZE = 7
# glibc malloc settings that decide whether freed memory is kept for reuse.
MALLOC_VARIABLES = (
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_TOP_PAD_",
    "GLIBC_TUNABLES",
)

COLUMNS = [
    "N",
    "n",
    "H",
    "numpy µs/mat",
    "scipy µs/mat",
    "LAPACK loop µs/mat",
    "predict µs/mat",
    "predict/eigh",
    "loss+grad ms",
    "loss+grad / eigh",
    "faults / loss+grad",
    "fit ms/iter (iters)",
    "n_jobs=2 speed-up",
]


def best_times(candidates, *, repeats, budget=0.5, max_rounds=None):
    """Best wall time of each callable, timed in interleaved rounds.

    Runs at least ``repeats`` rounds, and keeps adding rounds (up to
    ``max_rounds``) while the total elapsed time is below ``budget`` seconds,
    so fast calls get more samples.  The order of the candidates rotates from
    round to round.
    """
    if max_rounds is None:
        max_rounds = 4 * repeats
    names = list(candidates)
    best = dict.fromkeys(names, np.inf)
    start = time.perf_counter()
    rounds = 0
    while rounds < repeats or (
        rounds < max_rounds and time.perf_counter() - start < budget
    ):
        shift = rounds % len(names)
        for name in names[shift:] + names[:shift]:
            tic = time.perf_counter()
            candidates[name]()
            best[name] = min(best[name], time.perf_counter() - tic)
        rounds += 1
    return best


def minor_faults(function, calls=3):
    """Minor page faults per call of ``function`` (NaN where not measurable)."""
    if resource is None:
        return float("nan")

    def count():
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

    function()  # warm-up: first-call allocations are not per-evaluation costs
    before = count()
    for _ in range(calls):
        function()
    return (count() - before) / calls


def scipy_eigh_stack(stack):
    """``scipy.linalg.eigh`` on a stack (looped here if SciPy cannot batch)."""
    try:
        return scipy.linalg.eigh(stack)
    except ValueError:
        return [scipy.linalg.eigh(matrix) for matrix in stack]


def lapack_loop(stack):
    """One ``syevd``/``heevd`` call per matrix, from Python."""
    driver = lapack.zheevd if np.iscomplexobj(stack) else lapack.dsyevd
    for matrix in stack:
        _, _, info = driver(matrix, compute_v=1, lower=1)
        if info:
            raise RuntimeError(f"LAPACK returned info={info}")


def target_function(X):
    """A smooth regression target on [0, 1)^2 for the fit timing."""
    return np.sin(3.0 * X[:, 0]) * np.cos(2.0 * X[:, 1]) + 0.5 * X[:, 1] ** 2


def fit_iterations(n_samples):
    """L-BFGS iterations K of the fit timing: fewer for large N."""
    return 20 if n_samples >= 10_000 else 50


def blas_limit(blas_threads):
    """``threadpool_limits`` for BLAS, or a no-op for ``blas_threads=0``."""
    if blas_threads:
        return threadpool_limits(limits=blas_threads, user_api="blas")
    return nullcontext()


def bench_row(n_samples, size, complex_valued, repeats, blas_threads=1):
    """Measure one row of the table; returns a dict of raw figures."""
    rng = np.random.default_rng(0)
    X = rng.uniform(0.0, 1.0, (n_samples, N_FEATURES))
    y = target_function(X)
    targets = y[:, None]
    weights = np.ones(n_samples)
    data_loss = SquaredError()

    model = PMMModel(
        AffineMap(N_FEATURES, size, complex_valued),
        DecoderReadout(n_outputs=1, n_eigenvectors=N_EIGENVECTORS),
    )
    theta = model.initial_parameters(np.random.RandomState(0))
    params = model.layout.unpack(theta)
    stack = np.ascontiguousarray(model.map.matrices(params, X)[:, 0])
    subset = stack[:LOOP_SUBSET]
    policy = ExecutionPolicy(chunk_rows(model))

    def loss_gradient():
        return model.loss_gradient(theta, X, targets, weights, data_loss, 0.0, policy)

    with blas_limit(blas_threads):
        # 1-2. Stacked eigensolvers and the loss gradient, interleaved.
        times = best_times(
            {
                "numpy": lambda: np.linalg.eigh(stack),
                "ours": lambda: model.outputs(theta, X, policy),
                "loss": loss_gradient,
            },
            repeats=repeats,
        )
        faults = minor_faults(loss_gradient)
        # 1. Per-matrix Python loops, on a subset.
        times.update(
            best_times(
                {
                    "scipy": lambda: scipy_eigh_stack(subset),
                    "lapack": lambda: lapack_loop(subset),
                },
                repeats=max(3, repeats // 2),
            )
        )
    # 3-4. Fit time per L-BFGS iteration, with n_jobs=1 and n_jobs=2, as a
    # user runs it: the estimator's own chunking, no validation split, so that
    # every iteration is one L-BFGS step on all N rows.
    max_iter = fit_iterations(n_samples)
    fits = {}

    def fit(n_jobs):
        regressor = PMMRegressor(
            matrix_size=size,
            n_eigenvectors=N_EIGENVECTORS,
            hermitian="complex" if complex_valued else "real",
            which="lowest",
            max_iter=max_iter,
            tol=0.0,
            early_stopping=False,
            smoothness=0.0,
            n_restarts=0,
            n_jobs=n_jobs,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            regressor.fit(X, y)
        fits[n_jobs] = regressor.n_iter_

    times.update(
        best_times(
            {"fit": lambda: fit(1), "fit_jobs2": lambda: fit(2)},
            repeats=2,
            budget=4.0,
            max_rounds=10,
        )
    )
    if fits[1] != fits[2]:
        raise RuntimeError(f"n_jobs changed the number of iterations: {fits}")

    n_sub = len(subset)
    return {
        "N": n_samples,
        "n": size,
        "H": "complex" if complex_valued else "real",
        "numpy": times["numpy"] / n_samples * 1e6,
        "scipy": times["scipy"] / n_sub * 1e6,
        "lapack": times["lapack"] / n_sub * 1e6,
        "ours": times["ours"] / n_samples * 1e6,
        "throughput": times["numpy"] / times["ours"],
        "loss_ms": times["loss"] * 1e3,
        "loss_ratio": times["loss"] / times["numpy"],
        "faults": faults,
        "fit_ms_iter": times["fit"] / fits[1] * 1e3,
        "fit_iters": fits[1],
        "speedup": times["fit"] / times["fit_jobs2"],
        "subset": n_sub < n_samples,
    }


def image_loss_problem():
    """The default ``PMMImageClassifier``'s model on the 1,257 training digits
    of the image benchmark's split, with random parameters.

    Returns ``(model, inputs, theta, loss)``, ``loss(policy)`` being one
    loss-and-gradient evaluation on those digits.
    """
    X, y = load_digits(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    classes = np.unique(y_train)
    onehot = (y_train[:, None] == classes).astype(float)
    estimator = PMMImageClassifier(image_shape=(8, 8))
    model = estimator._build_model(estimator._model_spec(X.shape[1], len(classes)))
    scaling = model.map.input_scaling(X_train, np.ones(len(X_train)))
    if scaling is not None:
        X_train = model.map.scale_inputs(X_train, scaling)
    inputs = model.map.prepare(X_train)
    theta = model.initial_parameters(np.random.RandomState(0))
    weights = np.ones(len(onehot))
    data_loss = estimator._data_loss()

    def loss(policy):
        return model.loss_gradient(
            theta, inputs, onehot, weights, data_loss, estimator.alpha, policy
        )

    return model, inputs, theta, loss


def bench_image(repeats, blas_threads=1):
    """One loss-and-gradient evaluation of the default ``PMMImageClassifier``
    on the 1,257 training digits against the stacked eigensolves it needs."""
    model, inputs, theta, loss = image_loss_problem()
    stack = np.ascontiguousarray(model.map.matrices(model.layout.unpack(theta), inputs))
    policy = ExecutionPolicy(chunk_rows(model))
    with blas_limit(blas_threads):
        times = best_times(
            {
                "numpy": lambda: np.linalg.eigh(stack),
                "loss": lambda: loss(policy),
            },
            repeats=repeats,
            budget=5.0,
        )
    n_images, n_classes, size = stack.shape[:3]
    return {
        "images": n_images,
        "classes": n_classes,
        "n": size,
        "H": "complex" if np.iscomplexobj(stack) else "real",
        "floats": model.n_params,
        "eigh_ms": times["numpy"] * 1e3,
        "loss_ms": times["loss"] * 1e3,
        "ratio": times["loss"] / times["numpy"],
    }


def image_lines(row):
    """A table of the image measurement and its target."""
    ok = row["ratio"] <= IMAGE_LOSS_RATIO_TARGET
    return [
        "| images | classes | n | H | floats | eigh ms | loss+grad ms "
        "| loss+grad / eigh |",
        "|---:|---:|---:|---|---:|---:|---:|---:|",
        f"| {row['images']} | {row['classes']} | {row['n']} | {row['H']} "
        f"| {row['floats']:,} | {row['eigh_ms']:.1f} | {row['loss_ms']:.1f} "
        f"| {row['ratio']:.2f} |",
        "",
        f"Target: one loss-and-gradient evaluation of the image PMM costs <= "
        f"{IMAGE_LOSS_RATIO_TARGET:g}x the stacked eigensolves it needs "
        f"({row['images']} x {row['classes']} matrices): "
        f"{'MET' if ok else 'MISSED'} ({row['ratio']:.2f}).",
    ]


def format_row(row):
    mark = "†" if row["subset"] else ""
    cells = [
        str(row["N"]),
        str(row["n"]),
        row["H"],
        f"{row['numpy']:.2f}",
        f"{row['scipy']:.1f}{mark}",
        f"{row['lapack']:.2f}{mark}",
        f"{row['ours']:.2f}",
        f"{row['throughput']:.2f}",
        f"{row['loss_ms']:.1f}",
        f"{row['loss_ratio']:.2f}",
        f"{row['faults']:.0f}",
        f"{row['fit_ms_iter']:.1f} ({row['fit_iters']})",
        f"{row['speedup']:.2f}",
    ]
    return "| " + " | ".join(cells) + " |"


def markdown_table(rows):
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|"
        + "|".join("---:" if i not in (2,) else "---" for i in range(len(COLUMNS)))
        + "|",
    ]
    lines += [format_row(row) for row in rows]
    if any(row["subset"] for row in rows):
        lines += [
            "",
            f"† timed on the first {LOOP_SUBSET} matrices of the stack, per matrix.",
        ]
    return "\n".join(lines)


def load_average():
    try:
        return "/".join(f"{value:.2f}" for value in os.getloadavg())
    except (AttributeError, OSError):
        return "n/a"


def environment_lines(blas_threads=1):
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    lines = [
        f"- Python {platform.python_version()} on {platform.platform()}"
        f" ({platform.machine()})",
        f"- numpy {np.__version__}, scipy {scipy.__version__}, "
        f"scikit-learn {sklearn.__version__}",
        f"- git {git_describe()}",
        f"- CPUs: os.cpu_count()={os.cpu_count()}, usable={usable}; load average"
        f" at start {load_average()} (other users' work skews timings)",
    ]
    for pool in threadpool_info():
        lines.append(
            f"- {pool['user_api']}: {pool['internal_api']} {pool.get('version')}"
            f" ({pool.get('architecture') or pool.get('threading_layer') or '?'},"
            f" {pool['num_threads']} threads) {os.path.basename(pool['filepath'])}"
        )
    lines.append(
        "- glibc malloc settings: "
        + (" ".join(malloc_settings()) or "none set (the allocator's defaults)")
    )
    lines.append(
        "- BLAS threads during the timings: "
        + (f"{blas_threads} (threadpool_limits)" if blas_threads else "default")
        + "; the fit and the n_jobs columns always use 1"
    )
    return lines


def malloc_settings():
    """``NAME=value`` of each of :data:`MALLOC_VARIABLES` set in the environment."""
    return [
        f"{name}={os.environ[name]}" for name in MALLOC_VARIABLES if name in os.environ
    ]


def summary_line(rows):
    """Targets at n = SUMMARY_SIZE, over all N and real/complex rows."""
    selected = [row for row in rows if row["n"] == SUMMARY_SIZE]
    if not selected:
        return f"Targets at n = {SUMMARY_SIZE}: not measured (n = 7 not in --sizes)."
    worst_throughput = min(selected, key=lambda row: row["throughput"])
    worst_loss = max(selected, key=lambda row: row["loss_ratio"])

    def where(row):
        return f"N={row['N']} {row['H']}"

    throughput_ok = worst_throughput["throughput"] >= THROUGHPUT_TARGET
    loss_ok = worst_loss["loss_ratio"] <= LOSS_RATIO_TARGET
    throughputs = ", ".join(f"{row['throughput']:.2f}" for row in selected)
    losses = ", ".join(f"{row['loss_ratio']:.2f}" for row in selected)
    return (
        f"Targets at n = {SUMMARY_SIZE}: predict throughput predict/eigh >= "
        f"{THROUGHPUT_TARGET}: {'MET' if throughput_ok else 'MISSED'} "
        f"(worst {worst_throughput['throughput']:.2f} at {where(worst_throughput)};"
        f" all: {throughputs}); loss+grad / eigh <= {LOSS_RATIO_TARGET}: "
        f"{'MET' if loss_ok else 'MISSED'} (worst {worst_loss['loss_ratio']:.2f} "
        f"at {where(worst_loss)}; all: {losses})." + jobs_line(rows)
    )


def jobs_line(rows):
    """Whether ``n_jobs=2`` ever made a fit slower, over every row."""
    slowest = min(rows, key=lambda row: row["speedup"])
    slower = [row for row in rows if row["speedup"] < 1.0 - JOBS_NOISE]
    return (
        f" n_jobs=2 never slower than n_jobs=1 (speed-up >= {1 - JOBS_NOISE:.2f}, "
        f"timing noise allowed): {'MET' if not slower else 'MISSED'} (lowest "
        f"{slowest['speedup']:.2f} at n={slowest['n']} N={slowest['N']} "
        f"{slowest['H']}; {len(slower)} of {len(rows)} rows below)."
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="N=1000 and n in {5, 7} only (overrides --sizes and --n-samples)",
    )
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[5, 7, 10, 16],
        metavar="n",
        help="matrix sizes n (default: 5 7 10 16)",
    )
    parser.add_argument(
        "--n-samples",
        type=int,
        nargs="+",
        default=[1000, 10_000],
        metavar="N",
        help="numbers of samples N (default: 1000 10000)",
    )
    parser.add_argument(
        "--hermitian",
        choices=["real", "complex"],
        nargs="+",
        default=["real", "complex"],
        help="matrix kinds (default: real complex)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="minimum best-of-k repetitions (default: 5)",
    )
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="BLAS threads for the eigensolver and loss timings; 0 keeps the "
        "library default (default: 1, as inside fit)",
    )
    parser.add_argument(
        "--output", metavar="PATH", help="also write the table to this Markdown file"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.n_samples = [5, 7], [1000]
    return args


def main(argv=None):
    args = parse_args(argv)
    tic = time.perf_counter()
    env = environment_lines(args.blas_threads)
    print("## Environment\n")
    print("\n".join(env), flush=True)

    rows = []
    for n_samples in args.n_samples:
        for size in args.sizes:
            for kind in args.hermitian:
                row = bench_row(
                    n_samples,
                    size,
                    kind == "complex",
                    args.repeats,
                    args.blas_threads,
                )
                rows.append(row)
                print(
                    f"  done N={n_samples} n={size} {kind} "
                    f"({time.perf_counter() - tic:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )

    image = image_lines(bench_image(args.repeats, args.blas_threads))
    print(f"  done image PMM ({time.perf_counter() - tic:.0f} s)", file=sys.stderr)
    table = markdown_table(rows)
    summary = summary_line(rows)
    elapsed = time.perf_counter() - tic
    footer = (
        f"Total benchmark time: {elapsed:.0f} s; load average at end {load_average()}."
    )
    print("\n## Results\n")
    print(table)
    print()
    print(summary)
    print("\n## Image PMM (digits)\n")
    print("\n".join(image))
    print(footer)

    if args.output:
        command = " ".join(
            [
                *malloc_settings(),
                "python benchmarks/bench_speed.py",
                *(sys.argv[1:] if argv is None else argv),
            ]
        )
        text = "\n".join(
            [
                "# sklearn_pmm speed benchmark",
                "",
                f"Command: `{command.strip()}`",
                "",
                "## Environment",
                "",
                *env,
                "",
                "## Results",
                "",
                table,
                "",
                summary,
                "",
                "## Image PMM (digits)",
                "",
                *image,
                "",
                footer,
                "",
            ]
        )
        directory = os.path.dirname(args.output)
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
        print(f"Written to {args.output}")


if __name__ == "__main__":
    main()
