# SPDX-License-Identifier: BSD-3-Clause
"""scikit-learn's common estimator checks on every PMM estimator, with no
expected failures."""

import pytest
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    parametrize_with_checks,
)

from sklearn_pmm import (
    PMMClassifier,
    PMMClassifierCV,
    PMMImageClassifier,
    PMMRegressor,
    PMMRegressorCV,
)

# One start: the common checks test the API, not restarts (tests/test_fitting.py).
CHEAP = dict(matrix_size=4, n_eigenvectors=2, max_iter=50, n_restarts=0, random_state=0)

# Cheap classifier configurations: ten iterations keep the many common
# checks fast while every check still sees a working classifier.  They stop
# early, so that the checks also cover the validation split (the defaults
# entry below fits every row).  Weighted
# and repeated rows give the same fit because fit merges duplicate rows
# first; test_fitting runs scikit-learn's sample-weight check on full
# default fits.
CLASSIFIER = dict(max_iter=10, random_state=0, early_stopping=True)

ESTIMATORS = [
    PMMRegressor(**CHEAP),
    PMMRegressor(**CHEAP, hermitian="real", which="highest"),
    PMMRegressor(**CHEAP, readout="expectation"),
    PMMRegressor(**CHEAP, hermitian="real", n_decoders=2),
    PMMRegressor(**CHEAP, n_directions=2),
    # check_regressor_multioutput fits 5 targets: one level per target.
    PMMRegressor(matrix_size=5, readout="eigenvalues", max_iter=50, random_state=0),
    PMMClassifier(matrix_size=4, n_eigenvectors=2, readout="decoder", **CLASSIFIER),
    PMMClassifier(
        matrix_size=3,
        n_eigenvectors=2,
        readout="decoder",
        hermitian="complex",
        **CLASSIFIER,
    ),
    PMMClassifier(
        matrix_size=3,
        n_eigenvectors=2,
        n_decoders=None,
        readout="expectation",
        which="highest",
        hermitian="complex",
        **CLASSIFIER,
    ),
    PMMClassifier(
        matrix_size=4, n_eigenvectors=2, readout="decoder", n_directions=2, **CLASSIFIER
    ),
    # check_dtype_object fits four classes: one level per class.
    PMMClassifier(matrix_size=4, readout="eigenvalues", **CLASSIFIER),
    # The defaults (eigenvalue readout, no early stopping), run to convergence.
    PMMClassifier(matrix_size=4, random_state=0),
    # Rows without an image_shape are read as square images when the number
    # of features is a square, else as one-row images.
    PMMImageClassifier(
        window_shape=2,
        stride=1,
        latent_size=3,
        matrix_size=3,
        hermitian="real",
        max_iter=30,
        random_state=0,
    ),
    PMMRegressorCV(PMMRegressor(**CHEAP), n_estimators=2),
    PMMClassifierCV(
        PMMClassifier(matrix_size=4, n_eigenvectors=2, readout="decoder", **CLASSIFIER)
    ),
]


@parametrize_with_checks(
    ESTIMATORS, expected_failed_checks=lambda estimator: {}, xfail_strict=True
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def _first_of_each_class():
    seen = {}
    for estimator in ESTIMATORS:
        seen.setdefault(type(estimator), estimator)
    return list(seen.values())


@pytest.mark.parametrize("estimator", _first_of_each_class(), ids=repr)
def test_param_validation(estimator):
    check_param_validation(type(estimator).__name__, estimator)


@pytest.mark.parametrize("estimator", _first_of_each_class(), ids=repr)
def test_dataframe_column_names_consistency(estimator):
    check_dataframe_column_names_consistency(type(estimator).__name__, estimator)


@pytest.mark.parametrize(
    "estimator_class",
    [PMMRegressor, PMMClassifier, PMMImageClassifier, PMMRegressorCV, PMMClassifierCV],
)
def test_parameters_are_documented_in_signature_order(estimator_class):
    # numpydoc: the Parameters section lists every parameter, in the order of
    # the signature (the shared texts are filled in by fill_doc).
    import inspect
    import re

    section = estimator_class.__doc__.split("Parameters\n    ----------\n")[1]
    section = section.split("\n    Attributes\n")[0]
    documented = [
        name.strip()
        for names in re.findall(r"^    (\w[\w, ]*) :", section, flags=re.MULTILINE)
        for name in names.split(",")
    ]
    assert documented == list(inspect.signature(estimator_class).parameters)
