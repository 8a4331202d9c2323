# SPDX-License-Identifier: BSD-3-Clause
"""Parametric Matrix Models (PMMs) as scikit-learn estimators.

A PMM maps features to a Hermitian matrix :math:`H(x) = H_0 + \\sum_l x_l H_l`
and reads outputs from its eigensystem (Cook et al., Nature Communications 16,
5929, 2025).
"""

from sklearn_pmm._estimators.classifier import PMMClassifier
from sklearn_pmm._estimators.cv import PMMClassifierCV, PMMRegressorCV
from sklearn_pmm._estimators.image_classifier import PMMImageClassifier
from sklearn_pmm._estimators.regressor import PMMRegressor

__version__ = "0.1.0.dev0"

__all__ = [
    "PMMClassifier",
    "PMMClassifierCV",
    "PMMImageClassifier",
    "PMMRegressor",
    "PMMRegressorCV",
    "__version__",
]
