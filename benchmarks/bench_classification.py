# SPDX-License-Identifier: BSD-3-Clause
"""Tabular classification: PMMClassifier against tuned scikit-learn peers.

This is a benchmark, not a test: it asserts nothing.  It prints a Markdown
report on stdout (progress goes to stderr) and writes a decision-boundary
figure.  Run it from the repository root with the package importable
(``pip install -e .``, or prefix with ``PYTHONPATH=.``)::

    python benchmarks/bench_classification.py > benchmarks/results/classification.md
    python benchmarks/bench_classification.py --datasets iris,wine
    python benchmarks/bench_classification.py --quick --figure /tmp/boundaries.png

The full run takes roughly 15-30 minutes on a 2-core machine, most of it in
the MLP and SVC grid searches and the PMM fits on digits.

Protocol
--------
The four classification datasets that ship with scikit-learn: iris (150 x 4,
3 classes), wine (178 x 13, 3), breast_cancer (569 x 30, 2) and digits
(1797 x 64, 10).  Every model is a ``Pipeline`` of a ``StandardScaler`` and
the classifier, scored by 5-fold ``StratifiedKFold(shuffle=True,
random_state=seed)`` cross-validation: mean test accuracy, mean test log-loss
(probabilities clipped by scikit-learn's ``log_loss``) and the mean over the
folds of the columns below.

Models
------
``PMM``
    ``PMMClassifier(random_state=seed)`` with whatever its defaults are.
``PMM tuned``
    ``GridSearchCV`` (inner 3-fold stratified) over ``alpha`` in {1e-3, 1e-2}
    and the readout: the decoder PMM (``readout="decoder"``), or the affine
    eigenvalue PMM
    (``readout="eigenvalues"``, ``n_eigenvectors`` = number of classes,
    ``matrix_size`` = classes + 1, at least 4).  Run on the datasets with at
    most three classes only (on digits its 65 fits would take about half an
    hour; ``--tune-all`` runs it everywhere).
``LR``
    ``LogisticRegression(max_iter=5000)``, ``C`` in {0.01, 0.1, 1, 10, 100},
    inner 5-fold.
``MLP``
    ``MLPClassifier(max_iter=2000)`` (adam), ``hidden_layer_sizes`` in
    {(32,), (100,)} x ``alpha`` in {1e-4, 1e-2, 1}, inner 3-fold.
``SVC``
    RBF ``SVC``, ``C`` in {0.1, 1, 10, 100} x ``gamma`` in {"scale", 0.01,
    0.1}, inner 3-fold.  Its accuracy is that of the refitted SVC.  For the
    log-loss the chosen pipeline is wrapped in
    ``CalibratedClassifierCV(..., ensemble=False)`` (Platt scaling on
    cross-validated decision values, then one SVC on the whole training
    fold), which is what ``SVC(probability=True)`` did before its
    deprecation in scikit-learn 1.9.

Columns
-------
accuracy, log-loss
    Mean over the outer folds (and the standard deviation of the accuracy).
trainable floats
    The real numbers the fitted classifier stores and uses to predict (the
    ``StandardScaler``'s 2p floats are common to every row and not counted;
    the PMM folds any standardisation into its matrices anyway):

    * PMM: ``n_params_``;
    * LR: ``coef_`` + ``intercept_``;
    * MLP: all ``coefs_`` and ``intercepts_``;
    * SVC: support vectors (n_SV x p) + ``dual_coef_`` + ``intercept_``, plus
      two Platt parameters per calibrated class for the probabilities.

    A tuned model's count can differ between folds; the mean is shown.
fit s
    Wall time of one ``fit`` of the final model on an outer training fold
    (``time.perf_counter``); for tuned models the refit with the chosen
    hyperparameters (``GridSearchCV.refit_time_``).  The whole search per
    fold (and, for SVC, the calibration) is in "search s".

All fits run with BLAS/OpenMP capped at one thread (``threadpoolctl``;
``PMMClassifier.fit`` caps itself the same way): on a small shared machine
the default thread pools make timings of small problems meaningless.

Targets (issue 4): on every dataset, the PMM within 0.5 percentage point of
the better of LR and MLP in accuracy, with fewer trainable floats than the
tuned MLP; digits fits in at most 60 s.  The report ends with that verdict.

Figure
------
``--figure`` (default ``benchmarks/results/classification_boundaries.png``):
the default PMM beside a default ``MLPClassifier(max_iter=2000)`` (each after
a ``StandardScaler``) on two-moons and circles (300 points, 2/3 for training),
the probability of class 1 as a colour map with the 0.5 contour, training
points and the test accuracy.
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    make_circles,
    make_moons,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

from sklearn_pmm._estimators.classifier import PMMClassifier

DATASETS = {
    "iris": load_iris,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
    "digits": load_digits,
}
MODELS = ("pmm", "pmm-tuned", "lr", "mlp", "svc")
LABELS = {
    "pmm": "PMM (default)",
    "pmm-tuned": "PMM (tuned)",
    "lr": "LogisticRegression",
    "mlp": "MLPClassifier",
    "svc": "SVC (RBF)",
}
DEFAULT_FIGURE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "results",
    "classification_boundaries.png",
)


def _pipe(estimator):
    return Pipeline([("scale", StandardScaler()), ("clf", estimator)])


def make_model(key, seed, n_classes, quick):
    """The (possibly grid-searched) pipeline of one model."""
    inner = StratifiedKFold(3, shuffle=True, random_state=seed)
    if key == "pmm":
        params = dict(max_iter=30) if quick else {}
        return _pipe(PMMClassifier(random_state=seed, **params))
    if key == "pmm-tuned":
        base = dict(max_iter=30) if quick else {}
        alphas = [1e-3] if quick else [1e-3, 1e-2]
        grid = [
            {"clf__alpha": alphas, "clf__readout": ["decoder"]},
            {
                "clf__alpha": alphas,
                "clf__readout": ["eigenvalues"],
                "clf__n_eigenvectors": [n_classes],
                "clf__matrix_size": [max(4, n_classes + 1)],
            },
        ]
        return GridSearchCV(
            _pipe(PMMClassifier(random_state=seed, **base)), grid, cv=inner
        )
    if key == "lr":
        grid = {"clf__C": [1.0] if quick else [0.01, 0.1, 1.0, 10.0, 100.0]}
        return GridSearchCV(
            _pipe(LogisticRegression(max_iter=5000)),
            grid,
            cv=StratifiedKFold(5, shuffle=True, random_state=seed),
        )
    if key == "mlp":
        grid = {
            "clf__hidden_layer_sizes": [(32,)] if quick else [(32,), (100,)],
            "clf__alpha": [1e-4] if quick else [1e-4, 1e-2, 1.0],
        }
        return GridSearchCV(
            _pipe(MLPClassifier(max_iter=200 if quick else 2000, random_state=seed)),
            grid,
            cv=inner,
        )
    if key == "svc":
        grid = {
            "clf__C": [1.0] if quick else [0.1, 1.0, 10.0, 100.0],
            "clf__gamma": ["scale"] if quick else ["scale", 0.01, 0.1],
        }
        return GridSearchCV(_pipe(SVC(random_state=seed)), grid, cv=inner)
    raise ValueError(key)


def count_floats(classifier):
    """Trainable real numbers of a fitted classifier (see the module docstring)."""
    if isinstance(classifier, PMMClassifier):
        return classifier.n_params_
    if isinstance(classifier, LogisticRegression):
        return classifier.coef_.size + classifier.intercept_.size
    if isinstance(classifier, MLPClassifier):
        return sum(c.size for c in classifier.coefs_) + sum(
            b.size for b in classifier.intercepts_
        )
    if isinstance(classifier, SVC):
        return (
            classifier.support_vectors_.size
            + classifier.dual_coef_.size
            + classifier.intercept_.size
        )
    raise TypeError(type(classifier).__name__)


def _short_params(params):
    return ", ".join(
        f"{k.removeprefix('clf__')}={v}" for k, v in sorted(params.items())
    )


def fit_fold(key, model, X_train, y_train, X_test, y_test, seed):
    """Fit one outer fold; returns the scores, floats, times and choice."""
    tic = time.perf_counter()
    model.fit(X_train, y_train)
    search_time = time.perf_counter() - tic
    chosen = ""
    if isinstance(model, GridSearchCV):
        chosen = _short_params(model.best_params_)
        fit_time = model.refit_time_
        final = model.best_estimator_
    else:
        final, fit_time = model, search_time
    classifier = final.named_steps["clf"]
    floats = count_floats(classifier)
    if key == "svc":
        calibrated = CalibratedClassifierCV(
            clone(final),
            ensemble=False,
            cv=StratifiedKFold(5, shuffle=True, random_state=seed),
        )
        tic = time.perf_counter()
        calibrated.fit(X_train, y_train)
        search_time += time.perf_counter() - tic
        proba = calibrated.predict_proba(X_test)
        floats += 2 * len(calibrated.calibrated_classifiers_[0].calibrators)
    else:
        proba = final.predict_proba(X_test)
    return {
        "accuracy": accuracy_score(y_test, final.predict(X_test)),
        "log_loss": log_loss(y_test, proba, labels=classifier.classes_),
        "floats": floats,
        "fit_time": fit_time,
        "search_time": search_time,
        "chosen": chosen,
        "n_iter": getattr(classifier, "n_iter_", np.nan),
    }


def run_dataset(name, models, seed, quick, tune_all, start):
    X, y = DATASETS[name](return_X_y=True)
    n_classes = len(np.unique(y))
    outer = StratifiedKFold(5, shuffle=True, random_state=seed)
    results = {}
    for key in models:
        if key == "pmm-tuned" and n_classes > 3 and not tune_all:
            continue
        folds = []
        for train, test in outer.split(X, y):
            model = make_model(key, seed, n_classes, quick)
            folds.append(
                fit_fold(key, model, X[train], y[train], X[test], y[test], seed)
            )
        results[key] = folds
        acc = np.mean([f["accuracy"] for f in folds])
        fit = np.mean([f["fit_time"] for f in folds])
        print(
            f"[{time.perf_counter() - start:7.1f}s] {name:>13s} {LABELS[key]:>18s}: "
            f"accuracy {100 * acc:6.2f} fit {fit:6.2f}s",
            file=sys.stderr,
            flush=True,
        )
    return X.shape, n_classes, results


def _mean(folds, field):
    return float(np.mean([f[field] for f in folds]))


def _choices(folds):
    values, counts = np.unique([f["chosen"] for f in folds], return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return "; ".join(
        f"{values[i]} ({counts[i]}/5)" if len(values) > 1 else values[i] for i in order
    )


def build_report(all_results, args, runtime):
    lines = [
        "# Tabular classification: PMMClassifier against tuned peers",
        "",
        f"`python benchmarks/bench_classification.py{_argv_text(args)}`: 5-fold "
        f"stratified CV (seed {args.seed}), every model after a StandardScaler; "
        f"runtime {runtime / 60:.1f} min.  Columns and grids: see the script's "
        "docstring.",
        "",
    ]
    default = PMMClassifier()
    lines += [
        "PMM default: `"
        + ", ".join(
            f"{k}={v!r}"
            for k, v in default.get_params().items()
            if k not in ("n_jobs", "random_state", "verbose", "warm_start")
        )
        + "`.",
        "",
    ]
    verdicts = []
    for name, (shape, n_classes, results) in all_results.items():
        lines += [
            f"## {name} ({shape[0]} x {shape[1]}, {n_classes} classes)",
            "",
            "| model | accuracy % | log-loss | trainable floats | fit s | search s "
            "| chosen |",
            "|---|---|---|---|---|---|---|",
        ]
        for key, folds in results.items():
            acc = np.array([f["accuracy"] for f in folds])
            search = _mean(folds, "search_time")
            fit = _mean(folds, "fit_time")
            lines.append(
                f"| {LABELS[key]} | {100 * acc.mean():.2f} ± {100 * acc.std():.2f} "
                f"| {_mean(folds, 'log_loss'):.3f} | {_mean(folds, 'floats'):.0f} "
                f"| {fit:.2f} | {search:.2f} | {_choices(folds)} |"
            )
        lines.append("")
        verdicts.append(_verdict(name, results))
    if verdicts:
        lines += [
            "## Targets",
            "",
            "Within 0.5 percentage point of the better of LR and MLP, with fewer "
            "floats than the tuned MLP; digits fit <= 60 s.",
            "",
            "| dataset | PMM | accuracy % | best of LR/MLP % | gap pp | floats "
            "(PMM / MLP) | fit s | met? |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [row for rows in verdicts for row in rows]
        lines.append("")
    return "\n".join(lines)


def _verdict(name, results):
    if "lr" not in results or "mlp" not in results:
        return []
    best_key = max(("lr", "mlp"), key=lambda k: _mean(results[k], "accuracy"))
    best = _mean(results[best_key], "accuracy")
    mlp_floats = _mean(results["mlp"], "floats")
    rows = []
    for key in ("pmm", "pmm-tuned"):
        if key not in results:
            continue
        acc = _mean(results[key], "accuracy")
        floats = _mean(results[key], "floats")
        fit = _mean(results[key], "fit_time")
        gap = 100 * (acc - best)
        met = gap >= -0.5 and floats < mlp_floats
        if name == "digits":
            met = met and fit <= 60.0
        rows.append(
            f"| {name} | {LABELS[key]} | {100 * acc:.2f} | {100 * best:.2f} "
            f"({LABELS[best_key]}) | {gap:+.2f} | {floats:.0f} / {mlp_floats:.0f} "
            f"| {fit:.1f} | {'yes' if met else 'no'} |"
        )
    return rows


def _argv_text(args):
    parts = []
    if args.datasets_given:
        parts.append(f"--datasets {','.join(args.datasets)}")
    if args.quick:
        parts.append("--quick")
    if args.tune_all:
        parts.append("--tune-all")
    if args.seed:
        parts.append(f"--seed {args.seed}")
    return "".join(" " + p for p in parts)


def plot_boundaries(path, seed, quick):
    """PMM beside MLP on two-moons and circles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    problems = {
        "two moons": make_moons(n_samples=300, noise=0.25, random_state=seed),
        "circles": make_circles(
            n_samples=300, noise=0.1, factor=0.5, random_state=seed
        ),
    }
    models = {
        "PMMClassifier (default)": lambda: _pipe(
            PMMClassifier(random_state=seed, **(dict(max_iter=30) if quick else {}))
        ),
        "MLPClassifier (default)": lambda: _pipe(
            MLPClassifier(max_iter=200 if quick else 2000, random_state=seed)
        ),
    }
    fig, axes = plt.subplots(
        len(problems), len(models), figsize=(9, 8), constrained_layout=True
    )
    for row, (problem, (X, y)) in enumerate(problems.items()):
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=1 / 3, stratify=y, random_state=seed
        )
        lo, hi = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
        gx, gy = np.meshgrid(
            np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200)
        )
        grid = np.column_stack([gx.ravel(), gy.ravel()])
        for col, (label, make) in enumerate(models.items()):
            ax = axes[row, col]
            tic = time.perf_counter()
            model = make().fit(X_train, y_train)
            fit_time = time.perf_counter() - tic
            proba = model.predict_proba(grid)[:, 1].reshape(gx.shape)
            ax.contourf(
                gx, gy, proba, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.7
            )
            ax.contour(gx, gy, proba, levels=[0.5], colors="k", linewidths=1.2)
            ax.scatter(
                X_train[:, 0],
                X_train[:, 1],
                c=y_train,
                cmap="RdBu_r",
                edgecolors="k",
                s=18,
                linewidths=0.5,
            )
            accuracy = model.score(X_test, y_test)
            floats = count_floats(model.named_steps["clf"])
            ax.set_title(
                f"{label}\n{problem}: test accuracy {100 * accuracy:.1f} %, "
                f"{floats} floats, {fit_time:.1f} s",
                fontsize=9,
            )
            ax.set_xticks([])
            ax.set_yticks([])
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--datasets",
        help=f"comma list from {', '.join(DATASETS)} (default all)",
    )
    parser.add_argument(
        "--models", help=f"comma list from {', '.join(MODELS)} (default all)"
    )
    parser.add_argument("--seed", type=int, default=0, help="CV and model seed")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one-point grids and 30 PMM iterations, for smoke runs only",
    )
    parser.add_argument(
        "--tune-all",
        action="store_true",
        help="run the tuned PMM on digits too (about half an hour)",
    )
    parser.add_argument("--figure", default=DEFAULT_FIGURE, help="PNG path")
    parser.add_argument("--no-figure", action="store_true", help="skip the figure")
    args = parser.parse_args(argv)
    args.datasets_given = args.datasets is not None
    args.datasets = args.datasets.split(",") if args.datasets else list(DATASETS)
    for name in args.datasets:
        if name not in DATASETS:
            parser.error(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    models = args.models.split(",") if args.models else list(MODELS)
    for key in models:
        if key not in MODELS:
            parser.error(f"unknown model {key!r}; choose from {', '.join(MODELS)}")

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    start = time.perf_counter()
    all_results = {}
    with threadpool_limits(1):
        for name in args.datasets:
            all_results[name] = run_dataset(
                name, models, args.seed, args.quick, args.tune_all, start
            )
        if not args.no_figure:
            plot_boundaries(args.figure, args.seed, args.quick)
            print(f"wrote {args.figure}", file=sys.stderr)
    runtime = time.perf_counter() - start
    print(build_report(all_results, args, runtime))


if __name__ == "__main__":
    main()
