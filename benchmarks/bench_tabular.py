# SPDX-License-Identifier: BSD-3-Clause
"""PMMs that generalise: default PMMs against tuned peers on tabular data.

This is a benchmark, not a test: it asserts nothing.  Every model is run in
the same invocation (there is no way to reuse earlier rows), so all numbers of
a report come from one run on one machine.  It prints a Markdown report on
stdout (progress goes to stderr) and, with ``--output PATH.md``, writes the
report there and every raw per-fold number to ``PATH.json``.  Run it from the
repository root with the package importable (``pip install -e .``, or prefix
with ``PYTHONPATH=.``)::

    python benchmarks/bench_tabular.py --output benchmarks/results/tabular.md
    python benchmarks/bench_tabular.py --models peers --n-jobs 2 \\
        --output benchmarks/results/tabular_peers.md
    python benchmarks/bench_tabular.py --datasets iris --models pmm,logistic
    python benchmarks/bench_tabular.py --models pmm --pmm-params '{"alpha": 0.1}'
    python benchmarks/bench_tabular.py --pmm-reg-params '{"matrix_size": 5}' \\
        --pmm-clf-params '{"temperature": 1.0}'
    python benchmarks/bench_tabular.py --models pmm,pmm_cv --datasets diabetes
    python benchmarks/bench_tabular.py --models pmm --pmm-params '{"random_state": 1}'

Protocol
--------
Regression (score: R²): ``load_diabetes`` (442 x 10) and
``make_friedman1(n_samples=500, n_features=10, noise=1.0, random_state=0)``
(500 x 10, five of the features irrelevant), outer
``KFold(5, shuffle=True, random_state=seed)``.

Classification (score: accuracy %): iris (150 x 4, 3 classes), wine (178 x 13,
3), breast_cancer (569 x 30, 2), digits (1797 x 64, 10), outer
``StratifiedKFold(5, shuffle=True, random_state=seed)``.

Every model is ``make_pipeline(StandardScaler(), model)``; tuned peers are a
``GridSearchCV`` around that pipeline with an inner ``--inner-folds``-fold
(default 3) ``KFold`` / ``StratifiedKFold(shuffle=True, random_state=seed)``
on the outer training fold only (nested CV; the search scores with the
estimator's default scorer, R² or accuracy, and refits the best candidate on
the whole outer training fold).  Inner searches run serially
(``n_jobs=1``); ``--n-jobs`` parallelises the outer (dataset, model, fold)
jobs with joblib.  Every fit runs with BLAS/OpenMP capped at one thread
(``threadpoolctl``), and every random state is ``--seed``, so the numbers do
not depend on ``--n-jobs`` (the times do, a little, through contention).

Models (``--models``: comma list of the keys, or ``all`` / ``peers``)
--------------------------------------------------------------------
``pmm``
    ``PMMRegressor(random_state=seed)`` / ``PMMClassifier(random_state=seed)``
    with their defaults at run time, updated by ``--pmm-params`` (JSON, both
    estimators) and then ``--pmm-reg-params`` / ``--pmm-clf-params``; a
    ``random_state`` there gives other starts on the same folds.  Not
    tuned: the point is that the defaults generalise.
``pmm_cv``
    ``PMMRegressorCV`` / ``PMMClassifierCV`` with their defaults (five
    members) around the ``pmm`` estimator above, parameters included.  Not
    tuned either; it costs five PMM fits.
``ridge`` (regression)
    ``RidgeCV(alphas=logspace(-3, 3, 13))``: alpha chosen by its efficient
    leave-one-out (GCV) on the training fold instead of the inner k-fold.
``gp`` (regression)
    ``GaussianProcessRegressor(ConstantKernel * Matern(nu=2.5, one length
    scale per feature) + WhiteKernel, normalize_y=True,
    n_restarts_optimizer=2)``; the kernel hyperparameters are fitted by
    marginal likelihood (no grid).  Bounds: constant 1e-2..1e2, length scales
    1e-2..1e3 (standardised features), noise 1e-6..1e1 (normalised target).
``mlp`` (both)
    Regression: ``MLPRegressor(solver="lbfgs", max_iter=5000)``, wrapped in a
    ``TransformedTargetRegressor`` with a ``StandardScaler`` on the target (so
    that ``alpha`` means the same on both datasets), ``hidden_layer_sizes`` in
    {(16,), (64,), (64, 64)} x ``alpha`` in {0.1, 1, 10, 100}.
    Classification: ``MLPClassifier(max_iter=2000)`` (adam), ``hidden_layer_sizes``
    in {(32,), (100,)} x ``alpha`` in {1e-4, 1e-2, 1} (the grid of
    ``bench_classification.py``).
``hgb`` (regression)
    ``HistGradientBoostingRegressor(max_iter=200, early_stopping=False)``,
    ``learning_rate`` in {0.03, 0.1} x ``max_leaf_nodes`` in {7, 31} x
    ``min_samples_leaf`` in {5, 20}.
``logistic`` (classification)
    ``LogisticRegression(max_iter=5000)``, ``C`` in {1e-3, 1e-2, ..., 1e3}.
``svc`` (classification)
    RBF ``SVC``, ``C`` in {0.1, 1, 10, 100} x ``gamma`` in {"scale", 0.01, 0.1}.

Columns
-------
score
    Mean ± standard deviation (``ddof=0``) over the 5 outer folds of the
    test-fold R² or accuracy.
fold s, fold CPU s
    Mean wall time (``time.perf_counter``) and CPU time of the worker process
    (``time.process_time``) to produce one outer fold's model: the whole
    ``fit`` including, for tuned peers, the grid search.  Every fit is
    single-threaded, so on an idle machine the two agree; when they differ,
    the machine was busy and the CPU time is the better measure of cost.
refit s
    Mean wall time of the final fit alone: for tuned peers the refit with the
    chosen hyperparameters (``GridSearchCV.refit_time_``), otherwise the same
    as "fold s".
trainable floats
    Mean over the folds of the real numbers the fitted model stores and uses
    to predict (the input ``StandardScaler``'s 2p floats are common to every
    row and not counted), as in ``bench_classification.py`` and
    ``bench_paper.py``:

    * PMM: ``n_params_``; a committee: the sum over its members;
    * ridge / logistic: ``coef_`` + ``intercept_``;
    * MLP: all ``coefs_`` and ``intercepts_`` (+ 2 for the target scaler in
      regression);
    * GP: ``X_train_`` (n x p) + ``alpha_`` (n) + the kernel hyperparameters
      + 2 (target mean and scale of ``normalize_y``);
    * SVC: support vectors (n_SV x p) + ``dual_coef_`` + ``intercept_``;
    * HGB: one float per tree node (a split's threshold or a leaf's value)
      + the baseline prediction.
conv. warn.
    Outer folds (of 5) whose fit raised at least one ``ConvergenceWarning``
    (caught per fit).  For the PMM this is its own L-BFGS; for tuned peers it
    includes the warnings of all inner-CV candidates, so it is informative
    only; the JSON has the count per fold.

Summary
-------
"PMM vs best peer" per dataset and PMM model run (``pmm``, ``pmm_cv``):
regression, PMM R² minus the best peer's R²
(target: within 0.02 on diabetes); classification, PMM accuracy minus the
better of LogisticRegression and MLPClassifier (target: within 0.5
percentage point); and no ConvergenceWarning in any PMM fold.  Without the
PMM the section lists the bar a PMM has to clear.
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
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
    make_friedman1,
)
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.metrics import accuracy_score, mean_squared_error, r2_score
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

# --------------------------------------------------------------------------
# Data and models
# --------------------------------------------------------------------------


def _friedman1():
    return make_friedman1(n_samples=500, n_features=10, noise=1.0, random_state=0)


DATASETS = {
    "diabetes": ("regression", lambda: load_diabetes(return_X_y=True)),
    "friedman1": ("regression", _friedman1),
    "iris": ("classification", lambda: load_iris(return_X_y=True)),
    "wine": ("classification", lambda: load_wine(return_X_y=True)),
    "breast_cancer": ("classification", lambda: load_breast_cancer(return_X_y=True)),
    "digits": ("classification", lambda: load_digits(return_X_y=True)),
}
MODELS = ("pmm", "pmm_cv", "ridge", "gp", "mlp", "hgb", "logistic", "svc")
TASK_MODELS = {
    "regression": ("pmm", "pmm_cv", "ridge", "gp", "mlp", "hgb"),
    "classification": ("pmm", "pmm_cv", "logistic", "mlp", "svc"),
}
PMM_KEYS = ("pmm", "pmm_cv")
PEERS = tuple(m for m in MODELS if m not in PMM_KEYS)
LABELS = {
    ("regression", "pmm"): "PMMRegressor",
    ("regression", "pmm_cv"): "PMMRegressorCV",
    ("regression", "ridge"): "RidgeCV",
    ("regression", "gp"): "GP (Matérn 2.5 ARD)",
    ("regression", "mlp"): "MLPRegressor",
    ("regression", "hgb"): "HistGradientBoosting",
    ("classification", "pmm"): "PMMClassifier",
    ("classification", "pmm_cv"): "PMMClassifierCV",
    ("classification", "logistic"): "LogisticRegression",
    ("classification", "mlp"): "MLPClassifier",
    ("classification", "svc"): "SVC (RBF)",
}
ALIASES = {"lr": "logistic", "pmm-default": "pmm", "default": "pmm", "svm": "svc"}
RIDGE_ALPHAS = np.logspace(-3, 3, 13)


def _pmm(task, committee=False):
    """The PMM estimator (or committee) class, imported only when a PMM is run
    (so that a peers-only run does not depend on the package's state)."""
    from sklearn_pmm import PMMClassifier, PMMClassifierCV, PMMRegressor, PMMRegressorCV

    if task == "regression":
        return PMMRegressorCV if committee else PMMRegressor
    return PMMClassifierCV if committee else PMMClassifier


def _pmm_pipeline(task, key, seed, pmm_params):
    # --pmm-params may set random_state: other starts on the same folds.
    member = _pmm(task)(**{"random_state": seed, **pmm_params})
    if key == "pmm_cv":
        return make_pipeline(StandardScaler(), _pmm(task, committee=True)(member))
    return make_pipeline(StandardScaler(), member)


def _tuned(pipeline, grid, inner):
    return GridSearchCV(pipeline, grid, cv=inner, n_jobs=1)


def _gp_kernel(n_features):
    return ConstantKernel(1.0, (1e-2, 1e2)) * Matern(
        length_scale=np.ones(n_features), length_scale_bounds=(1e-2, 1e3), nu=2.5
    ) + WhiteKernel(noise_level=0.1, noise_level_bounds=(1e-6, 1e1))


def make_model(task, key, seed, n_features, inner_folds, pmm_params):
    """The (possibly grid-searched) pipeline of one model on one task."""
    if task == "regression":
        inner = KFold(inner_folds, shuffle=True, random_state=seed)
        if key in PMM_KEYS:
            return _pmm_pipeline(task, key, seed, pmm_params)
        if key == "ridge":
            return make_pipeline(StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS))
        if key == "gp":
            return make_pipeline(
                StandardScaler(),
                GaussianProcessRegressor(
                    _gp_kernel(n_features),
                    normalize_y=True,
                    n_restarts_optimizer=2,
                    random_state=seed,
                ),
            )
        if key == "mlp":
            model = TransformedTargetRegressor(
                regressor=make_pipeline(
                    StandardScaler(),
                    MLPRegressor(solver="lbfgs", max_iter=5000, random_state=seed),
                ),
                transformer=StandardScaler(),
            )
            grid = {
                "regressor__mlpregressor__hidden_layer_sizes": [(16,), (64,), (64, 64)],
                "regressor__mlpregressor__alpha": [1e-1, 1.0, 10.0, 100.0],
            }
            return _tuned(model, grid, inner)
        if key == "hgb":
            model = make_pipeline(
                StandardScaler(),
                HistGradientBoostingRegressor(
                    max_iter=200, early_stopping=False, random_state=seed
                ),
            )
            grid = {
                "histgradientboostingregressor__learning_rate": [0.03, 0.1],
                "histgradientboostingregressor__max_leaf_nodes": [7, 31],
                "histgradientboostingregressor__min_samples_leaf": [5, 20],
            }
            return _tuned(model, grid, inner)
    else:
        inner = StratifiedKFold(inner_folds, shuffle=True, random_state=seed)
        if key in PMM_KEYS:
            return _pmm_pipeline(task, key, seed, pmm_params)
        if key == "logistic":
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
            grid = {"logisticregression__C": list(np.logspace(-3, 3, 7))}
            return _tuned(model, grid, inner)
        if key == "mlp":
            model = make_pipeline(
                StandardScaler(), MLPClassifier(max_iter=2000, random_state=seed)
            )
            grid = {
                "mlpclassifier__hidden_layer_sizes": [(32,), (100,)],
                "mlpclassifier__alpha": [1e-4, 1e-2, 1.0],
            }
            return _tuned(model, grid, inner)
        if key == "svc":
            model = make_pipeline(StandardScaler(), SVC(random_state=seed))
            grid = {
                "svc__C": [0.1, 1.0, 10.0, 100.0],
                "svc__gamma": ["scale", 0.01, 0.1],
            }
            return _tuned(model, grid, inner)
    raise ValueError(f"model {key!r} does not apply to {task}")


def describe_grids(inner_folds, results=None, datasets_info=None):
    """One line per peer run (default: every peer): its search, for the report."""
    run = None
    if results is not None:
        run = {
            (datasets_info[name]["task"], key)
            for name, models in results.items()
            for key in models
        }
    rows = []
    for task, keys in TASK_MODELS.items():
        n_features = 10
        for key in keys:
            if key in PMM_KEYS or (run is not None and (task, key) not in run):
                continue
            model = make_model(task, key, 0, n_features, inner_folds, {})
            if isinstance(model, GridSearchCV):
                grid = "; ".join(
                    f"{k.split('__')[-1]} in {_short(v)}"
                    for k, v in model.param_grid.items()
                )
                text = f"GridSearchCV, inner {inner_folds}-fold: {grid}"
            elif key == "ridge":
                text = "alphas = logspace(-3, 3, 13), leave-one-out (GCV)"
            else:
                text = (
                    "ConstantKernel(1, (1e-2, 1e2)) * Matern(nu=2.5, ARD, "
                    "(1e-2, 1e3)) + WhiteKernel(0.1, (1e-6, 1e1)), "
                    "normalize_y, 2 optimizer restarts (marginal likelihood)"
                )
            rows.append((LABELS[(task, key)], text))
    return rows


# --------------------------------------------------------------------------
# Trainable floats
# --------------------------------------------------------------------------


def _final(model):
    """(final fitted estimator, extra floats of a target scaler)."""
    if isinstance(model, GridSearchCV):
        model = model.best_estimator_
    extra = 0
    if isinstance(model, TransformedTargetRegressor):
        extra = model.transformer_.mean_.size + model.transformer_.scale_.size
        model = model.regressor_
    if isinstance(model, Pipeline):
        model = model.steps[-1][1]
    return model, extra


def count_floats(est):
    """Trainable floats of a fitted final estimator (see the docstring)."""
    if hasattr(est, "n_params_"):  # PMMRegressor, PMMClassifier
        return int(est.n_params_)
    if hasattr(est, "cv_scores_"):  # the committees use every member
        return int(sum(member.n_params_ for member in est.estimators_))
    if isinstance(est, RidgeCV | LogisticRegression):
        return int(np.size(est.coef_) + np.size(est.intercept_))
    if isinstance(est, MLPRegressor | MLPClassifier):
        return int(
            sum(c.size for c in est.coefs_) + sum(b.size for b in est.intercepts_)
        )
    if isinstance(est, GaussianProcessRegressor):
        return int(est.X_train_.size + est.alpha_.size + est.kernel_.theta.size + 2)
    if isinstance(est, SVC):
        return int(
            est.support_vectors_.size + est.dual_coef_.size + est.intercept_.size
        )
    if isinstance(est, HistGradientBoostingRegressor):
        nodes = sum(len(p.nodes) for trees in est._predictors for p in trees)
        return int(nodes + np.size(est._baseline_prediction))
    raise TypeError(type(est).__name__)


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------


def _short(value):
    if isinstance(value, list | tuple) and not (
        isinstance(value, tuple) and all(isinstance(v, int) for v in value)
    ):
        return "{" + ", ".join(str(_short(v)) for v in value) + "}"
    if isinstance(value, float | np.floating):
        return float(f"{value:.3g}")
    if isinstance(value, np.integer):
        return int(value)
    return value


def _chosen(model, final):
    if isinstance(model, GridSearchCV):
        return {k.split("__")[-1]: _short(v) for k, v in model.best_params_.items()}
    if isinstance(final, RidgeCV):
        return {"alpha": _short(final.alpha_)}
    if isinstance(final, GaussianProcessRegressor):
        theta = np.exp(final.kernel_.theta)
        # theta: constant, length scales..., noise.
        return {
            "amplitude": _short(theta[0]),
            "length_scales": [_short(v) for v in theta[1:-1]],
            "noise": _short(theta[-1]),
        }
    return {}


def fit_fold(job):
    """Fit one model on one outer fold; runs in a joblib worker."""
    name, task, key, fold, seed, inner_folds, pmm_params = job
    X, y = DATASETS[name][1]()
    splitter = (
        KFold(5, shuffle=True, random_state=seed)
        if task == "regression"
        else StratifiedKFold(5, shuffle=True, random_state=seed)
    )
    train, test = list(splitter.split(X, y))[fold]
    model = make_model(task, key, seed, X.shape[1], inner_folds, pmm_params)
    with threadpool_limits(1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        wall, cpu = time.perf_counter(), time.process_time()
        model.fit(X[train], y[train])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        pred = model.predict(X[test])
    conv = [
        str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)
    ]
    final, extra = _final(model)
    record = {
        "dataset": name,
        "model": key,
        "fold": fold,
        "n_train": int(len(train)),
        "n_test": int(len(test)),
        "fold_s": wall,
        "fold_cpu_s": cpu,
        "refit_s": model.refit_time_ if isinstance(model, GridSearchCV) else wall,
        "floats": count_floats(final) + extra,
        "n_convergence_warnings": len(conv),
        "convergence_messages": sorted(set(conv))[:3] if key in PMM_KEYS else [],
        "chosen": _chosen(model, final),
        "n_iter": _iterations(final),
    }
    if task == "regression":
        record["score"] = float(r2_score(y[test], pred))
        record["rmse"] = float(np.sqrt(mean_squared_error(y[test], pred)))
    else:
        record["score"] = float(accuracy_score(y[test], pred))
    return record


def _iterations(final):
    """Iterations of the final fit; a list, one per member, for a committee."""
    if hasattr(final, "cv_scores_"):
        return [int(member.n_iter_) for member in final.estimators_]
    return int(np.max(final.n_iter_)) if hasattr(final, "n_iter_") else None


def _indexed_fit(index, job):
    return index, fit_fold(job)


def _cost(name, key):
    """Rough relative cost of one job, to start the long ones first."""
    weight = {
        "pmm_cv": 100,
        "pmm": 20,
        "mlp": 10,
        "gp": 6,
        "hgb": 3,
        "svc": 1,
        "logistic": 1,
    }
    size = {"digits": 8, "breast_cancer": 2, "friedman1": 2, "diabetes": 2}
    return weight.get(key, 0.1) * size.get(name, 1)


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------


def _scores(folds):
    return np.array([f["score"] for f in folds])


def _mean(folds, field):
    return float(np.mean([f[field] for f in folds]))


def _fmt_score(task, values):
    if task == "regression":
        return f"{values.mean():.4f} ± {values.std():.4f}"
    return f"{100 * values.mean():.2f} ± {100 * values.std():.2f}"


def _fmt_time(t):
    return f"{t:.3f}" if t < 1 else f"{t:.2f}" if t < 10 else f"{t:.1f}"


def _choices(folds):
    texts = [
        ", ".join(f"{k}={v}" for k, v in f["chosen"].items())
        for f in folds
        if f["chosen"]
    ]
    if not texts:
        return ""
    values, counts = np.unique(texts, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    if len(values) == 1:
        return values[0]
    return "; ".join(f"{values[i]} ({counts[i]}/{len(texts)})" for i in order)


def _gp_choice(folds):
    """Compact GP summary: median noise and the range of the length scales."""
    noise = np.median([f["chosen"]["noise"] for f in folds])
    scales = np.array([f["chosen"]["length_scales"] for f in folds])
    med = np.median(scales, axis=0)
    return f"noise (median) {noise:.3g}; median length scale per feature " + ", ".join(
        f"{v:.3g}" for v in med
    )


def summary_lines(results, datasets_info):
    """'PMM vs best peer' lines, one per PMM model run (or the peer bar when
    no PMM was run)."""
    lines = []
    all_met = {key: [] for key in PMM_KEYS}
    for name, models in results.items():
        task = datasets_info[name]["task"]
        peers = [m for m in models if m not in PMM_KEYS]
        pmm_keys = [k for k in PMM_KEYS if k in models]
        if task == "regression":
            ref_keys = peers
            ref_text = "best peer"
            target = 0.02 if name == "diabetes" else None
        else:
            ref_keys = [m for m in ("logistic", "mlp") if m in models]
            ref_text = "better of LogisticRegression/MLPClassifier"
            target = 0.005
        if not ref_keys:
            for key in pmm_keys:
                s = _scores(models[key]).mean()
                label = LABELS[(task, key)]
                lines.append(f"- {name}: {label} {s:.4f}; no reference peer run.")
            continue
        best = max(ref_keys, key=lambda k: _scores(models[k]).mean())
        best_score = _scores(models[best]).mean()
        best_label = LABELS[(task, best)]
        if task == "regression":
            ref = f"{best_score:.4f} ({best_label})"
        else:
            ref = f"{100 * best_score:.2f} % ({best_label})"
        if not pmm_keys:
            bar = (
                f"PMM needs R² ≥ {best_score - target:.4f}"
                if task == "regression" and target is not None
                else f"PMM needs accuracy ≥ {100 * (best_score - target):.2f} %"
                if task == "classification"
                else "no target"
            )
            lines.append(f"- {name}: {ref_text} {ref}; {bar}.")
            continue
        for key in pmm_keys:
            folds = models[key]
            label = LABELS[(task, key)]
            score = _scores(folds).mean()
            diff = score - best_score
            warned = sum(f["n_convergence_warnings"] > 0 for f in folds)
            if task == "regression":
                text = f"{label} R² {score:.4f} vs {ref_text} {ref}: {diff:+.4f}"
            else:
                text = (
                    f"{label} {100 * score:.2f} % vs {ref_text} {ref}: "
                    f"{100 * diff:+.2f} pp"
                )
            text += f"; ConvergenceWarning in {warned}/{len(folds)} folds"
            if target is not None:
                met = diff >= -target - 1e-12 and warned == 0
                all_met[key].append(met)
                limit = f"{target}" if task == "regression" else "0.5 pp"
                verdict = "met" if met else "NOT met"
                text += f" (target: within {limit}, no warning: {verdict})"
            else:
                text += " (no score target)"
            lines.append(f"- {name}: {text}.")
    for key, met in all_met.items():
        if met:
            suffix = "CV" if key == "pmm_cv" else ""
            models = f"PMMRegressor{suffix}/PMMClassifier{suffix}"
            lines.append(
                f"- {models}: targets met on {sum(met)}/{len(met)} datasets with "
                "a target."
            )
    return lines


def build_report(results, datasets_info, args, meta):
    out = []
    add = out.append
    add("# Tabular benchmark: default PMMs against tuned peers")
    add("")
    add(f"Command: `{meta['command']}`")
    add("")
    env = meta["environment"]
    add(
        f"Environment: Python {env['python']}, NumPy {env['numpy']}, SciPy "
        f"{env['scipy']}, scikit-learn {env['sklearn']}, joblib {env['joblib']}; "
        f"{env['cpu_count']} CPUs ({env['cpus_usable']} usable); load average "
        f"{env['loadavg_start']} at start, {env['loadavg_end']} at end; git "
        f"{env['git']}; sklearn_pmm {env['sklearn_pmm']}; outer jobs "
        f"n_jobs={args.n_jobs}, BLAS/OpenMP 1 thread per process."
    )
    add("")
    add(
        f"Total runtime {meta['runtime_s']:.0f} s ({meta['runtime_s'] / 60:.1f} "
        f"min wall); sum of the fold fits' CPU time {meta['cpu_s']:.0f} s "
        f"({meta['cpu_s'] / 60:.1f} CPU-min)."
    )
    add("")
    add(
        f"Protocol: 5-fold CV (`KFold` / `StratifiedKFold`, shuffle, random_state="
        f"{args.seed}), every model in `make_pipeline(StandardScaler(), model)`, "
        f"peers tuned by nested grid search (inner {args.inner_folds}-fold); see "
        "the docstring of `benchmarks/bench_tabular.py`.  Scores are mean ± std "
        "over the 5 outer folds; times are means per outer fold."
    )
    add("")
    if meta["pmm_params"]:
        for task, params in meta["pmm_params"].items():
            add(
                f"{LABELS[(task, 'pmm')]} as run (the members of "
                f"{LABELS[(task, 'pmm_cv')]}, five by default): `{params}`."
            )
        add("")
    for task, metric in (("regression", "R²"), ("classification", "accuracy %")):
        names = [n for n in results if datasets_info[n]["task"] == task]
        if not names:
            continue
        add(f"## {task.capitalize()} ({metric})")
        add("")
        add(
            f"| dataset | model | {metric} | fold s | fold CPU s | refit s "
            "| trainable floats | conv. warn. |"
        )
        add("|---|---|---|---|---|---|---|---|")
        for name in names:
            info = datasets_info[name]
            shape = f"{info['n_samples']} x {info['n_features']}"
            if task == "classification":
                shape += f", {info['n_classes']} cl."
            best = max(results[name], key=lambda k: _scores(results[name][k]).mean())
            for i, (key, folds) in enumerate(results[name].items()):
                score = _fmt_score(task, _scores(folds))
                if key == best and len(results[name]) > 1:
                    score = f"**{score}**"
                warned = sum(f["n_convergence_warnings"] > 0 for f in folds)
                add(
                    f"| {name + ' (' + shape + ')' if i == 0 else ''} "
                    f"| {LABELS[(task, key)]} | {score} "
                    f"| {_fmt_time(_mean(folds, 'fold_s'))} "
                    f"| {_fmt_time(_mean(folds, 'fold_cpu_s'))} "
                    f"| {_fmt_time(_mean(folds, 'refit_s'))} "
                    f"| {_mean(folds, 'floats'):,.0f} | {warned}/{len(folds)} |"
                )
        add("")
    add("## PMM vs best peer")
    add("")
    out.extend(summary_lines(results, datasets_info))
    add("")
    add("## Chosen hyperparameters (per outer fold)")
    add("")
    add("| dataset | model | chosen |")
    add("|---|---|---|")
    for name, models in results.items():
        task = datasets_info[name]["task"]
        for key, folds in models.items():
            if key in PMM_KEYS:
                iters = [f["n_iter"] for f in folds]
                text = f"(as run, not tuned) L-BFGS iterations per fold {iters}"
            elif key == "gp":
                text = _gp_choice(folds)
            else:
                text = _choices(folds)
            add(f"| {name} | {LABELS[(task, key)]} | {text} |")
    add("")
    add("## Grids")
    add("")
    for label, text in describe_grids(args.inner_folds, results, datasets_info):
        add(f"- {label}: {text}")
    add("")
    return "\n".join(out)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def _parse_list(text, choices, aliases, what, parser, extra=None):
    if text is None or text.strip().lower() == "all":
        return list(choices)
    out = []
    for item in text.split(","):
        key = item.strip().lower().replace("-", "_")
        if not key:
            continue
        if extra and key in extra:
            out.extend(k for k in extra[key] if k not in out)
            continue
        key = aliases.get(key, aliases.get(key.replace("_", "-"), key))
        if key not in choices:
            parser.error(f"unknown {what} {item!r}; choose from {', '.join(choices)}")
        if key not in out:
            out.append(key)
    return [k for k in choices if k in out]


def _json_params(text, parser, flag):
    if not text:
        return {}
    try:
        params = json.loads(text)
    except json.JSONDecodeError as exc:
        parser.error(f"{flag}: invalid JSON ({exc})")
    if not isinstance(params, dict):
        parser.error(f"{flag}: expected a JSON object")
    return params


def _pmm_version():
    import sklearn_pmm

    where = os.path.dirname(os.path.abspath(sklearn_pmm.__file__))
    return f"{sklearn_pmm.__version__} from {where}"


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="See the module docstring for the protocol, grids and columns.",
    )
    parser.add_argument(
        "--datasets", help=f"comma list from {', '.join(DATASETS)} (default all)"
    )
    parser.add_argument(
        "--models",
        help=f"comma list from {', '.join(MODELS)}, or 'peers' (all but the PMMs); "
        "default all.  Models that do not apply to a dataset's task are skipped",
    )
    parser.add_argument(
        "--pmm-params",
        metavar="JSON",
        help="PMM parameters for both estimators, e.g. '{\"alpha\": 0.1}'",
    )
    parser.add_argument(
        "--pmm-reg-params", metavar="JSON", help="PMMRegressor only (wins)"
    )
    parser.add_argument(
        "--pmm-clf-params", metavar="JSON", help="PMMClassifier only (wins)"
    )
    parser.add_argument(
        "--n-jobs", type=int, default=1, help="joblib workers over the outer folds"
    )
    parser.add_argument("--seed", type=int, default=0, help="CV and model seed")
    parser.add_argument(
        "--inner-folds", type=int, default=3, help="inner CV folds of the searches"
    )
    parser.add_argument(
        "--output",
        metavar="PATH.md",
        help="write the report here and the raw per-fold numbers to PATH.json",
    )
    args = parser.parse_args(argv)
    datasets = _parse_list(args.datasets, tuple(DATASETS), {}, "dataset", parser)
    models = _parse_list(
        args.models, MODELS, ALIASES, "model", parser, extra={"peers": PEERS}
    )
    base = _json_params(args.pmm_params, parser, "--pmm-params")
    pmm_params = {
        "regression": {
            **base,
            **_json_params(args.pmm_reg_params, parser, "--pmm-reg-params"),
        },
        "classification": {
            **base,
            **_json_params(args.pmm_clf_params, parser, "--pmm-clf-params"),
        },
    }
    pmm_full = {}
    for task in ("regression", "classification"):
        if not set(PMM_KEYS) & set(models) or not any(
            DATASETS[n][0] == task for n in datasets
        ):
            continue
        cls = _pmm(task)
        try:
            est = cls(random_state=args.seed).set_params(**pmm_params[task])
        except ValueError as exc:
            parser.error(f"{cls.__name__}: {exc}")
        pmm_full[task] = {
            k: v for k, v in est.get_params().items() if k not in ("verbose",)
        }

    command = "python benchmarks/bench_tabular.py" + (
        " " + shlex.join(sys.argv[1:] if argv is None else argv)
        if (sys.argv[1:] if argv is None else argv)
        else ""
    )
    environment = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
        "joblib": joblib.__version__,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "loadavg_start": load_average(),
        "git": git_describe(),
        "sklearn_pmm": _pmm_version() if pmm_full else "not imported (no PMM run)",
        "platform": platform.platform(),
    }

    datasets_info, jobs = {}, []
    for name in datasets:
        task, load = DATASETS[name]
        X, y = load()
        datasets_info[name] = {
            "task": task,
            "n_samples": int(X.shape[0]),
            "n_features": int(X.shape[1]),
            "n_classes": int(len(np.unique(y))) if task == "classification" else None,
        }
        for key in models:
            if key not in TASK_MODELS[task]:
                continue
            params = pmm_params[task] if key in PMM_KEYS else {}
            for fold in range(5):
                jobs.append(
                    (name, task, key, fold, args.seed, args.inner_folds, params)
                )
    if not jobs:
        parser.error("no (dataset, model) pair to run")

    order = sorted(range(len(jobs)), key=lambda i: (-_cost(jobs[i][0], jobs[i][2]), i))
    start = time.perf_counter()
    records = [None] * len(jobs)
    done = {}
    parallel = Parallel(n_jobs=args.n_jobs, return_as="generator_unordered")
    stream = parallel(delayed(_indexed_fit)(i, jobs[i]) for i in order)
    for i, rec in stream:
        records[i] = rec
        name, task, key = jobs[i][:3]
        done.setdefault((name, key), []).append(rec)
        if len(done[(name, key)]) == 5:
            folds = done[(name, key)]
            print(
                f"[{time.perf_counter() - start:7.1f}s] {name:>13s} "
                f"{LABELS[(task, key)]:>22s}: {_fmt_score(task, _scores(folds))} "
                f"fold {_mean(folds, 'fold_s'):6.2f}s "
                f"(CPU {_mean(folds, 'fold_cpu_s'):6.2f}s)",
                file=sys.stderr,
                flush=True,
            )
    runtime = time.perf_counter() - start
    environment["loadavg_end"] = load_average()

    results = {}
    for (name, _, key, *_), rec in zip(jobs, records, strict=True):
        results.setdefault(name, {}).setdefault(key, []).append(rec)
    for models_ in results.values():
        for folds in models_.values():
            folds.sort(key=lambda f: f["fold"])
    meta = {
        "command": command,
        "environment": environment,
        "runtime_s": runtime,
        "cpu_s": float(sum(r["fold_cpu_s"] for r in records)),
        "pmm_params": pmm_full,
    }
    report = build_report(results, datasets_info, args, meta)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w") as fh:
            fh.write(report + "\n")
        stem = args.output[:-3] if args.output.endswith(".md") else args.output
        with open(stem + ".json", "w") as fh:
            json.dump(
                {
                    **meta,
                    "seed": args.seed,
                    "inner_folds": args.inner_folds,
                    "n_jobs": args.n_jobs,
                    "datasets": datasets_info,
                    "models": models,
                    "grids": dict(
                        describe_grids(args.inner_folds, results, datasets_info)
                    ),
                    "results": results,
                },
                fh,
                indent=1,
                default=str,
            )
        print(f"wrote {args.output}, {stem}.json", file=sys.stderr)
    print(report)


if __name__ == "__main__":
    main()
