# SPDX-License-Identifier: BSD-3-Clause
"""PMMImageClassifier settings on digits, chosen without the test images.

A benchmark, not a test.  The image benchmark's split
(``train_test_split(test_size=0.3, stratify=y, random_state=0)``: 1,257
training and 540 test digits) is split once more: the 1,257 training digits
into 942 for fitting and 315 for validation (``test_size=0.25``, stratified,
``random_state=0``).  Each setting (a JSON dictionary of
``PMMImageClassifier`` parameters, ``{}`` for the defaults) is fitted with
``random_state`` = each seed on the 942 and scored on the 315 ("inner"); with
``--held-out`` it is also fitted on all 1,257 and scored on the 540 test
digits.  Settings are compared on the mean inner accuracy over the seeds; the
held-out accuracy is reported for the chosen ones only, so that it stays a
test.  One thread (BLAS and the estimator), fits one after the other::

    python benchmarks/bench_image_settings.py \\
        --settings '[{}, {"alpha": 0.03, "latent_size": 10, "max_iter": 400}]' \\
        --held-out

Prints a Markdown table per fit (accuracy, wall time, iterations, trainable
floats, whether a ``ConvergenceWarning`` was raised) and a summary per
setting and split (mean, min and max over the seeds).
"""

import argparse
import json
import os
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from sklearn_pmm import PMMImageClassifier


def splits():
    """``{"inner": (fit X, fit y, score X, score y), "held-out": ...}``."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    X_fit, X_val, y_fit, y_val = train_test_split(
        X_train, y_train, test_size=0.25, stratify=y_train, random_state=0
    )
    return {
        "inner": (X_fit, y_fit, X_val, y_val),
        "held-out": (X_train, y_train, X_test, y_test),
    }


def run(setting, seed, data):
    X_fit, y_fit, X_score, y_score = data
    estimator = PMMImageClassifier(random_state=seed, **setting)
    with threadpool_limits(1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        tic = time.perf_counter()
        estimator.fit(X_fit, y_fit)
        seconds = time.perf_counter() - tic
    return {
        "accuracy": 100.0 * float(np.mean(estimator.predict(X_score) == y_score)),
        "seconds": seconds,
        "n_iter": int(estimator.n_iter_),
        "n_params": int(estimator.n_params_),
        "warned": any(issubclass(w.category, ConvergenceWarning) for w in caught),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--settings", default="[{}]", help="JSON list of settings")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--held-out", action="store_true", help="also fit on 1,257, score the 540"
    )
    args = parser.parse_args(argv)
    settings = json.loads(args.settings)
    data = splits()
    names = ["inner", "held-out"] if args.held_out else ["inner"]
    print(
        "| setting | split | seed | accuracy % | fit s | n_iter_ | floats "
        "| ConvergenceWarning |\n|---|---|---|---|---|---|---|---|"
    )
    results = []
    for setting in settings:
        for name in names:
            for seed in args.seeds:
                result = run(setting, seed, data[name])
                results.append((json.dumps(setting), name, result))
                print(
                    f"| `{json.dumps(setting)}` | {name} | {seed} "
                    f"| {result['accuracy']:.2f} | {result['seconds']:.1f} "
                    f"| {result['n_iter']} | {result['n_params']:,} "
                    f"| {'yes' if result['warned'] else 'no'} |",
                    flush=True,
                )
    print(
        "\n| setting | split | mean % | min % | max % | mean fit s | warned |"
        "\n|---|---|---|---|---|---|---|"
    )
    for setting in settings:
        for name in names:
            rows = [r for s, n, r in results if s == json.dumps(setting) and n == name]
            accuracy = np.array([r["accuracy"] for r in rows])
            print(
                f"| `{json.dumps(setting)}` | {name} | {accuracy.mean():.2f} "
                f"| {accuracy.min():.2f} | {accuracy.max():.2f} "
                f"| {np.mean([r['seconds'] for r in rows]):.0f} "
                f"| {sum(r['warned'] for r in rows)}/{len(rows)} |"
            )
    print(f"\nLoad average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
