# SPDX-License-Identifier: BSD-3-Clause
"""How many rows one chunk of an evaluation should hold: time and page faults.

This is a benchmark, not a test: it asserts nothing.  It prints a Markdown
report and, with ``--output``, writes it to a file.  Run it from the
repository root with the package importable (``pip install -e .``, or prefix
the commands with ``PYTHONPATH=.``)::

    python benchmarks/bench_chunks.py --output benchmarks/results/chunks.md
    python benchmarks/bench_chunks.py --quick

Every loss-and-gradient evaluation, and every prediction, runs its samples
in chunks of at most ``max_chunk_rows`` rows of the primary-matrix map
(:func:`sklearn_pmm._core.eigh.chunk_rows`).  A chunk allocates its temporaries
(matrices, eigenvectors, readout terms, adjoints) and frees them at its end.
How much that costs depends on the allocator: glibc's ``malloc`` returns freed
memory at the top of its heap to the system once more than its (dynamic)
trim threshold is free, and serves large blocks with ``mmap``, so a chunk whose
temporaries exceed those thresholds maps and zero-fills the same pages again
on every evaluation.  The allocator's thresholds depend on the history of the
process, so every measurement runs in a fresh Python process.

Loss and gradient
    One ``PMMModel.loss_gradient`` of the regressor's model (affine map,
    ``r = 3``, decoder readout, ``SquaredError``) on ``N`` random samples of
    ``p = 2`` features, and of the default image PMM
    (``PMMImageClassifier(image_shape=(8, 8))``, ten class matrices per
    sample) on the 1,257 training digits of the image benchmark's split, with
    chunks of at most the given number of rows, BLAS at one thread, serial.
    Cells: the best time of ``--evals`` evaluations after two warm-up
    evaluations, in ms, and the minor page faults per evaluation.

Fits
    Wall time of a whole fit with the cap set on the map class (the chunks
    are otherwise the estimator's own): a default ``PMMRegressor`` on noisy
    Franke (``make_test_function("franke", n_samples=2000, noise=0.1)``), the
    same at 10,000 rows with ``max_iter=30, tol=0, early_stopping=False,
    smoothness=0, n_restarts=0`` (30 L-BFGS iterations from one start), and a
    default ``PMMClassifier`` on the first 1,437 standardised digits.  The
    chunks change the order of the sums, so fits differ by rounding, which
    L-BFGS (and an early-stopped fit's choice) can carry into a different
    number of iterations.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import warnings

import numpy as np
from _provenance import git_describe, load_average

CAPS = [2048, 1024, 512, 256, 128]
AFFINE_CASES = [
    (n_samples, size, kind)
    for n_samples in (1000, 4000)
    for size in (5, 7, 10, 16)
    for kind in ("real", "complex")
]
FIT_CASES = ["franke_2000", "franke_10000", "digits"]


def _faults():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _time_evaluations(function, evals):
    """Best time (s) over ``evals`` calls and minor page faults per call."""
    for _ in range(2):
        function()
    before, best = _faults(), np.inf
    for _ in range(evals):
        tic = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - tic)
    return best, (_faults() - before) / evals


def _affine_loss(spec):
    from sklearn_pmm._core.eigh import ExecutionPolicy
    from sklearn_pmm._core.loss import SquaredError
    from sklearn_pmm._core.maps import AffineMap
    from sklearn_pmm._core.model import PMMModel
    from sklearn_pmm._core.readout import DecoderReadout

    rng = np.random.default_rng(0)
    X = rng.uniform(0.0, 1.0, (spec["n_samples"], 2))
    targets = np.sin(3.0 * X[:, :1]) * np.cos(2.0 * X[:, 1:])
    weights = np.ones(len(X))
    model = PMMModel(
        AffineMap(2, spec["size"], spec["kind"] == "complex"),
        DecoderReadout(n_outputs=1, n_eigenvectors=3),
    )
    theta = model.initial_parameters(np.random.RandomState(0))
    policy = ExecutionPolicy(chunk_size=spec["cap"])
    loss = SquaredError()
    return lambda: model.loss_gradient(theta, X, targets, weights, loss, 0.0, policy)


def _image_loss(spec):
    from bench_speed import image_loss_problem

    from sklearn_pmm._core.eigh import ExecutionPolicy

    _, _, _, loss = image_loss_problem()
    policy = ExecutionPolicy(chunk_size=spec["cap"])
    return lambda: loss(policy)


def _fit(spec):
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    from sklearn_pmm import PMMClassifier, PMMRegressor
    from sklearn_pmm._core.maps import AffineMap
    from sklearn_pmm.datasets import make_test_function

    AffineMap.max_chunk_rows = spec["cap"]
    if spec["case"] == "digits":
        X, y = load_digits(return_X_y=True)
        X, y = StandardScaler().fit_transform(X)[:1437], y[:1437]
        estimator = PMMClassifier(random_state=0)
    else:
        n_samples = int(spec["case"].split("_")[1])
        X, y = make_test_function(
            "franke", n_samples=n_samples, noise=0.1, random_state=0
        )
        pinned = {}
        if n_samples > 2000:
            pinned = dict(
                max_iter=30,
                tol=0.0,
                early_stopping=False,
                smoothness=0.0,
                n_restarts=0,
            )
        estimator = PMMRegressor(random_state=0, **pinned)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tic = time.perf_counter()
        estimator.fit(X, y)
        seconds = time.perf_counter() - tic
    return {"seconds": seconds, "n_iter": int(estimator.n_iter_)}


def worker(spec):
    """One measurement in this (fresh) process; prints a JSON line."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        if spec["task"] == "fit":
            result = _fit(spec)
        else:
            build = _image_loss if spec["task"] == "image" else _affine_loss
            best, faults = _time_evaluations(build(spec), spec["evals"])
            result = {"ms": best * 1e3, "faults": faults}
    print(json.dumps(result))


def run_fresh(spec):
    """``worker(spec)`` in a new Python process."""
    completed = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def cap_table(leading, alignment, rows, cell):
    """Markdown lines: the ``leading`` columns, then one column per cap."""
    lines = [
        f"| {leading} | " + " | ".join(f"{cap} rows" for cap in CAPS) + " |",
        f"|{alignment}|" + "---:|" * len(CAPS),
    ]
    for label, results in rows:
        lines.append(f"| {label} | " + " | ".join(map(cell, results)) + " |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument(
        "--evals", type=int, default=10, help="timed evaluations per cell"
    )
    parser.add_argument(
        "--quick", action="store_true", help="N = 1000 and n = 7 only, no fits"
    )
    parser.add_argument("--output", metavar="PATH", help="also write the report")
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return

    tic = time.perf_counter()
    header = [
        "# Rows per chunk: time and page faults",
        "",
        "Command: `python benchmarks/bench_chunks.py "
        + " ".join(sys.argv[1:] if argv is None else argv)
        + "`",
        "",
        f"Environment: Python {platform.python_version()} on {platform.platform()}; "
        f"{os.cpu_count()} CPUs; git {git_describe()}; load average "
        f"{load_average()} at start; every cell a fresh process, BLAS at one "
        "thread.",
        "",
    ]
    affine_cases = AFFINE_CASES
    if args.quick:
        affine_cases = [(1000, 7, "real"), (1000, 7, "complex")]
    loss_rows = []
    for n_samples, size, kind in affine_cases:
        results = [
            run_fresh(
                {
                    "task": "affine",
                    "n_samples": n_samples,
                    "size": size,
                    "kind": kind,
                    "cap": cap,
                    "evals": args.evals,
                }
            )
            for cap in CAPS
        ]
        loss_rows.append((f"affine | {n_samples} | {size} | {kind}", results))
        print(f"  done affine N={n_samples} n={size} {kind}", file=sys.stderr)
    results = [
        run_fresh({"task": "image", "cap": cap, "evals": args.evals}) for cap in CAPS
    ]
    loss_rows.append(("image PMM | 1257 | 6 | complex (10 per sample)", results))
    print("  done image PMM", file=sys.stderr)
    fit_rows = []
    if not args.quick:
        for case in FIT_CASES:
            results = [
                run_fresh({"task": "fit", "case": case, "cap": cap}) for cap in CAPS
            ]
            fit_rows.append((case, results))
            print(f"  done fit {case}", file=sys.stderr)

    body = [
        "## One loss-and-gradient evaluation",
        "",
        "Best ms of the timed evaluations (minor page faults per evaluation), "
        "by the cap on the rows of a chunk.",
        "",
        *cap_table(
            "model | N | n | H",
            "---|---:|---:|---",
            loss_rows,
            lambda result: f"{result['ms']:.1f} ({result['faults']:.0f})",
        ),
        "",
    ]
    if fit_rows:
        body += [
            "## Whole fits",
            "",
            "Seconds (iterations), by the cap on the rows of a chunk.",
            "",
            *cap_table(
                "fit",
                "---",
                fit_rows,
                lambda result: f"{result['seconds']:.2f} ({result['n_iter']})",
            ),
            "",
        ]
    body.append(
        f"Total time {time.perf_counter() - tic:.0f} s; load average at end "
        f"{load_average()}."
    )
    text = "\n".join(header + body) + "\n"
    print(text)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)


if __name__ == "__main__":
    main()
