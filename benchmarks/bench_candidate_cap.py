# SPDX-License-Identifier: BSD-3-Clause
"""When can a fit abandon its converged candidate?  The trails that set the cap.

A benchmark, not a test.  With early stopping, every start of a PMM fit
runs two candidates (see ``_BasePMM._run_solver``): the smooth one, which
stops early on the validation split, and the converged one, the unpenalised
fit run to convergence, which wins only if its final validation loss is
lower.  On noisy data it almost never does, and it costs most of the fit.
``_LosingCandidate`` abandons it once its lowest validation loss so far is
no lower than the smooth candidate's and has not fallen for ``patience``
iterations.

This script records, for the default estimators on the paper's 13 functions
(seeds 0 and 1) and on the folds of ``bench_tabular.py`` (diabetes,
friedman1, iris, wine, breast_cancer, digits; 5-fold, shuffle seed 0,
``StandardScaler``; the default classifier fits every row since commit
5a20c3f, so its groups now record no candidate), the validation loss after
every iteration of every converged candidate and the smooth candidate's
loss it has to beat.  It does
so by replacing ``_LosingCandidate`` with a recorder that never stops, so
the fits are those without a cap.  It then replays the rule for several
patiences and prints, per group of fits, how many candidates there were,
how many won, their iterations with and without the cap, and how many
winners the cap would have abandoned::

    python benchmarks/bench_candidate_cap.py \
        --output benchmarks/results/candidate_cap.md

The fits run in ``--n-jobs`` worker processes, each of which puts the
recorder in place in its own copy of the package; BLAS is capped at one
thread.
"""

import argparse
import multiprocessing
import platform
import time
from collections import defaultdict

import numpy as np
import scipy
import sklearn
from _provenance import git_describe, load_average
from bench_tabular import DATASETS
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import sklearn_pmm
from sklearn_pmm import PMMClassifier, PMMRegressor
from sklearn_pmm._base import estimator as estimator_base
from sklearn_pmm.datasets import TEST_FUNCTIONS, make_test_function

PATIENCES = (10, 25, 50, 100, 200)

_trails = []


class _Recorder:
    """Stands in for ``_LosingCandidate``: records, never stops."""

    def __init__(self, validate, rival_loss, patience):
        self.validate = validate
        self.trail = {"rival": float(rival_loss), "losses": []}
        _trails.append(self.trail)
        self.last_score = None

    def __call__(self, theta):
        loss, self.last_score = self.validate(theta)
        self.trail["losses"].append(float(loss))
        return False


def _fit_case(case):
    """Fit one case; returns ``(group, [trail, ...])``."""
    group, name, index = case
    estimator_base._LosingCandidate = _Recorder
    _trails.clear()
    with threadpool_limits(limits=1):
        if group.startswith("paper"):
            X, y = make_test_function(name, random_state=index)
            PMMRegressor(random_state=index).fit(X, y)
        else:
            task, load = DATASETS[name]
            X, y = load()
            if task == "regression":
                splitter, estimator = KFold, PMMRegressor
            else:
                splitter, estimator = StratifiedKFold, PMMClassifier
            folds = splitter(5, shuffle=True, random_state=0).split(X, y)
            train, _ = list(folds)[index]
            model = make_pipeline(StandardScaler(), estimator(random_state=0))
            model.fit(X[train], y[train])
    return group, list(_trails)


def abandoned_at(trail, patience):
    """The iteration at which the cap stops a candidate, or ``None``."""
    best, no_improvement = np.inf, 0
    for iteration, loss in enumerate(trail["losses"], start=1):
        if loss < best:
            best, no_improvement = loss, 0
        else:
            no_improvement += 1
        if no_improvement >= patience and best >= trail["rival"]:
            return iteration
    return None


def summary_rows(trails_by_group):
    rows = []
    for patience in PATIENCES:
        for group, trails in trails_by_group.items():
            won = iterations = capped = abandoned_winners = 0
            for trail in trails:
                # The candidate wins on its final validation loss.
                wins = trail["losses"][-1] < trail["rival"]
                stop = abandoned_at(trail, patience)
                won += wins
                iterations += len(trail["losses"])
                capped += stop or len(trail["losses"])
                abandoned_winners += bool(stop and wins)
            counts = (len(trails), won, iterations, capped, abandoned_winners)
            rows.append((patience, group, *counts))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--n-jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--output", help="also write the report to this file")
    args = parser.parse_args(argv)
    cases = [
        (f"paper seed {seed}", name, seed) for seed in (0, 1) for name in TEST_FUNCTIONS
    ]
    cases += [(name, name, fold) for name in DATASETS for fold in range(5)]
    load_at_start = load_average()
    tic = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.n_jobs) as pool:
        results = pool.map(_fit_case, cases, chunksize=1)
    elapsed = time.perf_counter() - tic
    trails_by_group = defaultdict(list)
    for group, trails in results:
        trails_by_group[group].extend(trails)
    n_trails = sum(len(trails) for trails in trails_by_group.values())
    lines = [
        "# Converged candidates: when the cap would abandon them",
        "",
        "Command: `python benchmarks/bench_candidate_cap.py "
        "--output benchmarks/results/candidate_cap.md`",
        "",
        f"Environment: Python {platform.python_version()}, NumPy {np.__version__}, "
        f"SciPy {scipy.__version__}, scikit-learn {sklearn.__version__}; "
        f"git {git_describe()}; sklearn_pmm {sklearn_pmm.__version__}; "
        f"{args.n_jobs} worker processes, BLAS 1 thread; load average "
        f"{load_at_start} at start; {elapsed:.0f} s.",
        "",
        f"{n_trails} converged candidates (one per start and fit) of the default "
        "estimators, recorded without a cap; see the docstring of "
        "`benchmarks/bench_candidate_cap.py`.  *Won*: its final validation loss "
        "beat the smooth candidate's.  *Iterations*: summed over the candidates, "
        "without and with the cap.  *Winners abandoned*: candidates that won but "
        "that the cap would have stopped (a safe patience has none).",
        "",
        "| patience | fits | candidates | won | iterations | with the cap | "
        "winners abandoned |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    rows = summary_rows(trails_by_group)
    for patience, group, count, won, iterations, capped, lost in rows:
        lines.append(
            f"| {patience} | {group} | {count} | {won} | {iterations:,} | "
            f"{capped:,} ({capped / iterations:.0%}) | {lost} |"
        )
    safe = [
        patience
        for patience in PATIENCES
        if not any(row[-1] for row in rows if row[0] == patience)
    ]
    lines += [
        "",
        f"Smallest patience that abandons no winner: {min(safe)}."
        if safe
        else "Every patience abandons a winner.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.output:
        with open(args.output, "w") as file:
            file.write(report)


if __name__ == "__main__":
    main()
