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
    args = parser.parse_args(argv)
    X, y = LOADERS[args.dataset](return_X_y=True)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    for setting in json.loads(args.settings):
        tic = time.perf_counter()
        classifier = PMMClassifier(random_state=0, **setting)
        model = make_pipeline(StandardScaler(), classifier)
        with threadpool_limits(1):
            result = cross_validate(
                model, X, y, cv=folds, n_jobs=args.n_jobs, return_estimator=True
            )
        accuracy = 100 * result["test_score"]
        iterations = [pipeline[-1].n_iter_ for pipeline in result["estimator"]]
        print(
            f"{args.dataset} {setting} acc={accuracy.mean():.2f} "
            f"folds={np.round(accuracy, 1).tolist()} "
            f"fit={np.mean(result['fit_time']):.1f}s its={iterations} "
            f"wall={time.perf_counter() - tic:.0f}s",
            flush=True,
        )


if __name__ == "__main__":
    main()
