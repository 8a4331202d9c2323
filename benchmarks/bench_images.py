# SPDX-License-Identifier: BSD-3-Clause
"""The image PMM against tuned peers on images: accuracy, floats, fit time.

This is a benchmark, not a test: it asserts nothing.  Every model is run in
the same invocation, so all numbers of a report come from one run on one
machine.  It prints a Markdown report on stdout (progress goes to stderr)
and, with ``--output PATH.md``, writes the report there and every raw number
to ``PATH.json``.  Run it from the repository root with the package
importable (``pip install -e .``, or prefix with ``PYTHONPATH=.``)::

    python benchmarks/bench_images.py --output benchmarks/results/images_digits.md
    python benchmarks/bench_images.py --models pmm_image,mlp_matched --no-cv
    python benchmarks/bench_images.py --pmm-params '{"alpha": 1e-3}' --no-cv
    python benchmarks/bench_images.py --dataset mnist --n-train 10000 \\
        --output benchmarks/results/images_mnist.md

Protocol
--------
``digits`` (default): scikit-learn's ``load_digits`` (1797 images of 8 x 8
pixels, 10 classes).  A held-out 30 % (``train_test_split(test_size=0.3,
stratify=y, random_state=seed)``) and, unless ``--no-cv``, 5-fold
``StratifiedKFold(shuffle=True, random_state=seed)`` on all 1797 images.

``mnist`` / ``fashion_mnist`` (need a network the first time): OpenML's
``mnist_784`` / ``Fashion-MNIST`` through ``fetch_openml`` (70000 images of
28 x 28, 10 classes), the standard split (first 60000 train, last 10000
test), optionally subsampled (stratified, ``--n-train``, ``--n-test``); the
held-out split only.

Models (``--models``: comma list, or ``all``)
---------------------------------------------
``pmm_image``
    ``PMMImageClassifier(random_state=seed)`` on the raw pixels (its Gram
    inputs are normalised per window), with its defaults for ``digits`` and
    :data:`PMM_PRESETS` otherwise, updated by ``--pmm-params``.  Not tuned.
``pmm_tabular``
    ``make_pipeline(StandardScaler(), PMMClassifier(random_state=seed))``,
    defaults, not tuned: the affine PMM on the flattened pixels.
``logistic``
    ``LogisticRegression(max_iter=5000)``, ``C`` in {1e-3, ..., 1e3}.
``mlp``
    ``MLPClassifier(hidden_layer_sizes=(100,), max_iter=1000)`` (adam; the
    default size), ``alpha`` in {1e-4, 1e-2, 1}.
``mlp_matched``
    The same with one hidden layer of ``h`` units, ``h`` chosen so that its
    floats, ``h (p + 1) + K (h + 1)``, are closest to the image PMM's
    ``n_params_`` (computed from its settings before fitting).
``svc``
    RBF ``SVC``, ``C`` in {1, 10, 100} x ``gamma`` in {"scale", 0.01, 0.1}.
``hgb``
    ``HistGradientBoostingClassifier(max_iter=200)``, ``learning_rate`` in
    {0.05, 0.1} x ``max_leaf_nodes`` in {15, 31}.

Every peer is ``make_pipeline(StandardScaler(), model)`` in a
``GridSearchCV`` with an inner ``--inner-folds``-fold (default 3)
``StratifiedKFold(shuffle=True, random_state=seed)`` on the training part
only (nested), refitted on the whole training part.  Inner searches run
serially; ``--n-jobs`` runs the outer (model, split) jobs in parallel
processes.  BLAS is capped at one thread per process.

Columns
-------
held-out %
    Accuracy on the held-out 30 % (the test set for MNIST).
CV %
    Mean ± standard deviation (``ddof=0``) of the 5 outer folds' accuracy.
trainable floats
    The real numbers the fitted model stores and uses to predict (the input
    scaler's are not counted): PMMs ``n_params_``; logistic ``coef_`` +
    ``intercept_``; MLP all weights and biases; SVC support vectors +
    ``dual_coef_`` + ``intercept_``; HGB one float per tree node + the
    baseline.  Held-out fit.
fit s
    Wall time of the held-out fit (``time.perf_counter``), including the
    grid search for tuned peers; "refit s" is the final fit alone.
"""

import argparse
import json
import os
import platform
import shlex
import sys
import time
import warnings

import joblib
import numpy as np
import scipy
import sklearn
from _provenance import git_describe, load_average
from joblib import Parallel, delayed
from sklearn.datasets import fetch_openml, load_digits
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

import sklearn_pmm
from sklearn_pmm import PMMClassifier, PMMImageClassifier

MODELS = ("pmm_image", "pmm_tabular", "logistic", "mlp", "mlp_matched", "svc", "hgb")
LABELS = {
    "pmm_image": "PMMImageClassifier",
    "pmm_tabular": "PMMClassifier (tabular)",
    "logistic": "LogisticRegression",
    "mlp": "MLPClassifier (100,)",
    "mlp_matched": "MLPClassifier (PMM-sized)",
    "svc": "SVC (RBF)",
    "hgb": "HistGradientBoosting",
}
OPENML = {"mnist": "mnist_784", "fashion_mnist": "Fashion-MNIST"}
# Image PMM settings per dataset beyond the estimator's defaults.  The 28 x 28
# preset is a starting point that keeps about 4,000 floats (16 windows of
# 7 x 7); it has not been measured on this machine (no network).
PMM_PRESETS = {
    "digits": {},
    "mnist": {"window_shape": 7, "stride": 7, "latent_size": 6},
    "fashion_mnist": {"window_shape": 7, "stride": 7, "latent_size": 6},
}
N_FOLDS = 5


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


def _subsample(X, y, n, seed):
    if n is None or n >= len(y):
        return X, y
    keep, _ = train_test_split(
        np.arange(len(y)), train_size=n, stratify=y, random_state=seed
    )
    keep = np.sort(keep)
    return X[keep], y[keep]


def load_dataset(name, n_train=None, n_test=None, seed=0, data_home=None):
    """Arrays and splits of a dataset.

    Returns
    -------
    data : dict
        ``X``, ``y`` (all images, for CV; ``None`` for OpenML sets),
        ``X_train``, ``y_train``, ``X_test``, ``y_test``, ``image_shape``
        and a ``description``.
    """
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.3, stratify=y, random_state=seed
        )
        description = (
            "scikit-learn digits, 1797 images of 8 x 8, 10 classes; held-out "
            f"30 % (stratified, seed {seed}): {len(y_train)} train / "
            f"{len(y_test)} test"
        )
        return dict(
            X=X,
            y=y,
            X_train=X_train,
            y_train=y_train,
            X_test=X_test,
            y_test=y_test,
            image_shape=(8, 8),
            description=description,
            dataset=name,
        )
    X, y = fetch_openml(
        OPENML[name], version=1, as_frame=False, parser="auto", data_home=data_home
    )
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(int)
    X_train, y_train = _subsample(X[:60000], y[:60000], n_train, seed)
    X_test, y_test = _subsample(X[60000:], y[60000:], n_test, seed)
    description = (
        f"OpenML {OPENML[name]}, 28 x 28, 10 classes; standard split, "
        f"{len(y_train)} train / {len(y_test)} test"
    )
    return dict(
        X=None,
        y=None,
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        image_shape=(28, 28),
        description=description,
        dataset=name,
    )


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------


def pmm_image(dataset, seed, pmm_params):
    return PMMImageClassifier(
        random_state=seed, **{**PMM_PRESETS[dataset], **pmm_params}
    )


def pmm_floats(dataset, n_features, n_classes, pmm_params):
    """``n_params_`` of the image PMM, from its settings (no fit)."""
    estimator = pmm_image(dataset, 0, pmm_params)
    return estimator._build_model(estimator._model_spec(n_features, n_classes)).n_params


def matched_hidden_units(floats, n_features, n_classes):
    """Hidden units of a one-layer MLP with about ``floats`` floats."""
    return max(1, round((floats - n_classes) / (n_features + 1 + n_classes)))


def make_model(key, dataset, seed, n_features, n_classes, inner_folds, pmm_params):
    """The estimator (grid search for peers) of one model key."""
    if key == "pmm_image":
        return pmm_image(dataset, seed, pmm_params)
    if key == "pmm_tabular":
        return make_pipeline(StandardScaler(), PMMClassifier(random_state=seed))
    inner = StratifiedKFold(inner_folds, shuffle=True, random_state=seed)
    if key == "logistic":
        model = LogisticRegression(max_iter=5000)
        grid = {"C": list(np.logspace(-3, 3, 7))}
    elif key in ("mlp", "mlp_matched"):
        hidden = 100
        if key == "mlp_matched":
            floats = pmm_floats(dataset, n_features, n_classes, pmm_params)
            hidden = matched_hidden_units(floats, n_features, n_classes)
        model = MLPClassifier(
            hidden_layer_sizes=(hidden,), max_iter=1000, random_state=seed
        )
        grid = {"alpha": [1e-4, 1e-2, 1.0]}
    elif key == "svc":
        model = SVC(random_state=seed)
        grid = {"C": [1.0, 10.0, 100.0], "gamma": ["scale", 0.01, 0.1]}
    elif key == "hgb":
        model = HistGradientBoostingClassifier(max_iter=200, random_state=seed)
        grid = {"learning_rate": [0.05, 0.1], "max_leaf_nodes": [15, 31]}
    else:
        raise ValueError(f"unknown model {key!r}")
    step = type(model).__name__.lower()
    grid = {f"{step}__{name}": values for name, values in grid.items()}
    return GridSearchCV(make_pipeline(StandardScaler(), model), grid, cv=inner)


def count_floats(model):
    """Trainable floats of a fitted model (see the module docstring)."""
    if isinstance(model, GridSearchCV):
        model = model.best_estimator_
    if isinstance(model, Pipeline):
        model = model.steps[-1][1]
    if hasattr(model, "n_params_"):
        return int(model.n_params_)
    if isinstance(model, LogisticRegression):
        return int(model.coef_.size + model.intercept_.size)
    if isinstance(model, MLPClassifier):
        return int(
            sum(c.size for c in model.coefs_) + sum(b.size for b in model.intercepts_)
        )
    if isinstance(model, SVC):
        return int(
            model.support_vectors_.size + model.dual_coef_.size + model.intercept_.size
        )
    if isinstance(model, HistGradientBoostingClassifier):
        nodes = sum(len(p.nodes) for trees in model._predictors for p in trees)
        return int(nodes + np.size(model._baseline_prediction))
    raise TypeError(type(model).__name__)


def _chosen(model):
    if not isinstance(model, GridSearchCV):
        return {}
    return {k.split("__")[-1]: v for k, v in model.best_params_.items()}


def splits(data, seed, cv):
    """``{name: (train rows, test rows, arrays)}``: held-out, then CV folds."""
    out = {"holdout": None}
    if cv and data["X"] is not None:
        folds = StratifiedKFold(N_FOLDS, shuffle=True, random_state=seed)
        for index, (train, test) in enumerate(folds.split(data["X"], data["y"])):
            out[f"cv{index}"] = (train, test)
    return out


def fit_and_score(key, data, split, seed, inner_folds=3, pmm_params=None, rows=None):
    """Fit one model on one split and score it: one record of the report."""
    pmm_params = pmm_params or {}
    if split == "holdout":
        X_train, y_train = data["X_train"], data["y_train"]
        X_test, y_test = data["X_test"], data["y_test"]
    else:
        train, test = rows
        X_train, y_train = data["X"][train], data["y"][train]
        X_test, y_test = data["X"][test], data["y"][test]
    n_classes = len(np.unique(y_train))
    model = make_model(
        key,
        data["dataset"],
        seed,
        X_train.shape[1],
        n_classes,
        inner_folds,
        pmm_params,
    )
    with threadpool_limits(1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        wall, cpu = time.perf_counter(), time.process_time()
        model.fit(X_train, y_train)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        accuracy = accuracy_score(y_test, model.predict(X_test))
    final = model.best_estimator_ if isinstance(model, GridSearchCV) else model
    final = final.steps[-1][1] if isinstance(final, Pipeline) else final
    warned = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    return {
        "model": key,
        "split": split,
        "n_train": int(len(y_train)),
        "n_test": int(len(y_test)),
        "accuracy": 100.0 * float(accuracy),
        "floats": count_floats(model),
        "fit_s": wall,
        "fit_cpu_s": cpu,
        "refit_s": model.refit_time_ if isinstance(model, GridSearchCV) else wall,
        "chosen": {k: _jsonable(v) for k, v in _chosen(model).items()},
        "n_iter": int(np.max(final.n_iter_)) if hasattr(final, "n_iter_") else None,
        "convergence_warnings": len(warned),
    }


def run_pmm(data, params, seed):
    """The image PMM on the held-out split (used by the tests on a stand-in)."""
    return fit_and_score("pmm_image", data, "holdout", seed, pmm_params=params)


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return value


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def _fmt_time(t):
    return f"{t:.2f}" if t < 10 else f"{t:.1f}" if t < 100 else f"{t:.0f}"


def build_report(records, data, args, meta):
    by_model = {key: [r for r in records if r["model"] == key] for key in args.models}
    out = []
    add = out.append
    add(f"# Image benchmark: {args.dataset}")
    add("")
    add(f"Command: `{meta['command']}`")
    add("")
    env = meta["environment"]
    add(
        f"Environment: Python {env['python']}, NumPy {env['numpy']}, SciPy "
        f"{env['scipy']}, scikit-learn {env['sklearn']}, joblib {env['joblib']}; "
        f"{env['machine']}, {env['cpu_count']} CPUs; load average "
        f"{env['loadavg_start']} at start, {env['loadavg_end']} at end; git "
        f"{env['git']}; sklearn_pmm {env['sklearn_pmm']}; outer jobs "
        f"n_jobs={args.n_jobs}, BLAS 1 thread per process.  Total runtime "
        f"{meta['runtime_s'] / 60:.1f} min wall."
    )
    add("")
    add(f"Data: {data['description']}.")
    add("")
    pmm = pmm_image(args.dataset, args.seed, args.pmm_params)
    shown = {
        k: v
        for k, v in pmm.get_params().items()
        if k not in ("random_state", "verbose", "n_jobs", "warm_start")
    }
    add(f"PMMImageClassifier as run: `{shown}`.")
    add("")
    has_cv = any(r["split"] != "holdout" for r in records)
    add(
        "| model | held-out % | "
        + ("CV % (5-fold) | " if has_cv else "")
        + "trainable floats | fit s | refit s | conv. warn. | chosen (held-out) |"
    )
    add("|---|---|" + ("---|" if has_cv else "") + "---|---|---|---|---|")
    for key, rows in by_model.items():
        hold = [r for r in rows if r["split"] == "holdout"]
        if not hold:
            continue
        hold = hold[0]
        cells = [LABELS[key], f"{hold['accuracy']:.2f}"]
        if has_cv:
            cv = np.array([r["accuracy"] for r in rows if r["split"] != "holdout"])
            cells.append(f"{cv.mean():.2f} ± {cv.std():.2f}" if len(cv) else "")
        warned = sum(r["convergence_warnings"] > 0 for r in rows)
        chosen = ", ".join(f"{k}={v}" for k, v in hold["chosen"].items())
        cells += [
            f"{hold['floats']:,}",
            _fmt_time(hold["fit_s"]),
            _fmt_time(hold["refit_s"]),
            f"{warned}/{len(rows)}",
            chosen,
        ]
        add("| " + " | ".join(cells) + " |")
    add("")
    if "pmm_image" in by_model and by_model["pmm_image"]:
        hold = {r["model"]: r for r in records if r["split"] == "holdout"}
        image = hold["pmm_image"]
        add("## Targets")
        add("")
        checks = [
            (
                "held-out accuracy ≥ 97.5 %",
                f"{image['accuracy']:.2f} %",
                image["accuracy"] >= 97.5,
            ),
            ("≤ 5,000 floats", f"{image['floats']:,}", image["floats"] <= 5000),
            ("fit ≤ 5 min", f"{image['fit_s']:.0f} s", image["fit_s"] <= 300),
        ]
        if "mlp_matched" in hold:
            matched = hold["mlp_matched"]
            checks.append(
                (
                    "more accurate than the MLP with as many floats (held-out)",
                    f"{image['accuracy']:.2f} % vs {matched['accuracy']:.2f} % "
                    f"({matched['floats']:,} floats)",
                    image["accuracy"] > matched["accuracy"],
                )
            )
        add("| target | measured | met? |")
        add("|---|---|---|")
        for name, value, met in checks:
            add(f"| {name} | {value} | {'yes' if met else 'no'} |")
        add("")
    return "\n".join(out)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def _job(key, data, split, rows, args):
    record = fit_and_score(
        key, data, split, args.seed, args.inner_folds, args.pmm_params, rows
    )
    print(
        f"{key:12s} {split:8s} {record['accuracy']:6.2f} % "
        f"{record['floats']:>7,} floats {record['fit_s']:7.1f} s",
        file=sys.stderr,
        flush=True,
    )
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="digits", choices=["digits", *OPENML])
    parser.add_argument("--models", default="all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--inner-folds", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--no-cv", action="store_true", help="held-out split only")
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument("--n-test", type=int, default=None)
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--pmm-params", default="{}", help="JSON for the image PMM")
    parser.add_argument("--output", default=None, help="PATH.md (and PATH.json)")
    args = parser.parse_args(argv)
    args.models = (
        list(MODELS)
        if args.models == "all"
        else [m.strip() for m in args.models.split(",") if m.strip()]
    )
    for key in args.models:
        if key not in MODELS:
            parser.error(f"unknown model {key!r}; choose from {', '.join(MODELS)}")
    args.pmm_params = json.loads(args.pmm_params)

    start, load_start = time.perf_counter(), load_average()
    data = load_dataset(
        args.dataset, args.n_train, args.n_test, args.seed, args.data_home
    )
    jobs = [
        (key, split, rows)
        for split, rows in splits(data, args.seed, not args.no_cv).items()
        for key in args.models
    ]
    # The slow jobs first, so that parallel workers finish together.
    weight = {"pmm_image": 0, "hgb": 1, "pmm_tabular": 2}
    jobs.sort(key=lambda job: weight.get(job[0], 3))
    records = Parallel(n_jobs=args.n_jobs)(
        delayed(_job)(key, data, split, rows, args) for key, split, rows in jobs
    )
    order = {key: i for i, key in enumerate(args.models)}
    records.sort(key=lambda r: (order[r["model"]], r["split"] != "holdout", r["split"]))
    meta = {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "runtime_s": time.perf_counter() - start,
        "environment": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "sklearn": sklearn.__version__,
            "joblib": joblib.__version__,
            "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
            "loadavg_start": load_start,
            "loadavg_end": load_average(),
            "git": git_describe(),
            "sklearn_pmm": sklearn_pmm.__version__,
        },
    }
    report = build_report(records, data, args, meta)
    print(report)
    if args.output:
        with open(args.output, "w") as f:
            f.write(report + "\n")
        with open(os.path.splitext(args.output)[0] + ".json", "w") as f:
            json.dump(
                {"meta": meta, "args": vars(args), "records": records}, f, indent=1
            )


if __name__ == "__main__":
    main()
