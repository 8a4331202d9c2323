"""
==================================
Robustness to noise in the targets
==================================

Real measurements are noisy. This example adds Gaussian noise of growing
standard deviation to the training targets of Franke's function
(:func:`sklearn_pmm.datasets.make_test_function` with ``noise``), fits a
:class:`sklearn_pmm.PMMRegressor` and a Gaussian process with a white-noise
term, and measures both on the *noiseless* test grid: how much of the noise
does each model pass on to its predictions?

The noise levels are relative to the function's range (Franke's function
takes values between about 0 and 1.2).
"""

# SPDX-License-Identifier: BSD-3-Clause

# %%
# Models
# ------
# The PMM is the paper's configuration, written out (complex :math:`7 \times 7`,
# the three lowest eigenvectors, one decoder per pair) with at most 300 L-BFGS
# iterations and a small L2 penalty, the same for all noise levels. The PMM
# has no model of the noise: its regularisers are the penalty ``alpha`` and
# the iteration budget ``max_iter``, which can be tuned by cross-validation
# like any hyperparameter. The GP estimates the noise level with its
# ``WhiteKernel`` and smooths accordingly.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_pmm import PMMRegressor
from sklearn_pmm.datasets import franke, make_test_function, make_test_grid


def make_pmm():
    return PMMRegressor(
        matrix_size=7,
        n_eigenvectors=3,
        which="lowest",
        readout="decoder",
        hermitian="complex",
        alpha=1e-3,
        max_iter=300,
        random_state=0,
    )


def make_gp():
    kernel = ConstantKernel() * Matern(length_scale=[1.0, 1.0], nu=2.5) + WhiteKernel(
        noise_level=1e-2, noise_level_bounds=(1e-10, 1.0)
    )
    return make_pipeline(
        StandardScaler(),
        GaussianProcessRegressor(kernel, normalize_y=True, random_state=0),
    )


# %%
# Fit at each noise level
# -----------------------
# The metric is the root-mean-square error on the noiseless
# :math:`100 \times 100` grid. A model that learnt the noise-free function
# exactly would score 0; one that interpolated the noisy samples would score
# about the noise level itself.
noise_levels = [0.0, 0.02, 0.05, 0.1]
X_test = make_test_grid(100)
y_test = franke(X_test[:, 0], X_test[:, 1])
rmse = {"PMM": [], "GP": []}
for noise in noise_levels:
    X_train, y_train = make_test_function(
        "franke", n_samples=200, noise=noise, random_state=0
    )
    for label, model in [("PMM", make_pmm()), ("GP", make_gp())]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=ConvergenceWarning)
            model.fit(X_train, y_train)
        error = model.predict(X_test) - y_test
        rmse[label].append(float(np.sqrt(np.mean(error**2))))
    print(
        f"noise {noise:.2f}: test RMSE  PMM {rmse['PMM'][-1]:.4f}   "
        f"GP {rmse['GP'][-1]:.4f}"
    )

# %%
# Test error against noise
# ------------------------
fig, ax = plt.subplots(figsize=(6.5, 4.3), layout="constrained")
ax.plot(
    noise_levels,
    noise_levels,
    color="0.6",
    linestyle="--",
    label="noise level (RMSE of the noisy targets)",
)
for label, marker in [("PMM", "o"), ("GP", "s")]:
    ax.plot(noise_levels, rmse[label], marker=marker, label=label)
ax.set_xlabel("standard deviation of the noise on the training targets")
ax.set_ylabel("RMSE on the noiseless test grid")
ax.legend()
plt.show()

# %%
# Reading the plot
# ----------------
# Points below the dashed line mean that the model averaged part of the noise
# away rather than reproducing it. The ratios printed below are the test RMSE
# divided by the noise level, for the noisy fits (lower is better).
for label in rmse:
    ratios = [r / s for r, s in zip(rmse[label], noise_levels, strict=True) if s > 0]
    print(f"{label}: test RMSE / noise = " + ", ".join(f"{q:.2f}" for q in ratios))
