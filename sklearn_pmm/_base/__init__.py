# SPDX-License-Identifier: BSD-3-Clause
"""The shared estimator base, on top of :mod:`sklearn_pmm._core`.

- :mod:`.estimator`: validation, standardisation, early stopping, restarts,
  warm start, ``partial_fit`` and callbacks, shared by every public estimator.
- :mod:`.solvers`: the L-BFGS and Adam drivers; they optimise any
  loss-and-gradient function and know nothing of PMMs.
- :mod:`.docstrings`: the parameter descriptions the estimators share.
"""
