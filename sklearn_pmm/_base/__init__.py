# SPDX-License-Identifier: BSD-3-Clause
"""The shared estimator base, on top of :mod:`sklearn_pmm._core`.

- :mod:`.estimator`: validation, standardisation, early stopping, restarts,
  warm start and ``partial_fit``, shared by every public estimator.
- :mod:`.solvers`: the L-BFGS and Adam drivers; they optimise any
  loss-and-gradient function, know nothing of PMMs, and call a monitor after
  every iteration (the early-stopping callbacks of :mod:`.estimator`).
- :mod:`.docstrings`: the parameter descriptions the estimators share.
"""
