"""
==========================================
Tuning matrix size and decoders with CV
==========================================

:class:`sklearn_pmm.PMMRegressor` is a regular scikit-learn estimator, so it
composes with :class:`~sklearn.pipeline.Pipeline` and
:class:`~sklearn.model_selection.GridSearchCV`. This example tunes two
capacity parameters by 3-fold cross-validation on Franke's function:

* ``matrix_size``, the size :math:`n` of the Hermitian matrices;
* ``n_decoders``, the number of decoder matrices per output (``None`` gives one
  decoder per pair of read-out eigenvectors).

The mean cross-validated error is drawn as a heatmap over the grid.
"""

# SPDX-License-Identifier: BSD-3-Clause

# %%
# Data and pipeline
# -----------------
# A :class:`~sklearn.preprocessing.StandardScaler` in front of the model is
# harmless (the PMM also standardises its inputs internally) and shows how the
# estimator's parameters are addressed inside a pipeline:
# ``pmmregressor__matrix_size``. The L-BFGS budget is kept small
# (``max_iter=200``) so that the 27 fits of the search stay fast; a larger
# budget changes the errors, and can change which cell wins.
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_pmm import PMMRegressor
from sklearn_pmm.datasets import (
    franke,
    make_test_function,
    make_test_grid,
    normalized_mae,
)

X, y = make_test_function("franke", n_samples=200, random_state=0)

pipe = make_pipeline(
    StandardScaler(),
    PMMRegressor(
        n_eigenvectors=3,
        which="lowest",
        readout="decoder",
        hermitian="complex",
        max_iter=200,
        random_state=0,
    ),
)
matrix_sizes = [3, 5, 7]
decoder_counts = [1, 2, None]
param_grid = {
    "pmmregressor__matrix_size": matrix_sizes,
    "pmmregressor__n_decoders": decoder_counts,
}
search = GridSearchCV(
    pipe,
    param_grid,
    scoring="neg_mean_absolute_error",
    cv=KFold(n_splits=3, shuffle=True, random_state=0),
)

# %%
# Search
# ------
# Stopping at ``max_iter`` raises a
# :class:`~sklearn.exceptions.ConvergenceWarning`; it is expected with this
# budget and silenced here.
tic = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore", category=ConvergenceWarning)
    search.fit(X, y)
print(f"search time: {time.perf_counter() - tic:.1f} s")
print(f"best parameters: {search.best_params_}")
print(f"best CV mean absolute error: {-search.best_score_:.3g}")

X_test = make_test_grid()
y_test = franke(X_test[:, 0], X_test[:, 1])
y_pred = search.predict(X_test)
test_mae = np.mean(np.abs(y_pred - y_test))
test_nmae = normalized_mae(y_test, y_pred)
print(f"best model on the 100 x 100 grid: MAE {test_mae:.3g}, NMAE {test_nmae:.3g}")

# %%
# Cross-validated error over the grid
# -----------------------------------
# ``cv_results_`` lists the candidates in the order of
# :class:`~sklearn.model_selection.ParameterGrid`; the error of each cell is
# looked up by its parameters, so the layout does not rely on that order.
mae = np.empty((len(matrix_sizes), len(decoder_counts)))
for params, score in zip(
    search.cv_results_["params"], search.cv_results_["mean_test_score"], strict=True
):
    i = matrix_sizes.index(params["pmmregressor__matrix_size"])
    j = decoder_counts.index(params["pmmregressor__n_decoders"])
    mae[i, j] = -score

fig, ax = plt.subplots(figsize=(5.5, 4.5), layout="constrained")
log_mae = np.log10(mae)
im = ax.imshow(log_mae, cmap="viridis_r", origin="lower")
threshold = log_mae.min() + 0.5 * np.ptp(log_mae)
for i in range(len(matrix_sizes)):
    for j in range(len(decoder_counts)):
        ax.text(
            j,
            i,
            f"{mae[i, j]:.2e}",
            ha="center",
            va="center",
            color="white" if log_mae[i, j] > threshold else "black",
            fontweight="bold" if mae[i, j] == mae.min() else "normal",
        )
ax.set_xticks(range(len(decoder_counts)), [str(d) for d in decoder_counts])
ax.set_yticks(range(len(matrix_sizes)), [str(n) for n in matrix_sizes])
ax.set_xlabel("n_decoders (None: one per eigenvector pair)")
ax.set_ylabel("matrix_size")
ax.set_title("Mean 3-fold CV mean absolute error (Franke)")
fig.colorbar(im, ax=ax, label=r"$\log_{10}$ MAE")
plt.show()

# %%
# The chosen model
# ----------------
best = search.best_params_
print(
    f"chosen: matrix_size={best['pmmregressor__matrix_size']}, "
    f"n_decoders={best['pmmregressor__n_decoders']}, "
    f"{search.best_estimator_[-1].n_params_} trainable floats"
)
