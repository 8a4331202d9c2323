# SPDX-License-Identifier: BSD-3-Clause
"""PMMRegressor settings on the paper's 13 functions: a quick sweep, PMM only.

A benchmark, not a test.  For each seed and each JSON dictionary of
``PMMRegressor`` parameters, fits ``PMMRegressor(random_state=seed,
**setting)`` on ``make_test_function(name, random_state=seed)`` for the 13
functions of the paper, and prints a Markdown table of the normalised MAE on
the 100 x 100 test grid and the fit time (wall, ``time.perf_counter``) per
function, then the mean nMAE, the median fit time and the number of
functions on which the paper's PMM is beaten.  The protocol of
``bench_paper.py`` without the peers, to compare settings of the defaults::

    python benchmarks/bench_paper_pmm.py --settings '[{}, {"n_restarts": 1}]'

``--functions`` restricts the functions; ``--screening-window N`` sets the
regressor's private screening test (a candidate that will continue on every
row stops once its loss fell by less than 10 % over ``N`` iterations, see
``PMMRegressor._screening_progress``) for the whole run.
"""

import argparse
import json
import os
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sklearn_pmm import PMMRegressor
from sklearn_pmm.datasets import (
    PAPER_PMM_NMAE,
    TEST_FUNCTIONS,
    make_test_function,
    make_test_grid,
    normalized_mae,
)


def sweep(seed, setting, grid, functions):
    """Rows ``(name, nmae, fit s, warned)`` for one seed and one setting."""
    rows = []
    for name in functions:
        function = TEST_FUNCTIONS[name]
        X, y = make_test_function(name, random_state=seed)
        regressor = PMMRegressor(random_state=seed, **setting)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            tic = time.perf_counter()
            regressor.fit(X, y)
            fit_time = time.perf_counter() - tic
        nmae = normalized_mae(function(grid[:, 0], grid[:, 1]), regressor.predict(grid))
        rows.append((name, nmae, fit_time, bool(caught)))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument(
        "--settings", default="[{}]", help="JSON list of PMMRegressor parameters"
    )
    parser.add_argument(
        "--functions",
        nargs="+",
        choices=list(TEST_FUNCTIONS),
        default=list(TEST_FUNCTIONS),
        metavar="NAME",
    )
    parser.add_argument("--screening-window", type=int, metavar="N")
    args = parser.parse_args(argv)
    if args.screening_window is not None:
        PMMRegressor._screening_progress = (args.screening_window, 0.1)
    grid = make_test_grid(100)
    print(f"Load average at start: {os.getloadavg()}")
    print(f"Screening test: {PMMRegressor._screening_progress}\n")
    for setting in json.loads(args.settings):
        for seed in args.seeds:
            rows = sweep(seed, setting, grid, args.functions)
            print(f"## `{setting}`, seed {seed}\n")
            print("| function | nMAE | paper PMM | fit s | ConvergenceWarning |")
            print("|---|---|---|---|---|")
            for name, nmae, fit_time, warned in rows:
                print(
                    f"| {name} | {nmae:.3e} | {PAPER_PMM_NMAE[name]:.2e} "
                    f"| {fit_time:.1f} | {warned} |"
                )
            nmaes = [row[1] for row in rows]
            wins = sum(nmae < PAPER_PMM_NMAE[name] for name, nmae, *_ in rows)
            print(
                f"\nMean nMAE {np.mean(nmaes):.3e}; median fit "
                f"{np.median([row[2] for row in rows]):.1f} s (total "
                f"{sum(row[2] for row in rows):.0f} s); beats the paper's "
                f"PMM on {wins}/{len(rows)}.\n",
                flush=True,
            )
    print(f"Load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
