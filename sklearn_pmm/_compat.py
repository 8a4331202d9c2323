# SPDX-License-Identifier: BSD-3-Clause
"""The private scikit-learn helpers this package relies on, imported in one place."""

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight

__all__ = [
    "Interval",
    "StrOptions",
    "_fit_context",
    "check_sample_weight",
    "get_chunk_n_rows",
]


def check_sample_weight(sample_weight, X):
    """Non-negative float64 weights for the rows of ``X``, at least one positive.

    scikit-learn rejects all-zero weights itself only from 1.9 on; before,
    they reached the fit and failed there with an obscure NumPy error.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm._compat import check_sample_weight
    >>> check_sample_weight(None, np.zeros((2, 1)))
    array([1., 1.])
    """
    sample_weight = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    # Not sum() > 0: the sum of huge weights overflows (and warns).
    if not np.any(sample_weight > 0):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sample_weight
