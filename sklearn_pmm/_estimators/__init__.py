# SPDX-License-Identifier: BSD-3-Clause
"""The public estimators: thin classes on :mod:`sklearn_pmm._base`.

Each chooses a primary-matrix map, a readout and a data loss from
:mod:`sklearn_pmm._core` and declares its parameters; the fitting lives in the
base.  They are imported from the package itself, ``from sklearn_pmm import
PMMRegressor``.
"""
