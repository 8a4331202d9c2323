# SPDX-License-Identifier: BSD-3-Clause
"""Loss-and-gradient time of this engine against the engine of an earlier commit.

A benchmark, not a test: it checks that a refactor did not make the hot path
slower.  It extracts ``sklearn_pmm`` of ``--commit`` with ``git archive`` into
a temporary directory under another package name, builds the same affine
decoder PMM in both (``p = 2`` features, ``r = 3``), checks that both give the
same loss and gradient, and times one loss-and-gradient evaluation of each in
interleaved rounds (best of ``--repeats``), with BLAS at one thread::

    python benchmarks/bench_engine_vs_commit.py --commit 829c511 \\
        --output benchmarks/results/engine_vs_829c511.md

Only the commits whose ``sklearn_pmm._loss.PMMModel`` has the positional
signature ``(n_features, n_outputs, matrix_size, n_eigenvectors, readout,
n_decoders, which, complex_valued)`` (before the pluggable engine) are
supported.
"""

import argparse
import functools
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time

import numpy as np
from threadpoolctl import threadpool_limits

from sklearn_pmm._core.eigh import ExecutionPolicy
from sklearn_pmm._core.loss import SquaredError
from sklearn_pmm._core.maps import AffineMap
from sklearn_pmm._core.model import PMMModel
from sklearn_pmm._core.readout import DecoderReadout


def import_old_engine(commit, directory):
    """``sklearn_pmm._loss`` of ``commit``, imported as ``sklearn_pmm_old._loss``."""
    archive = subprocess.run(
        ["git", "archive", commit, "sklearn_pmm"],
        check=True,
        capture_output=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(directory, filter="data")
    old = os.path.join(directory, "sklearn_pmm_old")
    os.rename(os.path.join(directory, "sklearn_pmm"), old)
    for name in os.listdir(old):
        if name.endswith(".py"):
            path = os.path.join(old, name)
            text = open(path).read()
            text = re.sub(r"\bsklearn_pmm\b", "sklearn_pmm_old", text)
            open(path, "w").write(text)
    sys.path.insert(0, directory)
    import sklearn_pmm_old._loss as old_loss

    return old_loss


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commit", required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 7, 10])
    parser.add_argument("--samples", type=int, nargs="+", default=[200, 1000, 10000])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--output")
    args = parser.parse_args(argv)
    lines = [
        f"# Engine loss+gradient time against commit {args.commit}",
        "",
        f"Command: `python benchmarks/bench_engine_vs_commit.py --commit "
        f"{args.commit}{' --output ' + args.output if args.output else ''}`; "
        f"load average at start {os.getloadavg()[0]:.2f}.",
        "",
        "| N | n | H | old ms | new ms | new/old | identical |",
        "|---:|---:|---|---:|---:|---:|---|",
    ]
    with tempfile.TemporaryDirectory() as directory:
        old_loss = import_old_engine(args.commit, directory)
        for n_samples in args.samples:
            for size in args.sizes:
                for complex_valued in (False, True):
                    rng = np.random.default_rng(0)
                    X = rng.uniform(size=(n_samples, 2))
                    targets = np.sin(X.sum(axis=1))[:, None]
                    weights = np.ones(n_samples)
                    old = old_loss.PMMModel(
                        2, 1, size, 3, "decoder", None, "lowest", complex_valued
                    )
                    new = PMMModel(
                        AffineMap(2, size, complex_valued),
                        DecoderReadout(n_outputs=1, n_eigenvectors=3),
                    )
                    theta = new.initial_parameters(np.random.RandomState(0))
                    policy = ExecutionPolicy()

                    old_call = functools.partial(
                        old.loss_gradient,
                        theta,
                        X,
                        targets,
                        weights,
                        old_loss.SquaredError(),
                        0.0,
                    )
                    new_call = functools.partial(
                        new.loss_gradient,
                        theta,
                        X,
                        targets,
                        weights,
                        SquaredError(),
                        0.0,
                        policy,
                    )
                    a, b = old_call(), new_call()
                    same = a[0] == b[0] and np.array_equal(a[1], b[1])
                    best = {"old": np.inf, "new": np.inf}
                    with threadpool_limits(1, "blas"):
                        for _ in range(max(args.repeats, 20000 // n_samples)):
                            for key, call in (("old", old_call), ("new", new_call)):
                                tic = time.perf_counter()
                                call()
                                best[key] = min(best[key], time.perf_counter() - tic)
                    kind = "complex" if complex_valued else "real"
                    lines.append(
                        f"| {n_samples} | {size} | {kind} | {best['old'] * 1e3:.2f} | "
                        f"{best['new'] * 1e3:.2f} | {best['new'] / best['old']:.3f} | "
                        f"{'yes' if same else 'NO'} |"
                    )
                    print(lines[-1], flush=True)
    lines += ["", f"Load average at end {os.getloadavg()[0]:.2f}."]
    text = "\n".join(lines) + "\n"
    if args.output:
        with open(args.output, "w") as handle:
            handle.write(text)
    print(text)


if __name__ == "__main__":
    main()
