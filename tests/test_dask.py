# SPDX-License-Identifier: BSD-3-Clause
"""The estimators on a Dask cluster: searches, restarts, prediction, training.

A two-worker :class:`distributed.LocalCluster` (one thread each, separate
processes, so every task is pickled as it would be on a real cluster) is
started once for the module. The tests check the four ways of scaling out
that ``doc/scaling_out.rst`` describes:

* model selection and restarts through joblib's ``"dask"`` backend give the
  very same result as on the local machine;
* prediction on a chunked :mod:`dask.array` (``map_blocks``) gives the
  in-memory prediction;
* out-of-core training, :meth:`partial_fit` over the blocks of a Dask array,
  learns, and is the same computation as the loop over in-memory blocks.

The patterns use :mod:`dask.array` directly; dask-ml's wrappers, which
package the same patterns, are checked only where dask-ml is installed (it
is not part of the ``dask`` extra, see the documentation). The whole file
takes 15-20 s on a two-core machine, cluster start-up included (40 s when
the machine was heavily loaded).
"""

import importlib
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

import dask  # noqa: E402
import joblib  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold  # noqa: E402

from sklearn_pmm import PMMClassifier, PMMRegressor  # noqa: E402

# Short fits stop at max_iter on purpose; their ConvergenceWarning is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def client():
    """A local two-process cluster and its client, for the whole module."""
    with warnings.catch_warnings():
        # Start-up may warn about the machine (memory limits, ports).
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        client = distributed.Client(cluster)
    # Import the package on the workers now, so that the tests time their
    # own tasks rather than the workers' first imports.
    client.run(importlib.import_module, "sklearn_pmm")
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def make_regression(n_samples, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, (n_samples, 2))
    return X, np.sin(2.0 * X[:, 0]) + 0.5 * X[:, 1] ** 2


def n_tasks_run(client, function):
    """Run ``function()`` and count the tasks the cluster ran meanwhile."""
    with distributed.get_task_stream(client) as stream:
        result = function()
    return result, len(stream.data)


def blockwise(method, X, n_outputs=None):
    """``method`` on each block of rows of the dask array ``X``."""
    X = X.rechunk({1: -1})  # whole rows in every block
    if n_outputs is None:
        return X.map_blocks(method, drop_axis=1, dtype=np.float64)
    return X.map_blocks(method, chunks=(X.chunks[0], (n_outputs,)), dtype=np.float64)


# --------------------------------------------------------------------------
# joblib's dask backend: the same results as on the local machine
# --------------------------------------------------------------------------


def test_grid_search_same_as_local(client):
    X, y = make_regression(150)
    search = GridSearchCV(
        PMMRegressor(n_eigenvectors=2, max_iter=30, n_jobs=1, random_state=0),
        {"matrix_size": [3, 4]},
        cv=KFold(n_splits=3, shuffle=True, random_state=0),
    )
    local = GridSearchCV(**search.get_params(deep=False)).fit(X, y)

    def fit_on_cluster():
        with joblib.parallel_config(backend="dask"):
            return GridSearchCV(**{**search.get_params(deep=False), "n_jobs": -1}).fit(
                X, y
            )

    remote, n_tasks = n_tasks_run(client, fit_on_cluster)
    assert n_tasks > 0  # the (candidate, fold) fits ran on the cluster
    assert remote.best_params_ == local.best_params_
    assert remote.best_score_ == pytest.approx(local.best_score_, rel=0, abs=1e-12)
    assert_allclose(
        remote.cv_results_["mean_test_score"],
        local.cv_results_["mean_test_score"],
        rtol=0,
        atol=1e-12,
    )
    assert_array_equal(remote.predict(X), local.predict(X))


def test_restarts_same_as_local(client):
    X, y = make_regression(150)
    params = dict(matrix_size=3, max_iter=40, n_restarts=2, n_jobs=2, random_state=0)
    local = PMMRegressor(**params).fit(X, y)

    def fit_on_cluster():
        with joblib.parallel_config(backend="dask"):
            return PMMRegressor(**params).fit(X, y)

    remote, n_tasks = n_tasks_run(client, fit_on_cluster)
    assert n_tasks > 0  # the starts ran on the cluster
    assert remote.loss_ == local.loss_
    assert_array_equal(remote.hamiltonians_, local.hamiltonians_)
    assert_array_equal(remote.predict(X), local.predict(X))


# --------------------------------------------------------------------------
# Prediction on a dask array, block by block
# --------------------------------------------------------------------------


def test_predict_dask_array_regressor(client):
    X, y = make_regression(400)
    reg = PMMRegressor(matrix_size=3, max_iter=40, random_state=0).fit(X, y)
    X_dask = da.from_array(X, chunks=(100, 1))  # 4 x 2 blocks, rechunked to rows
    y_dask = blockwise(reg.predict, X_dask)
    assert y_dask.numblocks == (4,)
    y_pred = y_dask.compute()
    # The same computation as predicting each block of rows in memory...
    assert_array_equal(
        y_pred,
        np.concatenate([reg.predict(X[i : i + 100]) for i in range(0, 400, 100)]),
    )
    # ... and the in-memory prediction up to rounding: a PMM's outputs are
    # row-wise, but the readout's GEMM over the sample axis rounds
    # differently with the number of rows (differences of order 1e-16).
    assert_allclose(y_pred, reg.predict(X), rtol=1e-12, atol=1e-12)


def test_predict_proba_dask_array_classifier(client):
    X, _ = make_regression(400)
    y = np.digitize(X[:, 0] + X[:, 1] ** 2, [-0.2, 0.5])  # three classes
    clf = PMMClassifier(matrix_size=4, max_iter=40, random_state=0).fit(X, y)
    X_dask = da.from_array(X, chunks=(100, 2))
    proba_dask = blockwise(clf.predict_proba, X_dask, n_outputs=len(clf.classes_))
    proba = proba_dask.compute()
    assert proba.shape == (400, 3)
    assert_array_equal(
        proba,
        np.concatenate([clf.predict_proba(X[i : i + 100]) for i in range(0, 400, 100)]),
    )
    assert_allclose(proba, clf.predict_proba(X), rtol=1e-12, atol=1e-12)
    labels = X_dask.map_blocks(clf.predict, drop_axis=1, dtype=clf.classes_.dtype)
    assert_array_equal(labels.compute(), clf.predict(X))


# --------------------------------------------------------------------------
# Out-of-core training: partial_fit over the blocks of a dask array
# --------------------------------------------------------------------------


def lazy_regression(n_samples, block_rows, seed):
    """A data set that exists only as a task graph, in blocks of rows."""
    X = da.random.default_rng(seed).uniform(
        -1.0, 1.0, size=(n_samples, 2), chunks=(block_rows, 2)
    )
    return X, da.sin(2.0 * X[:, 0]) + 0.5 * X[:, 1] ** 2


def test_partial_fit_over_dask_blocks(client):
    X, y = lazy_regression(4000, 1000, seed=0)
    assert X.numblocks == (4, 1)
    params = dict(matrix_size=3, solver="adam", learning_rate_init=0.03, random_state=0)
    n_passes = 3

    out_of_core = PMMRegressor(**params)
    for _ in range(n_passes):
        # One block at a time is computed (by the cluster) and sent here.
        for X_block, y_block in zip(X.blocks, y.blocks, strict=True):
            out_of_core.partial_fit(*dask.compute(X_block, y_block))

    X_np, y_np = dask.compute(X, y)
    in_memory = PMMRegressor(**params)
    for _ in range(n_passes):
        for start in range(0, 4000, 1000):
            rows = slice(start, start + 1000)
            in_memory.partial_fit(X_np[rows], y_np[rows])

    assert out_of_core.n_iter_ == in_memory.n_iter_ == n_passes * 4
    assert out_of_core.loss_curve_ == in_memory.loss_curve_
    assert_array_equal(out_of_core.hamiltonians_, in_memory.hamiltonians_)
    assert_array_equal(out_of_core.decoders_, in_memory.decoders_)
    # Held-out R^2 after 3 passes, measured 0.961 to 0.986 over data and
    # model seeds 0-4 (0.986 for seed 0).
    X_test, y_test = dask.compute(*lazy_regression(1000, 1000, seed=1))
    assert out_of_core.score(X_test, y_test) > 0.9


# --------------------------------------------------------------------------
# dask-ml's wrappers, where dask-ml is installed
# --------------------------------------------------------------------------


def test_dask_ml_wrappers(client):
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y = make_regression(400)
    X_dask = da.from_array(X, chunks=(100, 2))
    y_dask = da.from_array(y, chunks=100)

    reg = PMMRegressor(matrix_size=3, max_iter=40, random_state=0)
    post_fit = wrappers.ParallelPostFit(reg).fit(X, y)
    assert_array_equal(
        post_fit.predict(X_dask).compute(),
        blockwise(reg.fit(X, y).predict, X_dask).compute(),
    )

    params = dict(matrix_size=3, solver="adam", learning_rate_init=0.03, random_state=0)
    incremental = wrappers.Incremental(PMMRegressor(**params), shuffle_blocks=False)
    manual = PMMRegressor(**params)
    for _ in range(2):
        incremental.partial_fit(X_dask, y_dask)
        for start in range(0, 400, 100):
            manual.partial_fit(X[start : start + 100], y[start : start + 100])
    assert_array_equal(incremental.estimator_.hamiltonians_, manual.hamiltonians_)
