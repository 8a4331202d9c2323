# SPDX-License-Identifier: BSD-3-Clause
"""Cross-validated accuracy of PMMClassifier settings: how the defaults were chosen.

A benchmark, not a test.  For one of scikit-learn's classification data sets
and a JSON list of parameter dictionaries, each setting is fitted as
``make_pipeline(StandardScaler(), PMMClassifier(random_state=0, **setting))``
in 5-fold ``StratifiedKFold(shuffle=True, random_state=0)`` cross-validation,
the same folds and pipeline as ``bench_tabular.py``, and one line per setting
is printed: the mean accuracy, the per-fold accuracies, the mean fit time
and the L-BFGS iterations of every fold.  The folds run on ``--n-jobs``
processes, BLAS capped at one thread::

    python benchmarks/bench_settings.py digits '[{}, {"hermitian": "complex"}]'

A difference of one or two test rows is within the noise of one split;
``--cv-seeds 0,1,2,3`` repeats the cross-validation with those shuffle seeds
(the estimator's ``random_state`` stays 0), prints one line per seed and then
the mean over the seeds with the misclassified rows of each.
"""

import argparse
import json
import time

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_pmm import PMMClassifier

LOADERS = {
    "iris": load_iris,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
    "digits": load_digits,
}


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dataset", choices=sorted(LOADERS))
    parser.add_argument("settings", help="JSON list of PMMClassifier parameters")
    parser.add_argument("--n-jobs", type=int, default=2, help="processes over folds")
    parser.add_argument(
        "--cv-seeds",
        default="0",
        help="comma-separated shuffle seeds of the folds (default 0)",
    )
    args = parser.parse_args(argv)
    X, y = LOADERS[args.dataset](return_X_y=True)
    cv_seeds = [int(seed) for seed in args.cv_seeds.split(",")]
    for setting in json.loads(args.settings):
        accuracies, errors = [], []
        for cv_seed in cv_seeds:
            tic = time.perf_counter()
            folds = StratifiedKFold(5, shuffle=True, random_state=cv_seed)
            classifier = PMMClassifier(random_state=0, **setting)
            model = make_pipeline(StandardScaler(), classifier)
            with threadpool_limits(1):
                result = cross_validate(
                    model, X, y, cv=folds, n_jobs=args.n_jobs, return_estimator=True
                )
            accuracy = 100 * result["test_score"]
            accuracies.append(accuracy.mean())
            test_sizes = [len(test) for _, test in folds.split(X, y)]
            errors.append(round(np.dot(1 - result["test_score"], test_sizes)))
            iterations = [pipeline[-1].n_iter_ for pipeline in result["estimator"]]
            seed_label = f" cv_seed={cv_seed}" if len(cv_seeds) > 1 else ""
            print(
                f"{args.dataset} {setting}{seed_label} acc={accuracy.mean():.2f} "
                f"folds={np.round(accuracy, 1).tolist()} "
                f"fit={np.mean(result['fit_time']):.1f}s its={iterations} "
                f"wall={time.perf_counter() - tic:.0f}s",
                flush=True,
            )
        if len(cv_seeds) > 1:
            print(
                f"{args.dataset} {setting} mean over cv seeds {cv_seeds}: "
                f"acc={np.mean(accuracies):.2f} misclassified={errors}",
                flush=True,
            )


if __name__ == "__main__":
    main()
