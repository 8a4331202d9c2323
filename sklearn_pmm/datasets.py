# SPDX-License-Identifier: BSD-3-Clause
"""Benchmark data sets of the Parametric Matrix Model paper.

This module holds:

* the 13 two-dimensional regression test functions of the paper's benchmark
  (:data:`TEST_FUNCTIONS`), their sampling protocol
  (:func:`make_test_function`, :func:`make_test_grid`) and metric
  (:func:`normalized_mae`), with the paper's own PMM scores
  (:data:`PAPER_PMM_NMAE`);
* the paper's two classes of random smooth functions on :math:`[-1, 1]^2`:
  separable Fourier series :math:`\\sum a_{nm} \\sin(n\\pi x/3)
  \\sin(m\\pi y/3) + b_{nm} \\cos(n\\pi x/3) \\cos(m\\pi y/3)`
  (:func:`make_random_fourier`) and polynomials of degree at most :math:`d`
  in :math:`x` and in :math:`y` (:func:`make_random_polynomial`); two
  variants, plane-wave series :math:`\\cos(\\pi(k_x x + k_y y))`,
  :math:`\\sin(\\pi(k_x x + k_y y))` (:func:`make_random_plane_wave_series`)
  and polynomials of bounded total degree
  (:func:`make_random_total_degree_polynomial`); and their sampling protocol
  (:func:`make_random_function_data`);
* one-dimensional waveforms (:func:`waveform`, :func:`make_waveform`).

The paper's protocol: 200 training points drawn uniformly on
:math:`[0, 1)^2`, a test set on the :math:`100 \\times 100` uniform grid of
:math:`[0, 1]^2` including the edges, and the normalised mean absolute error
``mean(|y_test - y_pred|) / max(|y_test|)``.

Every function is vectorised with NumPy; none loops over samples in Python.

Examples
--------
>>> from sklearn_pmm.datasets import make_test_function, make_test_grid
>>> from sklearn_pmm.datasets import normalized_mae, runge
>>> X_train, y_train = make_test_function("Runge", random_state=0)
>>> X_test = make_test_grid()
>>> y_test = runge(X_test[:, 0], X_test[:, 1])
>>> X_train.shape, X_test.shape
((200, 2), (10000, 2))
>>> print(normalized_mae(y_test, y_test))
0.0
"""

import numbers

import numpy as np
from scipy import signal

__all__ = [
    "PAPER_PMM_NMAE",
    "TEST_FUNCTIONS",
    "bilinear",
    "cliff",
    "cloverleaf",
    "cosine_peak",
    "franke",
    "gaussians",
    "gentle",
    "make_random_fourier",
    "make_random_function_data",
    "make_random_plane_wave_series",
    "make_random_polynomial",
    "make_random_total_degree_polynomial",
    "make_test_function",
    "make_test_grid",
    "make_waveform",
    "normalized_mae",
    "runge",
    "saddle",
    "sphere",
    "steep",
    "trigonometric",
    "vicente_romero",
    "waveform",
]


# --------------------------------------------------------------------------
# Private helpers
# --------------------------------------------------------------------------


def _check_generator(random_state):
    """Turn ``random_state`` into a NumPy random generator.

    ``None``, an integer or a :class:`numpy.random.SeedSequence` seeds a new
    :func:`numpy.random.default_rng`; a :class:`numpy.random.Generator` or a
    :class:`numpy.random.RandomState` is used as is (and advanced).
    """
    if isinstance(random_state, np.random.Generator | np.random.RandomState):
        return random_state
    if (
        random_state is None
        or isinstance(random_state, np.random.SeedSequence)
        or (
            isinstance(random_state, numbers.Integral)
            and not isinstance(random_state, bool)
        )
    ):
        return np.random.default_rng(random_state)
    raise ValueError(
        "random_state must be None, an int, a numpy.random.Generator or a "
        f"numpy.random.RandomState; got {random_state!r}."
    )


def _check_n_samples(n_samples, name="n_samples", minimum=1):
    if not isinstance(n_samples, numbers.Integral) or isinstance(n_samples, bool):
        raise ValueError(f"{name} must be an int >= {minimum}; got {n_samples!r}.")
    if n_samples < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {n_samples!r}.")
    return int(n_samples)


def _check_noise(noise):
    if (
        not isinstance(noise, numbers.Real)
        or isinstance(noise, bool)
        or not np.isfinite(noise)
        or noise < 0
    ):
        raise ValueError(f"noise must be a finite real number >= 0; got {noise!r}.")
    return float(noise)


def _normalize_name(name):
    """Lower-case ``name`` and map '-', '_' and runs of spaces to one space."""
    if not isinstance(name, str):
        raise ValueError(f"name must be a string; got {name!r}.")
    return " ".join(name.replace("_", " ").replace("-", " ").lower().split())


def _kind_key(kind):
    """``kind`` as a snake_case registry key, or ``None`` if not a string
    (so that the caller reports it as an unknown kind)."""
    if not isinstance(kind, str):
        return None
    return _normalize_name(kind).replace(" ", "_")


def _xy(x, y):
    """Broadcast ``x`` and ``y`` to float arrays of a common shape."""
    x, y = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return x, y


def _grid(n_points, low, high):
    n_points = _check_n_samples(n_points, name="n_points", minimum=2)
    axis = np.linspace(low, high, n_points)
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    return np.column_stack([xx.ravel(), yy.ravel()])


# --------------------------------------------------------------------------
# The 13 test functions of the paper's regression benchmark
# --------------------------------------------------------------------------


def franke(x, y):
    r"""Franke's function (sum of four Gaussian bumps).

    .. math::

        f(x, y) = \tfrac34 e^{-((9x-2)^2 + (9y-2)^2)/4}
                + \tfrac34 e^{-(9x+1)^2/49 - (9y+1)/10}
                + \tfrac12 e^{-((9x-7)^2 + (9y-3)^2)/4}
                - \tfrac15 e^{-(9x-4)^2 - (9y-7)^2}

    Parameters
    ----------
    x, y : array-like
        Coordinates, broadcast against each other. The benchmark domain is
        :math:`[0, 1]^2`.

    Returns
    -------
    z : ndarray
        Function values, of the broadcast shape of ``x`` and ``y``.

    References
    ----------
    .. [1] R. Franke, *A critical comparison of some methods for interpolation
       of scattered data*, Technical Report NPS-53-79-003, Naval Postgraduate
       School, Monterey, 1979.

    Examples
    --------
    >>> from sklearn_pmm.datasets import franke
    >>> print(round(float(franke(0.5, 0.5)), 6))
    0.325762
    """
    x, y = _xy(x, y)
    x9, y9 = 9.0 * x, 9.0 * y
    return (
        0.75 * np.exp(-((x9 - 2.0) ** 2 + (y9 - 2.0) ** 2) / 4.0)
        + 0.75 * np.exp(-((x9 + 1.0) ** 2) / 49.0 - (y9 + 1.0) / 10.0)
        + 0.5 * np.exp(-((x9 - 7.0) ** 2 + (y9 - 3.0) ** 2) / 4.0)
        - 0.2 * np.exp(-((x9 - 4.0) ** 2) - (y9 - 7.0) ** 2)
    )


def cliff(x, y):
    r"""Franke's "cliff" function (a steep tanh step along the diagonal).

    .. math::

        f(x, y) = \frac{\tanh(9(y - x))}{9} + \frac19

    Parameters
    ----------
    x, y : array-like
        Coordinates, broadcast against each other. The benchmark domain is
        :math:`[0, 1]^2`.

    Returns
    -------
    z : ndarray
        Function values, of the broadcast shape of ``x`` and ``y``.

    References
    ----------
    .. [1] R. Franke, *A critical comparison of some methods for interpolation
       of scattered data*, Technical Report NPS-53-79-003, Naval Postgraduate
       School, Monterey, 1979.
    .. [2] J. Burkardt, *TEST_INTERP_2D: test functions for 2D interpolation*,
       Florida State University, 2016.

    Examples
    --------
    >>> from sklearn_pmm.datasets import cliff
    >>> print(round(float(cliff(0.5, 0.5)), 6))
    0.111111
    """
    x, y = _xy(x, y)
    return np.tanh(9.0 * (y - x)) / 9.0 + 1.0 / 9.0


def saddle(x, y):
    r"""Franke's "saddle" function.

    .. math::

        f(x, y) = \frac{5/4 + \cos(27y/5)}{6 + 6(3x - 1)^2}

    Parameters
    ----------
    x, y : array-like
        Coordinates, broadcast against each other. The benchmark domain is
        :math:`[0, 1]^2`.

    Returns
    -------
    z : ndarray
        Function values, of the broadcast shape of ``x`` and ``y``.

    References
    ----------
    .. [1] R. Franke, *A critical comparison of some methods for interpolation
       of scattered data*, Technical Report NPS-53-79-003, Naval Postgraduate
       School, Monterey, 1979.
    .. [2] J. Burkardt, *TEST_INTERP_2D: test functions for 2D interpolation*,
       Florida State University, 2016.

    Examples
    --------
    >>> from sklearn_pmm.datasets import saddle
    >>> print(round(float(saddle(1 / 3, 0.0)), 6))
    0.375
    """
    x, y = _xy(x, y)
    return (1.25 + np.cos(5.4 * y)) / (6.0 + 6.0 * (3.0 * x - 1.0) ** 2)


def gentle(x, y):
    r"""Franke's "gentle" function (a wide Gaussian bump).

    .. math::

        f(x, y) = \frac13 \exp\left(-\frac{81}{16}
                  \left((x - \tfrac12)^2 + (y - \tfrac12)^2\right)\right)

    Parameters
    ----------
    x, y : array-like
        Coordinates, broadcast against each other. The benchmark domain is
        :math:`[0, 1]^2`.

    Returns
    -------
    z : ndarray
        Function values, of the broadcast shape of ``x`` and ``y``.

    References
    ----------
    .. [1] R. Franke, *A critical comparison of some methods for interpolation
       of scattered data*, Technical Report NPS-53-79-003, Naval Postgraduate
       School, Monterey, 1979.
    .. [2] J. Burkardt, *TEST_INTERP_2D: test functions for 2D interpolation*,
       Florida State University, 2016.

    Examples
    --------
    >>> from sklearn_pmm.datasets import gentle
    >>> print(round(float(gentle(0.5, 0.5)), 6))
    0.333333
    """
    x, y = _xy(x, y)
    return np.exp(-81.0 / 16.0 * ((x - 0.5) ** 2 + (y - 0.5) ** 2)) / 3.0


def steep(x, y):
    r"""Franke's "steep" function (a narrow Gaussian bump).

    .. math::

        f(x, y) = \frac13 \exp\left(-\frac{81}{4}
                  \left((x - \tfrac12)^2 + (y - \tfrac12)^2\right)\right)

    Parameters
    ----------
    x, y : array-like
        Coordinates, broadcast against each other. The benchmark domain is
        :math:`[0, 1]^2`.

    Returns
    -------
    z : ndarray
        Function values, of the broadcast shape of ``x`` and ``y``.

    References
    ----------
    .. [1] R. Franke, *A critical comparison of some methods for interpolation
       of scattered data*, Technical Report NPS-53-79-003, Naval Postgraduate
       School, Monterey, 1979.
    .. [2] J. Burkardt, *TEST_INTERP_2D: test functions for 2D interpolation*,
       Florida State University, 2016.

    Examples
    --------
    >>> from sklearn_pmm.datasets import steep
    >>> print(round(float(steep(0.5, 0.5)), 6))
    0.333333
    """
    x, y = _xy(x, y)
    return np.exp(-81.0 / 4.0 * ((x - 0.5) ** 2 + (y - 0.5) ** 2)) / 3.0


def sphere(x, y):
    r"""Franke's "sphere" function (a spherical cap).

    .. math::

        f(x, y) = -\frac12 + \sqrt{\left(\tfrac89\right)^2
                  - (x - \tfrac12)^2 - (y - \tfrac12)^2}

    The square root is real on the disc of radius 8/9 around
    :math:`(1/2, 1/2)`, which contains :math:`[0, 1]^2`; outside it the result
    is ``nan`` (with NumPy's invalid-value warning).

    Parameters
    ----------
    x, y : array-like
        Coordinates, broadcast against each other. The benchmark domain is
        :math:`[0, 1]^2`.

    Returns
    -------
    z : ndarray
        Function values, of the broadcast shape of ``x`` and ``y``.

    References
    ----------
    .. [1] R. Franke, *A critical comparison of some methods for interpolation
       of scattered data*, Technical Report NPS-53-79-003, Naval Postgraduate
       School, Monterey, 1979.
    .. [2] J. Burkardt, *TEST_INTERP_2D: test functions for 2D interpolation*,
       Florida State University, 2016.

    Examples
    --------
    >>> from sklearn_pmm.datasets import sphere
    >>> print(round(float(sphere(0.5, 0.5)), 6))
    0.388889
    """
    x, y = _xy(x, y)
    return -0.5 + np.sqrt((8.0 / 9.0) ** 2 - (x - 0.5) ** 2 - (y - 0.5) ** 2)


def trigonometric(x, y):
    r"""Trigonometric test function (oscillatory).

    .. math::

        f(x, y) = 2 \cos(10x) \sin(10y) + \sin(10xy)

    Parameters
    ----------
    x, y : array-like
        Coordinates, broadcast against each other. The benchmark domain is
        :math:`[0, 1]^2`.

    Returns
    -------
    z : ndarray
        Function values, of the broadcast shape of ``x`` and ``y``.

    References
    ----------
    .. [1] J. Burkardt, *TEST_INTERP_2D: test functions for 2D interpolation*,
       Florida State University, 2016.

    Examples
    --------
    >>> from sklearn_pmm.datasets import trigonometric
    >>> print(round(float(trigonometric(0.5, 0.5)), 6))
    0.054451
    """
    x, y = _xy(x, y)
    return 2.0 * np.cos(10.0 * x) * np.sin(10.0 * y) + np.sin(10.0 * x * y)


def gaussians(x, y):
    r"""Sum-of-Gaussians test function (Nielson's).

    .. math::

        f(x, y) = e^{-u^2/2} + \tfrac34 e^{-v^2/2} \left(1 + e^{-u^2/2}\right),
        \qquad u = 5 - 10x, \quad v = 5 - 10y

    Parameters
    ----------
    x, y : array-like
        Coordinates, broadcast against each other. The benchmark domain is
        :math:`[0, 1]^2`.

    Returns
    -------
    z : ndarray
        Function values, of the broadcast shape of ``x`` and ``y``.

    References
    ----------
    .. [1] J. Burkardt, *TEST_INTERP_2D: test functions for 2D interpolation*,
       Florida State University, 2016.

    Examples
    --------
    >>> from sklearn_pmm.datasets import gaussians
    >>> print(round(float(gaussians(0.5, 0.5)), 6))
    2.5
    """
    x, y = _xy(x, y)
    gu = np.exp(-((5.0 - 10.0 * x) ** 2) / 2.0)
    gv = np.exp(-((5.0 - 10.0 * y) ** 2) / 2.0)
    return gu + 0.75 * gv * (1.0 + gu)


def cloverleaf(x, y):
    r"""Cloverleaf asymmetric peak/valley test function.

    .. math::

        f(x, y) = \left(\left(\tfrac{20}{3}\right)^3 u v\right)^2
                  \left(\frac{1}{(1 + u)(1 + v)}\right)^5
                  \left(u - \frac{2}{1 + u}\right)
                  \left(v - \frac{2}{1 + v}\right),

    with :math:`u = e^{(10 - 20x)/3}` and :math:`v = e^{(10 - 20y)/3}`.
    It vanishes on the lines :math:`x = 1/2` and :math:`y = 1/2`
    (where :math:`u = 1` or :math:`v = 1`).

    Parameters
    ----------
    x, y : array-like
        Coordinates, broadcast against each other. The benchmark domain is
        :math:`[0, 1]^2`.

    Returns
    -------
    z : ndarray
        Function values, of the broadcast shape of ``x`` and ``y``.

    References
    ----------
    .. [1] J. Burkardt, *TEST_INTERP_2D: test functions for 2D interpolation*,
       Florida State University, 2016.

    Examples
    --------
    >>> from sklearn_pmm.datasets import cloverleaf
    >>> print(round(float(cloverleaf(0.5, 0.5)), 6))
    0.0
    >>> print(round(float(cloverleaf(0.4, 0.4)), 6))
    41.094172
    """
    x, y = _xy(x, y)
    u = np.exp((10.0 - 20.0 * x) / 3.0)
    v = np.exp((10.0 - 20.0 * y) / 3.0)
    return (
        ((20.0 / 3.0) ** 3 * u * v) ** 2
        * (1.0 / ((1.0 + u) * (1.0 + v))) ** 5
        * (u - 2.0 / (1.0 + u))
        * (v - 2.0 / (1.0 + v))
    )


def cosine_peak(x, y):
    r"""Damped cosine peak test function.

    .. math::

        f(x, y) = e^{-2r/5} \cos\left(\tfrac{3r}{2}\right), \qquad
        r = \sqrt{(8x - 4)^2 + (9y - 9/2)^2}

    Parameters
    ----------
    x, y : array-like
        Coordinates, broadcast against each other. The benchmark domain is
        :math:`[0, 1]^2`.

    Returns
    -------
    z : ndarray
        Function values, of the broadcast shape of ``x`` and ``y``.

    References
    ----------
    .. [1] J. Burkardt, *TEST_INTERP_2D: test functions for 2D interpolation*,
       Florida State University, 2016.

    Examples
    --------
    >>> from sklearn_pmm.datasets import cosine_peak
    >>> print(round(float(cosine_peak(0.5, 0.5)), 6))
    1.0
    """
    x, y = _xy(x, y)
    r = np.sqrt((8.0 * x - 4.0) ** 2 + (9.0 * y - 4.5) ** 2)
    return np.exp(-0.4 * r) * np.cos(1.5 * r)


def bilinear(x, y):
    r"""Bilinear test function.

    .. math::

        f(x, y) = xy + x

    Parameters
    ----------
    x, y : array-like
        Coordinates, broadcast against each other. The benchmark domain is
        :math:`[0, 1]^2`.

    Returns
    -------
    z : ndarray
        Function values, of the broadcast shape of ``x`` and ``y``.

    Notes
    -----
    A simple smooth function included in the paper's benchmark; it is exactly
    representable by low-order polynomial models.

    Examples
    --------
    >>> from sklearn_pmm.datasets import bilinear
    >>> print(round(float(bilinear(0.5, 0.5)), 6))
    0.75
    """
    x, y = _xy(x, y)
    return x * y + x


def vicente_romero(x, y):
    r"""Vicente Romero's test function (radial ramp with angular ripples).

    .. math::

        f(x, y) = \frac65 r + \frac{21}{40}
                  \sin\left(\frac{12 \pi r}{5 \sqrt2}\right)
                  \sin\left(1.3\, \operatorname{atan2}(y, x)\right),
        \qquad r = \sqrt{x^2 + y^2}

    Parameters
    ----------
    x, y : array-like
        Coordinates, broadcast against each other. The benchmark domain is
        :math:`[0, 1]^2`.

    Returns
    -------
    z : ndarray
        Function values, of the broadcast shape of ``x`` and ``y``.

    Notes
    -----
    This is the form of the paper's Methods table, where only the ripple
    term carries the angular factor. The function is also published (for
    instance as ``f12`` of Burkardt's TEST_INTERP_2D [2]_) as

    .. math::

        \tilde f(x, y) = 1.5 \left(0.8\, r
            + 0.35 \sin\left(\frac{2.4 \pi r}{\sqrt2}\right)\right)
            \sin(1.3\, \theta), \qquad \theta = \operatorname{atan2}(y, x),

    with the same constants (:math:`1.5 \cdot 0.8 = 6/5`,
    :math:`1.5 \cdot 0.35 = 21/40`, :math:`2.4 = 12/5`) but with the
    angular factor :math:`\sin(1.3\,\theta)` multiplying the radial ramp
    :math:`\frac65 r` too, so that

    .. math::

        f(x, y) - \tilde f(x, y) = \frac65\, r \left(1 - \sin(1.3\,\theta)\right).

    The two agree only at the origin and on the ray
    :math:`\theta = \pi/2.6`; on :math:`[0, 1]^2` they differ by up to 1.2
    (at :math:`(1, 0)`, where :math:`f = 1.2` and :math:`\tilde f = 0`), and
    their means there are about 0.82 (:math:`f`) and 0.58
    (:math:`\tilde f`). This function keeps the paper's form, so that scores
    are comparable with the paper's.

    References
    ----------
    .. [1] V. J. Romero, J. V. Burkardt, M. D. Gunzburger and J. S. Peterson,
       "Comparison of pure and 'Latinized' centroidal Voronoi tessellation
       against various other statistical sampling methods", *Reliability
       Engineering & System Safety* 91 (10-11), 1266-1280, 2006.
    .. [2] J. Burkardt, *TEST_INTERP_2D: test functions for 2D interpolation*,
       Florida State University, 2016.

    Examples
    --------
    >>> from sklearn_pmm.datasets import vicente_romero
    >>> print(round(float(vicente_romero(0.5, 0.5)), 6))
    0.585414
    >>> # On the x axis the ripple vanishes (sin 0 = 0) but the ramp does not.
    >>> print(round(float(vicente_romero(1.0, 0.0)), 6))
    1.2
    """
    x, y = _xy(x, y)
    r = np.hypot(x, y)
    radial = np.sin(12.0 * np.pi * r / (5.0 * np.sqrt(2.0)))
    angular = np.sin(1.3 * np.arctan2(y, x))
    return 1.2 * r + 0.525 * radial * angular


def runge(x, y):
    r"""Two-dimensional Runge function.

    .. math::

        f(x, y) = \frac{1}{(10x - 5)^2 + (10y - 5)^2 + 1}

    Parameters
    ----------
    x, y : array-like
        Coordinates, broadcast against each other. The benchmark domain is
        :math:`[0, 1]^2`.

    Returns
    -------
    z : ndarray
        Function values, of the broadcast shape of ``x`` and ``y``.

    References
    ----------
    .. [1] C. Runge, "Über empirische Funktionen und die Interpolation
       zwischen äquidistanten Ordinaten", *Zeitschrift für Mathematik und
       Physik* 46, 224-243, 1901.

    Examples
    --------
    >>> from sklearn_pmm.datasets import runge
    >>> print(round(float(runge(0.5, 0.5)), 6))
    1.0
    """
    x, y = _xy(x, y)
    return 1.0 / ((10.0 * x - 5.0) ** 2 + (10.0 * y - 5.0) ** 2 + 1.0)


#: The 13 test functions of the paper's regression benchmark, keyed by the
#: display names used in the paper, in the paper's order.
TEST_FUNCTIONS = {
    "Franke": franke,
    "Cliff": cliff,
    "Saddle": saddle,
    "Gentle": gentle,
    "Steep": steep,
    "Sphere": sphere,
    "Trigonometric": trigonometric,
    "Gaussians": gaussians,
    "Cloverleaf": cloverleaf,
    "Cosine Peak": cosine_peak,
    "Bilinear": bilinear,
    "Vicente Romero": vicente_romero,
    "Runge": runge,
}

#: The paper's PMM normalised MAE on each test function (7x7 PMM, r = 3,
#: 200 training points, 100 x 100 test grid). The values were read off the
#: paper's bar chart, to about 3 significant digits; they are the scores to
#: beat, not exact published numbers.
PAPER_PMM_NMAE = {
    "Franke": 3.14e-3,
    "Cliff": 1.78e-4,
    "Saddle": 1.31e-3,
    "Gentle": 2.54e-4,
    "Steep": 3.92e-4,
    "Sphere": 3.32e-4,
    "Trigonometric": 2.86e-2,
    "Gaussians": 3.36e-3,
    "Cloverleaf": 5.48e-3,
    "Cosine Peak": 7.32e-3,
    "Bilinear": 1.71e-4,
    "Vicente Romero": 1.11e-3,
    "Runge": 9.70e-4,
}

_TEST_FUNCTION_LOOKUP = {_normalize_name(k): k for k in TEST_FUNCTIONS}


def _lookup_test_function(name):
    key = _normalize_name(name)
    if key not in _TEST_FUNCTION_LOOKUP:
        valid = ", ".join(repr(k) for k in TEST_FUNCTIONS)
        raise ValueError(
            f"Unknown test function {name!r}. Valid names (case-insensitive; "
            f"'_' or '-' may replace spaces): {valid}."
        )
    return TEST_FUNCTIONS[_TEST_FUNCTION_LOOKUP[key]]


def make_test_function(name, n_samples=200, *, noise=0.0, random_state=None):
    """Sample one of the 13 test functions uniformly on the unit square.

    ``X`` is drawn as ``rng.uniform(0, 1, (n_samples, 2))``; then, if
    ``noise > 0``, ``rng.normal(0, noise, n_samples)`` is added to ``y``,
    drawn from the same generator after ``X``.

    Parameters
    ----------
    name : str
        Name of the test function, one of the keys of :data:`TEST_FUNCTIONS`.
        The lookup is case-insensitive and ``"_"`` or ``"-"`` may replace
        spaces, so ``"Cosine Peak"``, ``"cosine_peak"`` and ``"cosine-peak"``
        are equivalent.
    n_samples : int, default=200
        Number of samples (the paper uses 200).
    noise : float, default=0.0
        Standard deviation of the Gaussian noise added to ``y``.
    random_state : int, Generator, RandomState or None, default=None
        ``None`` or an int seeds ``numpy.random.default_rng(random_state)``;
        a ``Generator`` or ``RandomState`` instance is used (and advanced)
        as is. Pass an int for reproducible results across multiple function
        calls. With ``random_state=0``, ``X`` equals
        ``numpy.random.default_rng(0).uniform(0, 1, (n_samples, 2))``.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        Inputs, uniform on :math:`[0, 1)^2`.
    y : ndarray of shape (n_samples,)
        Function values at ``X``, plus noise if ``noise > 0``.

    Raises
    ------
    ValueError
        If ``name`` is unknown, ``n_samples`` is not an int >= 1, ``noise``
        is negative or ``random_state`` has an unsupported type.

    See Also
    --------
    make_test_grid : The test grid of the paper's protocol.
    normalized_mae : The paper's error metric.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm.datasets import make_test_function
    >>> X, y = make_test_function("cosine_peak", n_samples=5, random_state=0)
    >>> X.shape, y.shape
    ((5, 2), (5,))
    >>> bool(np.array_equal(X, np.random.default_rng(0).uniform(0, 1, (5, 2))))
    True
    """
    func = _lookup_test_function(name)
    n_samples = _check_n_samples(n_samples)
    noise = _check_noise(noise)
    rng = _check_generator(random_state)
    X = rng.uniform(0.0, 1.0, (n_samples, 2))
    y = func(X[:, 0], X[:, 1])
    if noise > 0:
        y = y + rng.normal(0.0, noise, n_samples)
    return X, y


def make_test_grid(n_points=100):
    """Uniform test grid on the closed unit square.

    The grid is ``np.linspace(0, 1, n_points)`` along each axis (edges
    included), combined with ``np.meshgrid(..., indexing="ij")`` and
    ravelled, so the first coordinate varies slowest.

    Parameters
    ----------
    n_points : int, default=100
        Number of grid points per axis (at least 2); the paper uses 100.

    Returns
    -------
    X : ndarray of shape (n_points**2, 2)
        The grid points.

    Examples
    --------
    >>> from sklearn_pmm.datasets import make_test_grid
    >>> make_test_grid(3)[:4]
    array([[0. , 0. ],
           [0. , 0.5],
           [0. , 1. ],
           [0.5, 0. ]])
    """
    return _grid(n_points, 0.0, 1.0)


def normalized_mae(y_true, y_pred):
    r"""Normalised mean absolute error, the paper's regression metric.

    .. math::

        \mathrm{NMAE} = \frac{\operatorname{mean}_i |y_i - \hat y_i|}
                              {\max_i |y_i|}

    Parameters
    ----------
    y_true : array-like
        True target values.
    y_pred : array-like
        Predicted values, of the same shape as ``y_true``.

    Returns
    -------
    score : float
        The normalised mean absolute error (lower is better).

    Raises
    ------
    ValueError
        If the shapes differ, the arrays are empty or not finite, or
        ``max(|y_true|)`` is 0.

    Examples
    --------
    >>> from sklearn_pmm.datasets import normalized_mae
    >>> print(normalized_mae([1.0, -2.0, 4.0], [1.0, -1.0, 2.0]))
    0.25
    """
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            "y_true and y_pred must have the same shape; got "
            f"{y_true.shape} and {y_pred.shape}."
        )
    if y_true.size == 0:
        raise ValueError("y_true and y_pred must not be empty.")
    if not (np.all(np.isfinite(y_true)) and np.all(np.isfinite(y_pred))):
        raise ValueError("y_true and y_pred must be finite (no NaN or inf).")
    scale = np.max(np.abs(y_true))
    if scale == 0:
        raise ValueError("max(|y_true|) is 0, so the normalised MAE is undefined.")
    return float(np.mean(np.abs(y_true - y_pred)) / scale)


# --------------------------------------------------------------------------
# Random function classes on [-1, 1]^2
# --------------------------------------------------------------------------


class _RandomFourierSeries:
    """Callable separable Fourier series; see :func:`make_random_fourier`."""

    def __init__(self, a, b):
        self.a = a
        self.b = b

    @property
    def n_terms(self):
        return self.b.shape[0] - 1

    def __call__(self, x, y):
        x, y = _xy(x, y)
        k = np.pi / 3.0 * np.arange(self.n_terms + 1)
        phase_x = x[..., np.newaxis] * k
        phase_y = y[..., np.newaxis] * k
        # sum_nm a_nm s_n(x) s_m(y) = sum_m (s(x) @ a)_m s_m(y), likewise for b.
        sines = np.sum((np.sin(phase_x) @ self.a) * np.sin(phase_y), axis=-1)
        cosines = np.sum((np.cos(phase_x) @ self.b) * np.cos(phase_y), axis=-1)
        return sines + cosines

    def __repr__(self):
        return f"<random Fourier series, n_terms={self.n_terms}>"


class _RandomPolynomial:
    """Callable bivariate polynomial; see :func:`make_random_polynomial`."""

    def __init__(self, coef):
        self.coef = coef

    @property
    def degree(self):
        return self.coef.shape[0] - 1

    def __call__(self, x, y):
        x, y = _xy(x, y)
        return np.asarray(np.polynomial.polynomial.polyval2d(x, y, self.coef))

    def __repr__(self):
        return f"<random polynomial, degree {self.degree} in x and in y>"


class _RandomPlaneWaveSeries:
    """Callable plane-wave series; see :func:`make_random_plane_wave_series`."""

    def __init__(self, kx, ky, a, b):
        self.kx = kx
        self.ky = ky
        self.a = a
        self.b = b

    def __call__(self, x, y):
        x, y = _xy(x, y)
        phase = np.pi * (x[..., np.newaxis] * self.kx + y[..., np.newaxis] * self.ky)
        return np.cos(phase) @ self.a + np.sin(phase) @ self.b

    def __repr__(self):
        n_terms = int(np.max(self.kx))
        return f"<random plane-wave series, n_terms={n_terms}>"


class _RandomTotalDegreePolynomial:
    """Callable polynomial; see :func:`make_random_total_degree_polynomial`."""

    def __init__(self, powers_x, powers_y, coef):
        self.powers_x = powers_x
        self.powers_y = powers_y
        self.coef = coef

    def __call__(self, x, y):
        x, y = _xy(x, y)
        monomials = (
            x[..., np.newaxis] ** self.powers_x * y[..., np.newaxis] ** self.powers_y
        )
        return monomials @ self.coef

    def __repr__(self):
        degree = int(np.max(self.powers_x + self.powers_y))
        return f"<random polynomial, total degree {degree}>"


def make_random_fourier(n_terms=3, random_state=None):
    r"""Random separable Fourier series on :math:`[-1, 1]^2`, the paper's class.

    .. math::

        f(x, y) = \sum_{n=1}^{N} \sum_{m=1}^{N} a_{nm}
                  \sin\left(\frac{n \pi x}{3}\right)
                  \sin\left(\frac{m \pi y}{3}\right)
                + \sum_{n=0}^{N} \sum_{m=0}^{N} b_{nm}
                  \cos\left(\frac{n \pi x}{3}\right)
                  \cos\left(\frac{m \pi y}{3}\right),

    with :math:`N` = ``n_terms`` and all :math:`a_{nm}, b_{nm}` independent
    :math:`\mathcal N(0, 1)`. This is the random Fourier class of Cook et al.
    (products of sines and products of cosines with frequencies
    :math:`n\pi/3`). The paper writes one double sum over :math:`n, m`
    without printing the range; here the sine products start at 1, because a
    term with :math:`n = 0` or :math:`m = 0` is identically zero, and the
    cosine products start at 0, so that the class holds the constant and the
    one-variable terms :math:`\cos(n\pi x/3)` and :math:`\cos(m\pi y/3)`
    (every coefficient drawn has an effect). A mode of frequency
    :math:`n\pi/3` has period :math:`6/n`, so on :math:`[-1, 1]` it covers
    :math:`n/3` of a period: the functions are smooth and not periodic on the
    domain.

    The coefficients are drawn as ``rng.standard_normal((N, N))`` for
    :math:`a_{nm}`, :math:`1 \le n, m \le N`, then
    ``rng.standard_normal((N + 1, N + 1))`` for :math:`b_{nm}`,
    :math:`0 \le n, m \le N`.

    Parameters
    ----------
    n_terms : int, default=3
        Highest mode number :math:`N` (>= 0) along each axis. ``n_terms=0``
        gives the constant :math:`b_{00}`.
    random_state : int, Generator, RandomState or None, default=None
        Source of the coefficients; see :func:`make_test_function`. Pass an
        int for reproducible results across multiple function calls.

    Returns
    -------
    func : callable
        Vectorised ``func(x, y)`` returning an ndarray of the broadcast shape
        of ``x`` and ``y``. Its attribute ``a``, of shape ``(N + 1, N + 1)``,
        holds :math:`a_{nm}` at ``a[n, m]`` (with ``a[0, :]`` and ``a[:, 0]``
        zero, the vanishing terms); ``b``, of the same shape, holds
        :math:`b_{nm}` at ``b[n, m]``; ``n_terms`` is :math:`N`.

    See Also
    --------
    make_random_plane_wave_series : Series of plane waves
        :math:`\cos(\pi(k_x x + k_y y))`, :math:`\sin(\pi(k_x x + k_y y))`,
        the class this package generated before.

    References
    ----------
    .. [1] P. Cook, D. Jammooa, M. Hjorth-Jensen, D. D. Lee and D. Lee,
       "Parametric matrix models", *Nature Communications* 16, 5929 (2025),
       arXiv:2401.11694.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm.datasets import make_random_fourier
    >>> f = make_random_fourier(n_terms=2, random_state=0)
    >>> f.a.shape, f.b.shape
    ((3, 3), (3, 3))
    >>> # At the origin every sine vanishes and every cosine is 1.
    >>> bool(np.isclose(f(0.0, 0.0), f.b.sum()))
    True
    >>> # At x = 3/2 the modes are sin(n pi / 2) and cos(n pi / 2), n = 0, 1, 2.
    >>> sx, cx = np.array([0.0, 1.0, 0.0]), np.array([1.0, 0.0, -1.0])
    >>> bool(np.isclose(f(1.5, 1.5), sx @ f.a @ sx + cx @ f.b @ cx))
    True
    """
    n_terms = _check_n_samples(n_terms, name="n_terms", minimum=0)
    rng = _check_generator(random_state)
    a = np.zeros((n_terms + 1, n_terms + 1))
    a[1:, 1:] = rng.standard_normal((n_terms, n_terms))
    b = rng.standard_normal((n_terms + 1, n_terms + 1))
    return _RandomFourierSeries(a, b)


def make_random_polynomial(degree=5, random_state=None):
    r"""Random bivariate polynomial on :math:`[-1, 1]^2`, the paper's class.

    .. math::

        f(x, y) = \sum_{i=0}^{d} \sum_{j=0}^{d} c_{ij}\, x^i y^j,

    with :math:`d` = ``degree`` and independent
    :math:`c_{ij} \sim \mathcal N(0, 1)`: the degree is bounded in :math:`x`
    and in :math:`y` separately, as in Cook et al., so the total degree goes
    up to :math:`2d` (the term :math:`c_{dd} x^d y^d`). The
    :math:`(d + 1)^2` coefficients are drawn with one
    ``rng.standard_normal((d + 1, d + 1))`` call; ``coef[i, j]`` is
    :math:`c_{ij}`, the layout of
    :func:`numpy.polynomial.polynomial.polyval2d`.

    Parameters
    ----------
    degree : int, default=5
        Largest power :math:`d` (>= 0) of :math:`x`, and of :math:`y`.
    random_state : int, Generator, RandomState or None, default=None
        Source of the coefficients; see :func:`make_test_function`. Pass an
        int for reproducible results across multiple function calls.

    Returns
    -------
    func : callable
        Vectorised ``func(x, y)`` returning an ndarray of the broadcast shape
        of ``x`` and ``y``. Its attribute ``coef``, of shape
        ``(d + 1, d + 1)``, holds :math:`c_{ij}` at ``coef[i, j]``; ``degree``
        is :math:`d`.

    See Also
    --------
    make_random_total_degree_polynomial : Polynomials of total degree
        :math:`i + j \le d`, the class this package generated before.

    References
    ----------
    .. [1] P. Cook, D. Jammooa, M. Hjorth-Jensen, D. D. Lee and D. Lee,
       "Parametric matrix models", *Nature Communications* 16, 5929 (2025),
       arXiv:2401.11694.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm.datasets import make_random_polynomial
    >>> f = make_random_polynomial(degree=1, random_state=0)
    >>> c = f.coef
    >>> c.shape
    (2, 2)
    >>> # Degree 1 in x and in y: c00 + c01 y + c10 x + c11 x y.
    >>> x, y = 0.5, -2.0
    >>> bool(np.isclose(f(x, y), c[0, 0] + c[0, 1] * y + c[1, 0] * x
    ...                 + c[1, 1] * x * y))
    True
    """
    degree = _check_n_samples(degree, name="degree", minimum=0)
    rng = _check_generator(random_state)
    return _RandomPolynomial(rng.standard_normal((degree + 1, degree + 1)))


def make_random_plane_wave_series(n_terms=3, random_state=None):
    r"""Random series of plane waves on :math:`[-1, 1]^2`.

    .. math::

        f(x, y) = \sum_{k_x = -K}^{K} \sum_{k_y = -K}^{K}
                  a_{k_x k_y} \cos\left(\pi (k_x x + k_y y)\right)
                + b_{k_x k_y} \sin\left(\pi (k_x x + k_y y)\right),

    with :math:`K` = ``n_terms`` and all :math:`a, b` independent
    :math:`\mathcal N(0, 1)`. Unlike the paper's class
    (:func:`make_random_fourier`) the terms are not separable in :math:`x`
    and :math:`y`, and the function is 2-periodic in each variable, so
    :math:`[-1, 1]^2` holds whole periods. The sum runs over all
    :math:`(2K + 1)^2` wave vectors as written: the terms for
    :math:`\pm(k_x, k_y)` combine, so the effective cosine (sine) coefficient
    of a non-zero wave vector is :math:`\mathcal N(0, 2)`, the constant term
    is :math:`a_{00} \sim \mathcal N(0, 1)`, and :math:`b_{00}` has no effect.

    The coefficients are drawn as ``a = rng.standard_normal(m)`` then
    ``b = rng.standard_normal(m)``, :math:`m = (2K + 1)^2`, with the wave
    vectors ordered by :math:`k_x`, then :math:`k_y`.

    Parameters
    ----------
    n_terms : int, default=3
        Maximum absolute frequency :math:`K` (>= 0) along each axis.
    random_state : int, Generator, RandomState or None, default=None
        Source of the coefficients; see :func:`make_test_function`. Pass an
        int for reproducible results across multiple function calls.

    Returns
    -------
    func : callable
        Vectorised ``func(x, y)`` returning an ndarray of the broadcast shape
        of ``x`` and ``y``. Its attributes ``kx``, ``ky``, ``a`` and ``b``
        hold the wave vectors and coefficients.

    See Also
    --------
    make_random_fourier : The paper's separable Fourier class.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm.datasets import make_random_plane_wave_series
    >>> f = make_random_plane_wave_series(n_terms=2, random_state=0)
    >>> f.a.shape
    (25,)
    >>> # At the origin every sine vanishes and every cosine is 1.
    >>> bool(np.isclose(f(0.0, 0.0), f.a.sum()))
    True
    >>> # 2-periodic in each variable.
    >>> bool(np.isclose(f(0.3, -0.4), f(2.3, 1.6)))
    True
    """
    n_terms = _check_n_samples(n_terms, name="n_terms", minimum=0)
    rng = _check_generator(random_state)
    k = np.arange(-n_terms, n_terms + 1, dtype=float)
    kx, ky = np.meshgrid(k, k, indexing="ij")
    n_coef = kx.size
    a = rng.standard_normal(n_coef)
    b = rng.standard_normal(n_coef)
    return _RandomPlaneWaveSeries(kx.ravel(), ky.ravel(), a, b)


def make_random_total_degree_polynomial(degree=5, random_state=None):
    r"""Random bivariate polynomial of bounded total degree on :math:`[-1, 1]^2`.

    .. math::

        f(x, y) = \sum_{i + j \le d} c_{ij}\, x^i y^j,

    with :math:`d` = ``degree`` and independent
    :math:`c_{ij} \sim \mathcal N(0, 1)`. Unlike the paper's class
    (:func:`make_random_polynomial`, :math:`i, j \le d` separately) the total
    degree is at most :math:`d`. The :math:`(d + 1)(d + 2)/2` coefficients
    are drawn with one ``rng.standard_normal`` call, ordered by :math:`i`,
    then :math:`j`.

    Parameters
    ----------
    degree : int, default=5
        Total degree :math:`d` (>= 0).
    random_state : int, Generator, RandomState or None, default=None
        Source of the coefficients; see :func:`make_test_function`. Pass an
        int for reproducible results across multiple function calls.

    Returns
    -------
    func : callable
        Vectorised ``func(x, y)`` returning an ndarray of the broadcast shape
        of ``x`` and ``y``. Its attributes ``powers_x``, ``powers_y`` and
        ``coef`` hold the exponents and coefficients.

    See Also
    --------
    make_random_polynomial : The paper's class, degree bounded per variable.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm.datasets import make_random_total_degree_polynomial
    >>> f = make_random_total_degree_polynomial(degree=1, random_state=0)
    >>> c = f.coef
    >>> c.shape
    (3,)
    >>> # Ordered by the power of x, then of y: 1, y, x.
    >>> x, y = 0.5, -2.0
    >>> bool(np.isclose(f(x, y), c[0] + c[1] * y + c[2] * x))
    True
    """
    degree = _check_n_samples(degree, name="degree", minimum=0)
    rng = _check_generator(random_state)
    i, j = np.meshgrid(np.arange(degree + 1), np.arange(degree + 1), indexing="ij")
    keep = (i + j) <= degree
    powers_x, powers_y = i[keep], j[keep]
    coef = rng.standard_normal(powers_x.size)
    return _RandomTotalDegreePolynomial(powers_x, powers_y, coef)


# The function classes of :func:`make_random_function_data`, keyed by kind.
_RANDOM_FUNCTION_KINDS = {
    "fourier": make_random_fourier,
    "polynomial": make_random_polynomial,
    "plane_wave_series": make_random_plane_wave_series,
    "total_degree_polynomial": make_random_total_degree_polynomial,
}


def make_random_function_data(
    kind, n_samples=200, *, n_test_per_axis=100, random_state=None, **kind_params
):
    """Training and test data for one random function on :math:`[-1, 1]^2`.

    One generator is used for everything: first the function's coefficients
    (from the maker of ``kind``), then
    ``X_train = rng.uniform(-1, 1, (n_samples, 2))``. The test inputs are the
    uniform grid ``np.linspace(-1, 1, n_test_per_axis)`` per axis, edges
    included, in the same order as :func:`make_test_grid`.

    Parameters
    ----------
    kind : {"fourier", "polynomial", "plane_wave_series", \
"total_degree_polynomial"}
        Function class: ``"fourier"`` and ``"polynomial"`` are the paper's
        classes (:func:`make_random_fourier`, :func:`make_random_polynomial`);
        ``"plane_wave_series"`` (:func:`make_random_plane_wave_series`) and
        ``"total_degree_polynomial"``
        (:func:`make_random_total_degree_polynomial`) are the variants this
        package generated before. Case-insensitive, and ``"-"`` or a space
        may replace ``"_"``.
    n_samples : int, default=200
        Number of training samples.
    n_test_per_axis : int, default=100
        Number of test grid points per axis (at least 2).
    random_state : int, Generator, RandomState or None, default=None
        Source of the coefficients and training inputs; see
        :func:`make_test_function`. Pass an int for reproducible results
        across multiple function calls.
    **kind_params : dict
        Passed to the function-class maker: ``n_terms`` for ``"fourier"``
        and ``"plane_wave_series"``, ``degree`` for ``"polynomial"`` and
        ``"total_degree_polynomial"``.

    Returns
    -------
    X_train : ndarray of shape (n_samples, 2)
        Training inputs, uniform on :math:`[-1, 1)^2`.
    y_train : ndarray of shape (n_samples,)
        Function values at ``X_train``.
    X_test : ndarray of shape (n_test_per_axis**2, 2)
        Test grid on :math:`[-1, 1]^2`.
    y_test : ndarray of shape (n_test_per_axis**2,)
        Function values at ``X_test``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm.datasets import make_random_function_data
    >>> from sklearn_pmm.datasets import make_random_polynomial
    >>> X_train, y_train, X_test, y_test = make_random_function_data(
    ...     "polynomial", n_samples=50, n_test_per_axis=10, degree=3,
    ...     random_state=0)
    >>> X_train.shape, y_train.shape, X_test.shape, y_test.shape
    ((50, 2), (50,), (100, 2), (100,))
    >>> # The same generator draws the coefficients, then the inputs.
    >>> rng = np.random.default_rng(0)
    >>> f = make_random_polynomial(degree=3, random_state=rng)
    >>> bool(np.allclose(y_test, f(X_test[:, 0], X_test[:, 1])))
    True
    """
    key = _kind_key(kind)
    if key not in _RANDOM_FUNCTION_KINDS:
        raise ValueError(
            f"Unknown kind {kind!r}; valid kinds: "
            f"{', '.join(repr(k) for k in _RANDOM_FUNCTION_KINDS)}."
        )
    n_samples = _check_n_samples(n_samples)
    X_test = _grid(n_test_per_axis, -1.0, 1.0)
    rng = _check_generator(random_state)
    func = _RANDOM_FUNCTION_KINDS[key](random_state=rng, **kind_params)
    X_train = rng.uniform(-1.0, 1.0, (n_samples, 2))
    y_train = func(X_train[:, 0], X_train[:, 1])
    y_test = func(X_test[:, 0], X_test[:, 1])
    return X_train, y_train, X_test, y_test


# --------------------------------------------------------------------------
# One-dimensional waveforms on [0, 1)
# --------------------------------------------------------------------------


def _sine(x):
    return np.sin(2.0 * np.pi * 2.0 * x)


def _square(x):
    return signal.square(2.0 * np.pi * 2.0 * x)


def _sawtooth(x):
    return signal.sawtooth(2.0 * np.pi * 2.0 * x)


def _triangle(x):
    return signal.sawtooth(2.0 * np.pi * 2.0 * x, width=0.5)


def _damped_oscillation(x):
    return np.exp(-3.0 * x) * np.sin(2.0 * np.pi * 5.0 * x)


def _chirp(x):
    return np.cos(2.0 * np.pi * (x + 4.5 * x**2))


# The 1-D waveforms of :func:`waveform`, keyed by kind.
_WAVEFORMS = {
    "sine": _sine,
    "square": _square,
    "sawtooth": _sawtooth,
    "triangle": _triangle,
    "damped_oscillation": _damped_oscillation,
    "chirp": _chirp,
}


def waveform(kind, x):
    r"""Noiseless one-dimensional waveform.

    The kinds, all with two periods on :math:`[0, 1)` unless stated:

    * ``"sine"``: :math:`\sin(2\pi \cdot 2x)`.
    * ``"square"``: ``scipy.signal.square(2 * pi * 2 * x)``, i.e. :math:`+1`
      on the first half of each period and :math:`-1` on the second.
    * ``"sawtooth"``: ``scipy.signal.sawtooth(2 * pi * 2 * x)``, i.e.
      :math:`2\{2x\} - 1` with :math:`\{\cdot\}` the fractional part
      (rising from -1 to 1).
    * ``"triangle"``: ``scipy.signal.sawtooth(2 * pi * 2 * x, width=0.5)``,
      i.e. rising linearly from -1 to 1 over the first half of each period
      and falling back over the second.
    * ``"damped_oscillation"``: :math:`e^{-3x} \sin(2\pi \cdot 5x)`
      (five periods).
    * ``"chirp"``: :math:`\cos\left(2\pi (x + 4.5 x^2)\right)`, a linear
      chirp whose frequency rises from 1 at :math:`x = 0` to 10 at
      :math:`x = 1` (``scipy.signal.chirp(x, f0=1, t1=1, f1=10)``).

    Parameters
    ----------
    kind : {"sine", "square", "sawtooth", "triangle", "damped_oscillation", "chirp"}
        Waveform; case-insensitive, and ``"-"`` or a space may replace
        ``"_"``.
    x : array-like
        Points at which to evaluate the waveform.

    Returns
    -------
    y : ndarray
        Waveform values, of the shape of ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_pmm.datasets import waveform
    >>> print(np.round(waveform("sine", [0.0, 0.125, 0.375]), 6))
    [ 0.  1. -1.]
    >>> print(waveform("square", [0.1, 0.3]))
    [ 1. -1.]
    """
    key = _kind_key(kind)
    if key not in _WAVEFORMS:
        raise ValueError(
            f"Unknown waveform {kind!r}; valid kinds: "
            f"{', '.join(repr(k) for k in _WAVEFORMS)}."
        )
    return np.asarray(_WAVEFORMS[key](np.asarray(x, dtype=float)), dtype=float)


def make_waveform(kind, n_samples=200, *, noise=0.0, random_state=None):
    """Sample a one-dimensional waveform uniformly on :math:`[0, 1)`.

    ``X`` is drawn as ``rng.uniform(0, 1, (n_samples, 1))``; then, if
    ``noise > 0``, ``rng.normal(0, noise, n_samples)`` is added to ``y``,
    drawn from the same generator after ``X``.

    Parameters
    ----------
    kind : {"sine", "square", "sawtooth", "triangle", "damped_oscillation", "chirp"}
        Waveform; see :func:`waveform` for the formulas.
    n_samples : int, default=200
        Number of samples.
    noise : float, default=0.0
        Standard deviation of the Gaussian noise added to ``y``.
    random_state : int, Generator, RandomState or None, default=None
        Source of randomness; see :func:`make_test_function`. Pass an int
        for reproducible results across multiple function calls.

    Returns
    -------
    X : ndarray of shape (n_samples, 1)
        Inputs, uniform on :math:`[0, 1)`.
    y : ndarray of shape (n_samples,)
        Waveform values at ``X``, plus noise if ``noise > 0``.

    Examples
    --------
    >>> from sklearn_pmm.datasets import make_waveform
    >>> X, y = make_waveform("chirp", n_samples=30, noise=0.1, random_state=0)
    >>> X.shape, y.shape
    ((30, 1), (30,))
    """
    waveform(kind, 0.0)  # validates ``kind`` before drawing anything
    n_samples = _check_n_samples(n_samples)
    noise = _check_noise(noise)
    rng = _check_generator(random_state)
    X = rng.uniform(0.0, 1.0, (n_samples, 1))
    y = waveform(kind, X[:, 0])
    if noise > 0:
        y = y + rng.normal(0.0, noise, n_samples)
    return X, y
