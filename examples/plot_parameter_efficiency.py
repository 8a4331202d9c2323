"""
=====================================================
Parameter efficiency: error against trainable floats
=====================================================

How many trainable numbers does a model need for a given accuracy? This
example fits :class:`sklearn_pmm.PMMRegressor` models of growing matrix size
and :class:`~sklearn.neural_network.MLPRegressor` networks of growing width on
two of the paper's test functions, and plots the test error against the
number of trainable floats:

* for the PMM, ``n_params_``: the independent real numbers of its Hermitian
  matrices and biases (:math:`n^2` per complex :math:`n \\times n` matrix);
* for the MLP, the entries of ``coefs_`` and ``intercepts_``.

The data follow the paper's protocol (200 uniform points on the unit square,
the :math:`100 \\times 100` test grid, normalised MAE). Franke's function is a
sum of Gaussian bumps; Runge's is a single peak
:math:`1/(1 + (10x - 5)^2 + (10y - 5)^2)`.
"""

# SPDX-License-Identifier: BSD-3-Clause

# %%
# Models
# ------
# PMMs: complex matrices of size 2 to 5, the lowest three eigenvectors (two
# for :math:`n = 2`), one decoder per pair, at most 600 L-BFGS iterations.
# MLPs: ``tanh`` networks trained with L-BFGS as in the repository's benchmark
# (``benchmarks/bench_paper.py``), on standardised inputs and targets, with a
# small fixed ``alpha`` and at most 3000 iterations. Neither family is tuned
# beyond its size.
import warnings

import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_pmm import PMMRegressor
from sklearn_pmm.datasets import (
    franke,
    make_test_function,
    make_test_grid,
    normalized_mae,
    runge,
)

matrix_sizes = [2, 3, 4, 5]
hidden_layers = [(4,), (8,), (16,), (8, 8), (16, 16)]


def make_pmm(n):
    return PMMRegressor(
        matrix_size=n,
        n_eigenvectors=min(3, n),
        which="lowest",
        readout="decoder",
        hermitian="complex",
        # Noiseless data: fit all points, no validation split or prior.
        early_stopping=False,
        smoothness=0.0,
        max_iter=600,
        random_state=0,
    )


def make_mlp(layers):
    mlp = MLPRegressor(
        hidden_layer_sizes=layers,
        activation="tanh",
        solver="lbfgs",
        alpha=1e-6,
        max_iter=3000,
        tol=1e-7,
        random_state=0,
    )
    return TransformedTargetRegressor(
        make_pipeline(StandardScaler(), mlp), transformer=StandardScaler()
    )


def mlp_floats(model):
    mlp = model.regressor_[-1]
    return sum(w.size for w in mlp.coefs_) + sum(b.size for b in mlp.intercepts_)


# %%
# Fit every model
# ---------------
X_test = make_test_grid(100)
functions = {"Franke": franke, "Runge": runge}
pmm_curve = {}
mlp_curve = {}
for name, function in functions.items():
    X_train, y_train = make_test_function(name, n_samples=200, random_state=0)
    y_test = function(X_test[:, 0], X_test[:, 1])
    pmm_curve[name], mlp_curve[name] = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        for n in matrix_sizes:
            reg = make_pmm(n).fit(X_train, y_train)
            nmae = normalized_mae(y_test, reg.predict(X_test))
            pmm_curve[name].append((reg.n_params_, nmae))
            print(f"{name:6s} PMM n={n}: {reg.n_params_:5d} floats, nMAE {nmae:.2e}")
        for layers in hidden_layers:
            mlp = make_mlp(layers).fit(X_train, y_train)
            nmae = normalized_mae(y_test, mlp.predict(X_test))
            mlp_curve[name].append((mlp_floats(mlp), nmae))
            print(
                f"{name:6s} MLP {str(layers):8s}: {mlp_floats(mlp):5d} floats, "
                f"nMAE {nmae:.2e}"
            )

# %%
# Error against floats
# --------------------
fig, axes = plt.subplots(1, 2, figsize=(11, 4.3), layout="constrained")
for ax, name in zip(axes, functions, strict=True):
    for curve, label, marker in [
        (pmm_curve[name], "PMM (complex, n = 2..5)", "o"),
        (mlp_curve[name], "MLP (tanh)", "s"),
    ]:
        floats, errors = zip(*curve, strict=True)
        ax.plot(floats, errors, marker=marker, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks([20, 50, 100, 200, 400], labels=["20", "50", "100", "200", "400"])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("trainable floats")
    ax.set_title(name)
    ax.grid(True, which="both", alpha=0.3)
axes[0].set_ylabel("normalised MAE on the 100 x 100 grid")
axes[0].legend()
plt.show()

# %%
# Reading the plot
# ----------------
# Each point is a single fit with one seed and a fixed iteration budget, so
# the curves are indicative, not a tuned comparison (the repository's
# benchmark, ``benchmarks/results/paper_seed0.md``, tunes the MLP by
# cross-validation). Runge's function :math:`1/(1 + u^2 + w^2)`, with
# :math:`u, w` affine in :math:`x`, is exactly the squared expectation value
# of :math:`\sigma_z` in the lowest eigenvector of the complex
# :math:`2 \times 2` matrix :math:`u\sigma_x + w\sigma_y + \sigma_z`, so the
# smallest PMM can represent it; the larger PMMs do not find that solution
# within their budget, a reminder that the fit is not convex. Franke's function
# has no such structure, and there the two curves are close, the MLP's lying
# slightly lower at several sizes. The last lines print, for each function,
# the smallest error each family reached and the floats it used.
for name in functions:
    for family, curve in [("PMM", pmm_curve[name]), ("MLP", mlp_curve[name])]:
        floats, error = min(curve, key=lambda point: point[1])
        print(f"{name:6s} best {family}: nMAE {error:.2e} with {floats} floats")
