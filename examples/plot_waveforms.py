"""
===================================
One-dimensional waveform regression
===================================

The PMM talk shows a PMM fitting one-dimensional signals. This example
fits :class:`sklearn_pmm.PMMRegressor` to the six waveforms of
:func:`sklearn_pmm.datasets.make_waveform` (two periods of a sine, a square
wave, a sawtooth and a triangle wave, a damped oscillation with five periods,
and a linear chirp) from 200 noiseless random samples on :math:`[0, 1)`.

With one feature the primary matrix is :math:`H(x) = H_0 + x H_1`: the whole
signal comes from how the eigenvectors of this one-parameter family turn as
:math:`x` runs over the interval.
"""

# SPDX-License-Identifier: BSD-3-Clause

# %%
# Fit the six waveforms
# ---------------------
# Real symmetric :math:`7 \times 7` matrices (a one-parameter real family
# generically has no level crossings, so complex matrices are not needed to
# avoid them), the three lowest eigenvectors, one decoder per pair, at most
# 400 L-BFGS iterations. The score is the :math:`R^2` on 1000 evenly spaced
# points of :math:`[0, 1)`.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score

from sklearn_pmm import PMMRegressor
from sklearn_pmm.datasets import make_waveform, waveform

kinds = ["sine", "square", "sawtooth", "triangle", "damped_oscillation", "chirp"]
x_plot = np.linspace(0.0, 1.0, 1000, endpoint=False)  # the sampled [0, 1)
r2 = {}
curves = {}
for kind in kinds:
    X, y = make_waveform(kind, n_samples=200, random_state=0)
    reg = PMMRegressor(
        matrix_size=7,
        n_eigenvectors=3,
        which="lowest",
        readout="decoder",
        hermitian="real",
        # Noiseless data: fit all points, no validation split or prior.
        early_stopping=False,
        smoothness=0.0,
        max_iter=400,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        reg.fit(X, y)
    y_true = waveform(kind, x_plot)
    y_pred = reg.predict(x_plot[:, None])
    r2[kind] = r2_score(y_true, y_pred)
    curves[kind] = (X, y, y_true, y_pred)
    print(f"{kind:19s} R^2 {r2[kind]:.4f}  ({reg.n_params_} floats)")

# %%
# Plot
# ----
fig, axes = plt.subplots(3, 2, figsize=(11, 9), layout="constrained", sharex=True)
for ax, kind in zip(axes.ravel(), kinds, strict=True):
    X, y, y_true, y_pred = curves[kind]
    ax.plot(x_plot, y_true, color="black", linewidth=3, alpha=0.25, label="waveform")
    ax.plot(x_plot, y_pred, color="C1", label="PMM")
    ax.scatter(X[:, 0], y, s=6, color="C0", label="training samples")
    ax.set_title(f"{kind}: $R^2$ = {r2[kind]:.3f}", fontsize="medium")
for ax in axes[-1]:
    ax.set_xlabel("$x$")
axes[0, 0].legend(fontsize="small", loc="lower left")
plt.show()

# %%
# Reading the figure
# ------------------
# The smooth waveforms are reproduced closely. The square wave and the
# sawtooth have jumps; a PMM's output is an analytic function of :math:`x`
# (the eigenvectors of an affine family with no level crossing are analytic),
# so it can make a jump steep, through an avoided crossing, but not
# discontinuous, and the error concentrates at the jumps. The chirp's frequency
# rises to 10 periods per unit at the right end, where 200 random samples are
# sparsest relative to the oscillation.
worst = min(r2, key=r2.get)
print(f"lowest R^2: {worst} ({r2[worst]:.4f})")
