# SPDX-License-Identifier: BSD-3-Clause
"""Cross-validated scores of PMM settings: how the defaults were chosen.

A benchmark, not a test.  For one of scikit-learn's classification data sets
and a JSON list of parameter dictionaries, each setting is fitted as
``make_pipeline(StandardScaler(), PMMClassifier(random_state=0, **setting))``
in 5-fold ``StratifiedKFold(shuffle=True, random_state=0)`` cross-validation,
the same folds and pipeline as ``bench_tabular.py``, and one line per setting
is printed: the mean accuracy, the per-fold accuracies, the mean fit time
and the L-BFGS iterations of every fold.  The folds run on ``--n-jobs``
processes, BLAS capped at one thread::

    python benchmarks/bench_settings.py digits '[{}, {"hermitian": "complex"}]'

The data sets are those of ``bench_tabular.py``; its regression ones
(``diabetes``, ``friedman1``) fit ``PMMRegressor`` in ``KFold`` and print :math:`R^2`
instead of accuracy.  Three more are the two-dimensional problems of
``examples/plot_classifier_boundaries.py``, whose class boundaries are curved
where those of the four tabular sets are nearly linear: ``moons``
(``make_moons(300, noise=0.3, random_state=0)``) and ``circles``
(``make_circles(300, noise=0.2, factor=0.5, random_state=1)``) and ``xor``
(300 points uniform on the square :math:`[-1, 1]^2`, the class the sign of
:math:`x_1 x_2`).

A difference of one or two test rows is within the noise of one split;
``--cv-seeds 0,1,2,3`` repeats the cross-validation with those shuffle seeds
(the estimator's ``random_state`` stays 0), prints one line per seed and then
the mean over the seeds with the misclassified rows (the :math:`R^2`, for
regression) of each.

With ``--committee`` each setting holds ``PMMClassifierCV`` (``PMMRegressorCV``)
parameters instead, and the members are ``PMMClassifier(random_state=seed)``
(``PMMRegressor``) for fold seed ``seed``, as in ``bench_tabular.py``: the
``{}`` line of a seed is ``bench_tabular.py``'s committee row for that seed::

    python benchmarks/bench_settings.py wine '[{"n_estimators": 10}]' --committee

With ``--logistic`` each setting holds ``LogisticRegression`` parameters
instead (classification only), for the peer at fixed settings on the same
folds, where ``bench_tabular.py`` tunes it by nested grid search::

    python benchmarks/bench_settings.py wine '[{"C": 1.0}, {"C": 0.1}]' --logistic
"""

import argparse
import json
import time

import numpy as np
from bench_tabular import DATASETS
from sklearn.datasets import make_circles, make_moons
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_pmm import PMMClassifier, PMMClassifierCV, PMMRegressor, PMMRegressorCV


def _xor(n_samples=300, random_state=0):
    X = np.random.default_rng(random_state).uniform(-1.0, 1.0, (n_samples, 2))
    return X, (X[:, 0] * X[:, 1] > 0).astype(int)


# The data of examples/plot_classifier_boundaries.py.
SETTINGS_DATASETS = {
    **DATASETS,
    "moons": (
        "classification",
        lambda: make_moons(n_samples=300, noise=0.3, random_state=0),
    ),
    "circles": (
        "classification",
        lambda: make_circles(n_samples=300, noise=0.2, factor=0.5, random_state=1),
    ),
    "xor": ("classification", _xor),
}


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dataset", choices=sorted(SETTINGS_DATASETS))
    parser.add_argument(
        "settings",
        help="JSON list of PMMClassifier (PMMRegressor) parameters, or of the "
        "committee's with --committee",
    )
    parser.add_argument("--n-jobs", type=int, default=2, help="processes over folds")
    parser.add_argument(
        "--cv-seeds",
        default="0",
        help="comma-separated shuffle seeds of the folds (default 0)",
    )
    parser.add_argument(
        "--committee",
        action="store_true",
        help="settings of PMMClassifierCV (PMMRegressorCV) with default members",
    )
    parser.add_argument(
        "--logistic",
        action="store_true",
        help="settings of LogisticRegression (classification data sets only)",
    )
    args = parser.parse_args(argv)
    task, load = SETTINGS_DATASETS[args.dataset]
    regression = task == "regression"
    if args.logistic and (regression or args.committee):
        parser.error("--logistic takes a classification data set, without --committee")
    if regression:
        folds_class, single, committee = KFold, PMMRegressor, PMMRegressorCV
    else:
        folds_class, single, committee = (
            StratifiedKFold,
            PMMClassifier,
            PMMClassifierCV,
        )
    X, y = load()
    cv_seeds = [int(seed) for seed in args.cv_seeds.split(",")]
    for setting in json.loads(args.settings):
        seed_means, per_seed = [], []
        for cv_seed in cv_seeds:
            tic = time.perf_counter()
            folds = folds_class(5, shuffle=True, random_state=cv_seed)
            if args.committee:
                estimator = committee(single(random_state=cv_seed), **setting)
            elif args.logistic:
                estimator = LogisticRegression(**setting)
            else:
                estimator = single(random_state=0, **setting)
            model = make_pipeline(StandardScaler(), estimator)
            with threadpool_limits(1):
                result = cross_validate(
                    model, X, y, cv=folds, n_jobs=args.n_jobs, return_estimator=True
                )
            if regression:
                label, scores, decimals = "r2", result["test_score"], 3
                per_seed.append(round(float(scores.mean()), 4))
            else:
                label, scores, decimals = "acc", 100 * result["test_score"], 1
                test_sizes = [len(test) for _, test in folds.split(X, y)]
                per_seed.append(round(np.dot(1 - result["test_score"], test_sizes)))
            seed_means.append(scores.mean())
            fitted = [pipeline[-1] for pipeline in result["estimator"]]
            if args.committee:  # the members' iterations, summed per fold
                iterations = [
                    sum(member.n_iter_ for member in step.estimators_)
                    for step in fitted
                ]
            else:  # LogisticRegression's n_iter_ is an array of one
                iterations = [int(np.max(step.n_iter_)) for step in fitted]
            seed_label = f" cv_seed={cv_seed}" if len(cv_seeds) > 1 else ""
            mean = f"{scores.mean():.4f}" if regression else f"{scores.mean():.2f}"
            print(
                f"{args.dataset} {setting}{seed_label} {label}={mean} "
                f"folds={np.round(scores, decimals).tolist()} "
                f"fit={np.mean(result['fit_time']):.1f}s its={iterations} "
                f"wall={time.perf_counter() - tic:.0f}s",
                flush=True,
            )
        if len(cv_seeds) > 1:
            summary = (
                f"r2={np.mean(seed_means):.4f} per seed={per_seed}"
                if regression
                else f"acc={np.mean(seed_means):.2f} misclassified={per_seed}"
            )
            print(
                f"{args.dataset} {setting} mean over cv seeds {cv_seeds}: {summary}",
                flush=True,
            )


if __name__ == "__main__":
    main()
