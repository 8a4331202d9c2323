# SPDX-License-Identifier: BSD-3-Clause
"""scikit-learn's common estimator checks, with no expected failures."""

import pytest
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    parametrize_with_checks,
)

from sklearn_pmm import PMMRegressor

CHEAP = dict(matrix_size=4, n_eigenvectors=2, max_iter=50, random_state=0)

REGRESSORS = [
    PMMRegressor(**CHEAP),
    PMMRegressor(**CHEAP, hermitian="real", which="highest"),
    PMMRegressor(**CHEAP, readout="expectation"),
    PMMRegressor(**CHEAP, hermitian="real", n_decoders=2),
    # check_regressor_multioutput fits 5 targets: one eigenvalue per target.
    PMMRegressor(
        matrix_size=5,
        n_eigenvectors=5,
        readout="eigenvalues",
        max_iter=50,
        random_state=0,
    ),
]


@parametrize_with_checks(
    REGRESSORS, expected_failed_checks=lambda estimator: {}, xfail_strict=True
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", REGRESSORS[:1], ids=repr)
def test_param_validation(estimator):
    check_param_validation(type(estimator).__name__, estimator)


@pytest.mark.parametrize("estimator", REGRESSORS[:2], ids=repr)
def test_dataframe_column_names_consistency(estimator):
    check_dataframe_column_names_consistency(type(estimator).__name__, estimator)
