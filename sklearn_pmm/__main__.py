# SPDX-License-Identifier: BSD-3-Clause
"""Demo: fit PMMRegressor on the paper's 2-D test functions and compare.

Run ``python -m sklearn_pmm`` (or ``sklearn-pmm-demo``).  For each function it
draws 200 training points uniform on [0, 1)^2 with ``numpy.random.default_rng``
(seed 0 by default), fits a default ``PMMRegressor(random_state=0)`` on the raw
features, and prints the normalised mean absolute error on the 100 x 100 test
grid beside the paper's PMM, with the fit time and the number of trainable
floats.
"""

import argparse
import sys
import time
import warnings

from sklearn.exceptions import ConvergenceWarning

from sklearn_pmm import PMMRegressor
from sklearn_pmm.datasets import (
    _TEST_FUNCTION_LOOKUP,
    PAPER_PMM_NMAE,
    TEST_FUNCTIONS,
    _normalize_name,
    make_test_function,
    make_test_grid,
    normalized_mae,
)


def main(argv=None):
    """Run the demo and print the comparison table.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; ``None`` reads ``sys.argv``.

    Returns
    -------
    None
        The ``sklearn-pmm-demo`` script exits with status 0 (2 for a usage
        error, through :mod:`argparse`).
    """
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_pmm",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Example: python -m sklearn_pmm --functions all --seed 1",
    )
    parser.add_argument(
        "--functions",
        default="Franke,Cliff,Runge",
        help="comma-separated test functions, or 'all' (default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the 200 training points (default: 0); the model's "
        "random_state stays 0",
    )
    args = parser.parse_args(argv)
    names = (
        list(TEST_FUNCTIONS)
        if args.functions.lower() == "all"
        else [_function_key(parser, name) for name in args.functions.split(",")]
    )
    grid = make_test_grid(100)
    print(
        "PMMRegressor(random_state=0) on the paper's protocol "
        f"(200 points, seed {args.seed}; normalised MAE on a 100x100 grid)\n"
    )
    print(f"{'function':<16}{'ours':>10}{'paper PMM':>11}{'fit (s)':>9}{'floats':>8}")
    results = {}
    for key in names:
        X, y = make_test_function(key, random_state=args.seed)
        truth = TEST_FUNCTIONS[key](grid[:, 0], grid[:, 1])
        if sys.stdout.isatty():  # a progress line, overwritten by the result
            print(f"{key:<16}fitting ...", end="\r", flush=True)
        tic = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model = PMMRegressor(random_state=0).fit(X, y)
        elapsed = time.perf_counter() - tic
        error = normalized_mae(truth, model.predict(grid))
        results[key] = error
        converged = not any(
            issubclass(warning.category, ConvergenceWarning) for warning in caught
        )
        note = "" if converged else "  (did not converge)"
        print(
            f"{key:<16}{error:>10.2e}{PAPER_PMM_NMAE[key]:>11.2e}"
            f"{elapsed:>9.1f}{model.n_params_:>8}{note}"
        )
    wins = sum(results[k] < PAPER_PMM_NMAE[k] for k in results)
    print(f"\nbeats the paper's PMM on {wins} of {len(results)} functions")


def _function_key(parser, name):
    """The key of :data:`TEST_FUNCTIONS` that ``name`` spells, else a usage error."""
    key = _TEST_FUNCTION_LOOKUP.get(_normalize_name(name))
    if key is not None:
        return key
    valid = ", ".join(repr(key) for key in TEST_FUNCTIONS)
    parser.error(
        f"unknown test function {name.strip()!r}; valid names (case-insensitive, "
        f"'_' or '-' may replace spaces, or 'all'): {valid}"
    )


if __name__ == "__main__":
    main()
