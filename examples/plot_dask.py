"""
=========================================
Scaling out with Dask
=========================================

:class:`sklearn_pmm.PMMRegressor` runs on a `Dask <https://www.dask.org>`_
cluster in two ways, shown here on a local cluster of two workers:

* **model selection**: under joblib's ``"dask"`` backend,
  :class:`~sklearn.model_selection.GridSearchCV` sends each (candidate, fold)
  fit to a worker; the search picks the same model as on one machine;
* **out-of-core training**: :meth:`~sklearn_pmm.PMMRegressor.partial_fit`
  takes one Adam epoch over one block of a :mod:`dask.array` at a time, so the
  data set never sits in memory as a whole; prediction then runs block by
  block on the workers.

The same code runs on a real cluster when the
:class:`~distributed.Client` is given the scheduler's address instead of a
:class:`~distributed.LocalCluster`: see :ref:`pmm_scaling_out`. It needs the
``dask`` extra (``pip install sklearn-pmm[dask]``).
"""

# SPDX-License-Identifier: BSD-3-Clause

# %%
# A local cluster
# ---------------
# Two workers of one thread each, and no dashboard. The workers are threads
# of this process (``processes=False``), so that the example runs as it is,
# as a script or in the documentation build. The workers of a real cluster
# are processes on other machines; ``LocalCluster(processes=True)``, the
# default, starts local ones, which needs the script's code under
# ``if __name__ == "__main__":`` (they re-import the main module).
import time
import warnings

import dask
import dask.array as da
import joblib
import matplotlib.pyplot as plt
import numpy as np
from distributed import Client, LocalCluster
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_pmm import PMMRegressor
from sklearn_pmm.datasets import franke, make_test_function, normalized_mae

tic = time.perf_counter()
cluster = LocalCluster(
    n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
)
client = Client(cluster)
n_workers = len(client.scheduler_info()["workers"])
print(f"{n_workers} workers, started in {time.perf_counter() - tic:.1f} s")

# %%
# Grid search on the cluster
# --------------------------
# The estimator keeps ``n_jobs=1``: the parallelism is across the fits of the
# search, each of which runs on one worker. ``GridSearchCV(n_jobs=-1)`` inside
# ``joblib.parallel_config(backend="dask")`` hands the fits to the cluster;
# nothing else changes. The L-BFGS budget is kept small (``max_iter=200``, one
# start) so that the 9 fits stay short; stopping at it raises a
# :class:`~sklearn.exceptions.ConvergenceWarning`, silenced here.
X, y = make_test_function("franke", n_samples=300, random_state=0)
search = GridSearchCV(
    PMMRegressor(
        n_eigenvectors=3,
        max_iter=200,
        n_restarts=0,  # one start per fit, to keep the 9 fits short
        early_stopping=False,  # noiseless: every point trains
        smoothness=0.0,
        n_jobs=1,
        random_state=0,
    ),
    {"matrix_size": [3, 5, 7]},
    scoring="neg_mean_absolute_error",
    cv=KFold(n_splits=3, shuffle=True, random_state=0),
    n_jobs=-1,
)
tic = time.perf_counter()
with warnings.catch_warnings(), joblib.parallel_config(backend="dask"):
    warnings.simplefilter("ignore", category=ConvergenceWarning)
    search.fit(X, y)
print(f"search time: {time.perf_counter() - tic:.1f} s")
print(f"best parameters: {search.best_params_}")
print(f"best CV mean absolute error: {-search.best_score_:.3g}")
for params, score in zip(
    search.cv_results_["params"], search.cv_results_["mean_test_score"], strict=True
):
    print(f"  matrix_size={params['matrix_size']}: CV MAE {-score:.3g}")

# %%
# A data set that lives on the cluster
# ------------------------------------
# 20,000 points of Franke's function in 10 blocks of 2,000 rows. The array is
# a task graph: a block is generated when it is computed, on a worker, and
# only the blocks that are asked for travel to this process. A real data set
# would come from ``da.from_zarr``, ``da.from_npy_stack`` or
# ``dask.dataframe.read_parquet(...).to_dask_array(lengths=True)`` instead.
# The rows must be shuffled (here they are random): the first block fixes the
# standardisation of the inputs and targets.


def franke_rows(block):
    """Franke's function on each row of a block of points."""
    return franke(block[:, 0], block[:, 1])


X_big = da.random.default_rng(0).uniform(0.0, 1.0, size=(20_000, 2), chunks=(2_000, 2))
y_big = X_big.map_blocks(franke_rows, drop_axis=1, dtype=np.float64)
print(f"X: {X_big.shape}, {X_big.numblocks[0]} blocks of {X_big.chunksize[0]} rows")

# A held-out set, small enough to keep in memory.
X_val = np.random.default_rng(1).uniform(0.0, 1.0, (2_000, 2))
y_val = franke_rows(X_val)

# %%
# Out-of-core training
# --------------------
# Each call of :meth:`~sklearn_pmm.PMMRegressor.partial_fit` takes one Adam
# epoch (mini-batches of ``batch_size="auto"``, 200 rows) over one block;
# a pass over the data set is one call per block. The loop holds one block at
# a time.
reg = PMMRegressor(
    matrix_size=5,
    n_eigenvectors=3,
    solver="adam",
    learning_rate_init=0.03,
    random_state=0,
)
n_passes = 4
val_nmae = []
tic = time.perf_counter()
for _ in range(n_passes):
    for X_block, y_block in zip(X_big.blocks, y_big.blocks, strict=True):
        reg.partial_fit(*dask.compute(X_block, y_block))
    val_nmae.append(normalized_mae(y_val, reg.predict(X_val)))
print(f"training time: {time.perf_counter() - tic:.1f} s ({reg.n_iter_} epochs)")
for p, error in enumerate(val_nmae, start=1):
    print(f"  after pass {p}: held-out NMAE {error:.3g}")

# %%
# Prediction block by block
# -------------------------
# ``map_blocks`` runs the fitted model's ``predict`` on each block, on the
# workers; the error over the whole data set is reduced there too, and only
# the number comes back.
y_pred_big = X_big.map_blocks(reg.predict, drop_axis=1, dtype=np.float64)
train_mae = float(da.abs(y_pred_big - y_big).mean().compute())
print(f"mean absolute error over the 20,000 training points: {train_mae:.3g}")

fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
ax.plot(range(1, n_passes + 1), val_nmae, marker="o")
ax.set_xticks(range(1, n_passes + 1))
ax.set_yscale("log")
ax.set_xlabel("passes over the 10 blocks")
ax.set_ylabel("held-out NMAE")
ax.set_title("partial_fit over a Dask array (Franke)")
plt.show()

# %%
# Closing the cluster
# -------------------
# The client first, then the cluster and its worker processes.
client.close()
cluster.close()
