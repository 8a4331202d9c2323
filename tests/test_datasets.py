# SPDX-License-Identifier: BSD-3-Clause
"""Tests for sklearn_pmm.datasets.

The reference values of the 13 test functions are worked out by hand from
the closed-form formulas (see the comments), not taken from the module.
"""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_pmm.datasets import (
    PAPER_PMM_NMAE,
    TEST_FUNCTIONS,
    bilinear,
    cliff,
    cloverleaf,
    cosine_peak,
    franke,
    gaussians,
    gentle,
    make_random_fourier,
    make_random_function_data,
    make_random_plane_wave_series,
    make_random_polynomial,
    make_random_total_degree_polynomial,
    make_test_function,
    make_test_grid,
    make_waveform,
    normalized_mae,
    runge,
    saddle,
    sphere,
    steep,
    trigonometric,
    vicente_romero,
    waveform,
)

E = math.e
PI = math.pi
SQRT2 = math.sqrt(2.0)
# Cloverleaf: u = exp((10 - 20 x) / 3) = 2  <=>  x = (10 - 3 ln 2) / 20.
X_U2 = (10.0 - 3.0 * math.log(2.0)) / 20.0

# (function, x, y, expected value computed by hand)
HAND_VALUES = [
    # Franke at (0, 0): 9x = 9y = 0.
    (
        franke,
        0.0,
        0.0,
        0.75 * math.exp(-(4 + 4) / 4)
        + 0.75 * math.exp(-1 / 49 - 1 / 10)
        + 0.5 * math.exp(-(49 + 9) / 4)
        - 0.2 * math.exp(-16 - 49),
    ),
    # Franke at (2/9, 2/9): 9x = 9y = 2.
    (
        franke,
        2 / 9,
        2 / 9,
        0.75 * math.exp(0.0)
        + 0.75 * math.exp(-9 / 49 - 3 / 10)
        + 0.5 * math.exp(-(25 + 1) / 4)
        - 0.2 * math.exp(-4 - 25),
    ),
    # Cliff: tanh(0) on the diagonal; tanh(9) at (0, 1).
    (cliff, 0.5, 0.5, 1 / 9),
    (cliff, 0.25, 0.25, 1 / 9),
    (cliff, 0.0, 1.0, math.tanh(9.0) / 9 + 1 / 9),
    # Saddle: 3x - 1 = 0 at x = 1/3; cos(0) = 1; cos(27 y / 5) = 0 at
    # y = 5 pi / 54.
    (saddle, 1 / 3, 0.0, (5 / 4 + 1) / 6),
    (saddle, 0.0, 0.0, (5 / 4 + 1) / 12),
    (saddle, 1 / 3, 5 * PI / 54, (5 / 4) / 6),
    # Gentle: (81/16) (4/9)^2 = 1.
    (gentle, 0.5, 0.5, 1 / 3),
    (gentle, 0.5 + 4 / 9, 0.5, math.exp(-1) / 3),
    (gentle, 0.5, 0.5 - 4 / 9, math.exp(-1) / 3),
    # Steep: (81/4) (2/9)^2 = 1.
    (steep, 0.5, 0.5, 1 / 3),
    (steep, 0.5 + 2 / 9, 0.5, math.exp(-1) / 3),
    # Sphere: (8/9)^2 - (1/3)^2 = 55/81.
    (sphere, 0.5, 0.5, -1 / 2 + 8 / 9),
    (sphere, 0.5 + 1 / 3, 0.5, -1 / 2 + math.sqrt(55) / 9),
    # Trigonometric: sin(10 xy) = 0 at x = 0; 10 y = pi/2 at y = pi/20;
    # cos(10 x) = 0 at x = pi/20, leaving sin(10 pi^2 / 400).
    (trigonometric, 0.0, 0.0, 0.0),
    (trigonometric, 0.0, PI / 20, 2.0),
    (trigonometric, PI / 20, PI / 20, math.sin(PI**2 / 40)),
    # Gaussians: u = v = 0 at (1/2, 1/2); v = 2 at y = 3/10.
    (gaussians, 0.5, 0.5, 2.5),
    (gaussians, 0.5, 0.3, 1 + 1.5 * math.exp(-2)),
    # Cloverleaf: u = 1 at x = 1/2 kills the factor u - 2/(1+u); at
    # u = v = 2: ((20/3)^3 * 4)^2 * (1/9)^5 * (4/3)^2 = 20^6 * 256 / 3^18.
    (cloverleaf, 0.5, 0.5, 0.0),
    (cloverleaf, 0.5, 0.1, 0.0),
    (cloverleaf, X_U2, X_U2, 20**6 * 256 / 3**18),
    # Cosine peak: r = 0 at (1/2, 1/2); r = 2 pi / 3 gives cos(pi) = -1.
    (cosine_peak, 0.5, 0.5, 1.0),
    (cosine_peak, 0.5 + PI / 12, 0.5, -math.exp(-4 * PI / 15)),
    (cosine_peak, 0.5, 0.5 + 2 * PI / 27, -math.exp(-4 * PI / 15)),
    # Bilinear: xy + x.
    (bilinear, 0.5, 0.5, 0.75),
    (bilinear, 2.0, 3.0, 8.0),
    (bilinear, 0.0, 0.7, 0.0),
    # Vicente Romero: atan2(0, 1) = 0; on the diagonal atan2 = pi/4 and
    # r = 5 sqrt(2) / 24 makes the radial sine equal sin(pi/2) = 1.
    (vicente_romero, 1.0, 0.0, 1.2),
    (vicente_romero, 0.0, 0.0, 0.0),
    (
        vicente_romero,
        5 / 24,
        5 / 24,
        SQRT2 / 4 + 0.525 * math.sin(1.3 * PI / 4),
    ),
    (
        vicente_romero,
        0.0,
        1.0,
        1.2 + 0.525 * math.sin(12 * PI / (5 * SQRT2)) * math.sin(0.65 * PI),
    ),
    # Runge: 1 / ((10x-5)^2 + (10y-5)^2 + 1).
    (runge, 0.5, 0.5, 1.0),
    (runge, 0.6, 0.5, 0.5),
    (runge, 0.0, 0.0, 1 / 51),
]


@pytest.mark.parametrize(
    "func, x, y, expected",
    HAND_VALUES,
    ids=[f"{f.__name__}-{i}" for i, (f, *_) in enumerate(HAND_VALUES)],
)
def test_hand_values(func, x, y, expected):
    assert_allclose(func(x, y), expected, rtol=1e-12, atol=1e-14)


def test_every_test_function_has_hand_values():
    pinned = {f for f, *_ in HAND_VALUES}
    assert set(TEST_FUNCTIONS.values()) == pinned


def test_test_functions_registry():
    assert list(TEST_FUNCTIONS) == [
        "Franke",
        "Cliff",
        "Saddle",
        "Gentle",
        "Steep",
        "Sphere",
        "Trigonometric",
        "Gaussians",
        "Cloverleaf",
        "Cosine Peak",
        "Bilinear",
        "Vicente Romero",
        "Runge",
    ]
    assert list(PAPER_PMM_NMAE) == list(TEST_FUNCTIONS)
    assert PAPER_PMM_NMAE["Franke"] == 3.14e-3
    assert PAPER_PMM_NMAE["Cliff"] == 1.78e-4
    assert PAPER_PMM_NMAE["Runge"] == 9.70e-4
    assert all(0 < v < 0.1 for v in PAPER_PMM_NMAE.values())


@pytest.mark.parametrize("name", list(TEST_FUNCTIONS))
def test_test_functions_broadcast(name):
    func = TEST_FUNCTIONS[name]
    x = np.linspace(0.05, 0.95, 4)[:, None]  # (4, 1)
    y = np.linspace(0.1, 0.9, 3)[None, :]  # (1, 3)
    z = func(x, y)
    assert isinstance(z, np.ndarray)
    assert z.shape == (4, 3)
    assert np.all(np.isfinite(z))
    # Elementwise: matches scalar evaluation, and lists are accepted.
    assert_allclose(z[2, 1], func(float(x[2, 0]), float(y[0, 1])), rtol=1e-14)
    assert func([0.2, 0.4], 0.3).shape == (2,)
    # Finite on the whole closed benchmark domain (no warnings, no nan).
    grid = make_test_grid(11)
    assert np.all(np.isfinite(func(grid[:, 0], grid[:, 1])))


def test_make_test_function_reference_draw():
    X, y = make_test_function("Franke", random_state=0)
    X_ref = np.random.default_rng(0).uniform(0, 1, (200, 2))
    assert_array_equal(X, X_ref)
    assert_array_equal(y, franke(X_ref[:, 0], X_ref[:, 1]))
    assert X.shape == (200, 2)
    assert y.shape == (200,)
    assert np.all((X >= 0) & (X < 1))


def test_make_test_function_determinism_and_generators():
    X1, y1 = make_test_function("Runge", 30, random_state=7)
    X2, y2 = make_test_function("Runge", 30, random_state=np.int64(7))
    assert_array_equal(X1, X2)
    assert_array_equal(y1, y2)
    X3, _ = make_test_function("Runge", 30, random_state=np.random.default_rng(7))
    assert_array_equal(X1, X3)
    X4, _ = make_test_function("Runge", 30, random_state=8)
    assert not np.array_equal(X1, X4)
    # A RandomState instance is used as is.
    X5, _ = make_test_function("Runge", 30, random_state=np.random.RandomState(7))
    assert_array_equal(X5, np.random.RandomState(7).uniform(0, 1, (30, 2)))
    # A Generator instance is advanced.
    rng = np.random.default_rng(0)
    Xa, _ = make_test_function("Runge", 5, random_state=rng)
    Xb, _ = make_test_function("Runge", 5, random_state=rng)
    assert not np.array_equal(Xa, Xb)
    # None gives fresh randomness with the right shapes.
    X6, y6 = make_test_function("Runge", 3)
    assert X6.shape == (3, 2) and y6.shape == (3,)


def test_make_test_function_noise():
    X, y = make_test_function("Runge", 50, noise=0.1, random_state=3)
    rng = np.random.default_rng(3)
    X_ref = rng.uniform(0, 1, (50, 2))
    eps = rng.normal(0.0, 0.1, 50)
    assert_array_equal(X, X_ref)
    assert_allclose(y, runge(X_ref[:, 0], X_ref[:, 1]) + eps, rtol=1e-15)
    # noise=0 leaves y exact.
    _, y0 = make_test_function("Runge", 50, noise=0.0, random_state=3)
    assert_array_equal(y0, runge(X_ref[:, 0], X_ref[:, 1]))


@pytest.mark.parametrize(
    "name",
    ["cosine_peak", "Cosine Peak", "cosine-peak", "COSINE PEAK", " cosine  peak "],
)
def test_make_test_function_name_normalisation(name):
    X, y = make_test_function(name, 10, random_state=0)
    assert_array_equal(y, cosine_peak(X[:, 0], X[:, 1]))


@pytest.mark.parametrize("name", list(TEST_FUNCTIONS))
def test_make_test_function_all_names(name):
    X, y = make_test_function(name.lower().replace(" ", "_"), 5, random_state=1)
    assert_array_equal(y, TEST_FUNCTIONS[name](X[:, 0], X[:, 1]))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "nope"}, "Unknown test function.*'Franke'.*'Runge'"),
        ({"name": 3}, "name must be a string"),
        ({"name": "Franke", "n_samples": 0}, "n_samples must be an int >= 1"),
        ({"name": "Franke", "n_samples": 2.5}, "n_samples must be an int >= 1"),
        ({"name": "Franke", "n_samples": True}, "n_samples must be an int >= 1"),
        ({"name": "Franke", "noise": -0.1}, "noise must be"),
        ({"name": "Franke", "noise": np.inf}, "noise must be"),
        ({"name": "Franke", "random_state": "seed"}, "random_state must be"),
    ],
)
def test_make_test_function_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_test_function(**kwargs)


def test_make_test_grid():
    X = make_test_grid()
    assert X.shape == (10000, 2)
    axis = np.linspace(0, 1, 100)
    assert_array_equal(np.unique(X[:, 0]), axis)
    assert_array_equal(np.unique(X[:, 1]), axis)
    assert X.min() == 0.0 and X.max() == 1.0
    # Edges and corners are included; "ij" order: first coordinate slowest.
    assert_array_equal(X[0], [0.0, 0.0])
    assert_array_equal(X[99], [0.0, 1.0])
    assert_array_equal(X[100], [axis[1], 0.0])
    assert_array_equal(X[-1], [1.0, 1.0])
    assert_array_equal(
        make_test_grid(3),
        [[0, 0], [0, 0.5], [0, 1], [0.5, 0], [0.5, 0.5], [0.5, 1], [1, 0]]
        + [[1, 0.5], [1, 1]],
    )
    for bad in (1, 0, 2.0):
        with pytest.raises(ValueError, match="n_points"):
            make_test_grid(bad)


def test_normalized_mae():
    # mean(|0|, |1|, |2|) = 1; max |y_true| = 4.
    assert normalized_mae([1.0, -2.0, 4.0], [1.0, -1.0, 2.0]) == 0.25
    # max |y_true| uses the absolute value: max(|-5|, |1|) = 5.
    assert normalized_mae([-5.0, 1.0], [-4.0, 2.0]) == pytest.approx(1 / 5)
    assert normalized_mae(np.ones((2, 2)), np.ones((2, 2))) == 0.0
    assert isinstance(normalized_mae([1.0], [0.0]), float)
    with pytest.raises(ValueError, match="max"):
        normalized_mae([0.0, 0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="same shape"):
        normalized_mae([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="same shape"):
        normalized_mae(np.ones(4), np.ones((4, 1)))
    with pytest.raises(ValueError, match="empty"):
        normalized_mae([], [])
    for y_true, y_pred in [([1.0, 2.0], [np.nan, 1.0]), ([np.inf, 2.0], [1.0, 2.0])]:
        with pytest.raises(ValueError, match="finite"):
            normalized_mae(y_true, y_pred)


def fourier_modes(t, n_terms):
    """``sin(n pi t / 3)`` and ``cos(n pi t / 3)`` for n = 0..n_terms, last axis."""
    phase = np.pi / 3 * np.asarray(t, dtype=float)[..., None] * np.arange(n_terms + 1)
    return np.sin(phase), np.cos(phase)


def test_random_fourier_draw_and_formula():
    f = make_random_fourier(n_terms=2, random_state=0)
    # a_nm for n, m = 1..N, then b_nm for n, m = 0..N, from one generator.
    rng = np.random.default_rng(0)
    assert f.a.shape == f.b.shape == (3, 3)
    assert_array_equal(f.a[1:, 1:], rng.standard_normal((2, 2)))
    assert_array_equal(f.b, rng.standard_normal((3, 3)))
    # The sine products with n = 0 or m = 0 vanish: their slots are zero.
    assert_array_equal(f.a[0], 0.0)
    assert_array_equal(f.a[:, 0], 0.0)
    assert f.n_terms == 2
    g = make_random_fourier(n_terms=2, random_state=0)
    assert_array_equal(f.b, g.b)
    assert not np.array_equal(f.b, make_random_fourier(2, random_state=1).b)

    # The paper's double sum, term by term.
    x = np.linspace(-1, 1, 5)[:, None]
    y = np.linspace(-1, 1, 4)[None, :]
    z = f(x, y)
    assert z.shape == (5, 4)
    expected = np.zeros((5, 4))
    for n in range(3):
        for m in range(3):
            expected += f.a[n, m] * np.sin(n * np.pi * x / 3) * np.sin(
                m * np.pi * y / 3
            ) + f.b[n, m] * np.cos(n * np.pi * x / 3) * np.cos(m * np.pi * y / 3)
    assert_allclose(z, expected, rtol=1e-12, atol=1e-12)


def test_random_fourier_hand_values():
    f = make_random_fourier(n_terms=1, random_state=3)
    a, b = f.a, f.b
    # Origin: every sine is 0, every cosine 1.
    assert_allclose(f(0.0, 0.0), b.sum(), rtol=1e-14)
    # x = y = 3/2: sin(pi/2) = 1, cos(pi/2) = 0, so only a_11 and b_00 remain.
    assert_allclose(f(1.5, 1.5), a[1, 1] + b[0, 0], rtol=1e-14)
    # x = 3/2, y = 0: the sines of y vanish; cos(n pi/2) keeps n = 0 only.
    assert_allclose(f(1.5, 0.0), b[0, 0] + b[0, 1], rtol=1e-14)
    # n_terms=0 is the constant b_00.
    c = make_random_fourier(n_terms=0, random_state=5)
    assert_allclose(c([0.1, -0.7], [0.3, 0.9]), [c.b[0, 0], c.b[0, 0]])


def test_random_fourier_separable_structure():
    f = make_random_fourier(n_terms=3, random_state=7)
    rng = np.random.default_rng(1)
    x, y = rng.uniform(-1, 1, (2, 200))
    z = f(x, y)
    # Products of two sines or of two cosines: even under (x, y) -> (-x, -y),
    # with an odd-odd part (the sines) and an even-even part (the cosines).
    assert_allclose(f(-x, -y), z, rtol=1e-12, atol=1e-12)
    odd_odd = (z - f(-x, y) - f(x, -y) + f(-x, -y)) / 4
    even_even = (z + f(-x, y) + f(x, -y) + f(-x, -y)) / 4
    sx, cx = fourier_modes(x, 3)
    sy, cy = fourier_modes(y, 3)
    assert_allclose(odd_odd, np.einsum("sn,nm,sm->s", sx, f.a, sy), atol=1e-12)
    assert_allclose(even_even, np.einsum("sn,nm,sm->s", cx, f.b, cy), atol=1e-12)
    assert np.abs(odd_odd).max() > 0.1  # both parts are really there
    # Frequencies n pi / 3: period 6 in each variable, not 2 (unlike the
    # plane-wave series).
    assert_allclose(f(x + 6.0, y), z, atol=1e-10)
    assert_allclose(f(x, y - 6.0), z, atol=1e-10)
    assert np.abs(f(x + 2.0, y) - z).max() > 0.1
    # Least squares on the paper's basis recovers the coefficients exactly.
    basis = np.concatenate(
        [
            (sx[:, 1:, None] * sy[:, None, 1:]).reshape(200, -1),
            (cx[:, :, None] * cy[:, None, :]).reshape(200, -1),
        ],
        axis=1,
    )
    coef, *_ = np.linalg.lstsq(basis, z, rcond=None)
    assert_allclose(coef[:9], f.a[1:, 1:].ravel(), atol=1e-8)
    assert_allclose(coef[9:], f.b.ravel(), atol=1e-8)


def test_random_polynomial_draw_and_formula():
    f = make_random_polynomial(degree=1, random_state=0)
    # coef[i, j] multiplies x^i y^j, drawn as one (d + 1, d + 1) block.
    c = np.random.default_rng(0).standard_normal((2, 2))
    assert_array_equal(f.coef, c)
    assert f.degree == 1
    x, y = 0.3, -0.8
    assert_allclose(
        f(x, y),
        c[0, 0] + c[0, 1] * y + c[1, 0] * x + c[1, 1] * x * y,
        rtol=1e-14,
    )

    g = make_random_polynomial(degree=4, random_state=2)
    assert g.coef.shape == (5, 5)
    assert_array_equal(g.coef, make_random_polynomial(4, random_state=2).coef)
    xs = np.linspace(-1, 1, 6)[:, None]
    ys = np.linspace(-1, 1, 3)[None, :]
    expected = sum(g.coef[i, j] * xs**i * ys**j for i in range(5) for j in range(5))
    assert g(xs, ys).shape == (6, 3)
    assert_allclose(g(xs, ys), expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="degree"):
        make_random_polynomial(degree=-1)


@pytest.mark.parametrize("degree", [1, 2, 3, 5])
def test_random_polynomial_degree_per_variable(degree):
    f = make_random_polynomial(degree=degree, random_state=degree)
    c = f.coef
    h = 0.25
    axis = -1.0 + h * np.arange(degree + 3)
    z = f(axis[:, None], axis[None, :])  # z[k, l] = f(x_k, y_l)
    fact = math.factorial(degree)
    # Degree <= d in x and in y: the (d + 1)-th differences vanish ...
    assert_allclose(np.diff(z, degree + 1, axis=0), 0.0, atol=1e-9)
    assert_allclose(np.diff(z, degree + 1, axis=1), 0.0, atol=1e-9)
    # ... the d-th difference in x is d! h^d sum_j c_dj y^j ...
    assert_allclose(
        np.diff(z, degree, axis=0)[0],
        fact * h**degree * np.polynomial.polynomial.polyval(axis, c[degree]),
        rtol=1e-8,
        atol=1e-10,
    )
    # ... and the mixed d-th differences give c_dd: the total degree is 2d,
    # which a polynomial of total degree d could not have.
    mixed = np.diff(np.diff(z, degree, axis=0), degree, axis=1)
    assert_allclose(mixed, fact**2 * h ** (2 * degree) * c[degree, degree], rtol=1e-7)
    # An independent fit recovers every coefficient.
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    vander = np.polynomial.polynomial.polyvander2d(
        xx.ravel(), yy.ravel(), [degree, degree]
    )
    fitted, *_ = np.linalg.lstsq(vander, z.ravel(), rcond=None)
    assert_allclose(fitted.reshape(c.shape), c, atol=1e-8)


def test_random_plane_wave_series():
    f = make_random_plane_wave_series(n_terms=2, random_state=0)
    g = make_random_plane_wave_series(n_terms=2, random_state=0)
    assert f.a.shape == f.b.shape == (25,)
    assert_array_equal(f.a, g.a)
    assert_array_equal(f.b, g.b)
    rng = np.random.default_rng(0)
    assert_array_equal(f.a, rng.standard_normal(25))
    assert_array_equal(f.b, rng.standard_normal(25))
    assert not np.array_equal(f.a, make_random_plane_wave_series(2, random_state=1).a)

    x = np.linspace(-1, 1, 5)[:, None]
    y = np.linspace(-1, 1, 4)[None, :]
    z = f(x, y)
    assert z.shape == (5, 4)
    # Explicit double sum over |kx|, |ky| <= 2, ordered by kx then ky.
    expected = np.zeros((5, 4))
    t = 0
    for kx in range(-2, 3):
        for ky in range(-2, 3):
            phase = np.pi * (kx * x + ky * y)
            expected += f.a[t] * np.cos(phase) + f.b[t] * np.sin(phase)
            t += 1
    assert_allclose(z, expected, rtol=1e-12, atol=1e-12)
    # 2-periodic in each variable.
    assert_allclose(f(x + 2.0, y), z, atol=1e-10)
    assert_allclose(f(x, y - 2.0), z, atol=1e-10)
    # Not separable like the paper's class: the sines make f(-x, -y) != f(x, y).
    assert np.abs(f(-x, -y) - z).max() > 0.1
    # n_terms=0 is the constant a_00.
    c = make_random_plane_wave_series(n_terms=0, random_state=5)
    assert_allclose(c([0.1, -0.7], [0.3, 0.9]), [c.a[0], c.a[0]])


def test_random_total_degree_polynomial():
    f = make_random_total_degree_polynomial(degree=1, random_state=0)
    # Coefficients ordered by i then j: x^0 y^0, x^0 y^1, x^1 y^0.
    c = np.random.default_rng(0).standard_normal(3)
    assert_array_equal(f.coef, c)
    x, y = 0.3, -0.8
    assert_allclose(f(x, y), c[0] + c[1] * y + c[2] * x, rtol=1e-14)

    g = make_random_total_degree_polynomial(degree=4, random_state=2)
    assert g.coef.shape == (15,)
    assert_array_equal(
        g.coef, make_random_total_degree_polynomial(4, random_state=2).coef
    )
    xs = np.linspace(-1, 1, 6)[:, None]
    ys = np.linspace(-1, 1, 3)[None, :]
    expected = sum(
        cij * xs**i * ys**j
        for cij, i, j in zip(g.coef, g.powers_x, g.powers_y, strict=True)
    )
    assert g(xs, ys).shape == (6, 3)
    assert_allclose(g(xs, ys), expected, rtol=1e-12, atol=1e-12)
    assert np.all(g.powers_x + g.powers_y <= 4)
    # Total degree 4: the mixed differences of order (4, 1) vanish, although
    # the 4th difference in x alone does not.
    axis = -1.0 + 0.25 * np.arange(6)
    z = g(axis[:, None], axis[None, :])
    assert_allclose(np.diff(np.diff(z, 4, axis=0), 1, axis=1), 0.0, atol=1e-9)
    assert_allclose(np.diff(z, 4, axis=0), 24 * 0.25**4 * g.coef[-1], rtol=1e-8)
    with pytest.raises(ValueError, match="degree"):
        make_random_total_degree_polynomial(degree=-1)


@pytest.mark.parametrize(
    "kind, params, maker",
    [
        ("polynomial", {"degree": 3}, make_random_polynomial),
        ("fourier", {"n_terms": 2}, make_random_fourier),
        ("Fourier", {}, make_random_fourier),
        ("plane_wave_series", {"n_terms": 1}, make_random_plane_wave_series),
        ("Plane-Wave Series", {}, make_random_plane_wave_series),
        (
            "total_degree_polynomial",
            {"degree": 2},
            make_random_total_degree_polynomial,
        ),
    ],
)
def test_make_random_function_data(kind, params, maker):
    X_train, y_train, X_test, y_test = make_random_function_data(
        kind, 40, n_test_per_axis=7, random_state=0, **params
    )
    assert X_train.shape == (40, 2) and y_train.shape == (40,)
    assert X_test.shape == (49, 2) and y_test.shape == (49,)
    assert np.all((X_train >= -1) & (X_train < 1))
    assert X_test.min() == -1.0 and X_test.max() == 1.0
    assert_array_equal(np.unique(X_test[:, 0]), np.linspace(-1, 1, 7))
    # Same generator: coefficients first, then the training inputs.
    rng = np.random.default_rng(0)
    f = maker(random_state=rng, **params)
    X_ref = rng.uniform(-1, 1, (40, 2))
    assert_array_equal(X_train, X_ref)
    assert_allclose(y_train, f(X_ref[:, 0], X_ref[:, 1]), rtol=1e-14)
    assert_allclose(y_test, f(X_test[:, 0], X_test[:, 1]), rtol=1e-14)
    # Deterministic.
    again = make_random_function_data(
        kind, 40, n_test_per_axis=7, random_state=0, **params
    )
    for a, b in zip((X_train, y_train, X_test, y_test), again, strict=True):
        assert_array_equal(a, b)


def test_make_random_function_data_errors():
    with pytest.raises(ValueError, match="Unknown kind.*'total_degree_polynomial'"):
        make_random_function_data("spline")
    with pytest.raises(ValueError, match="Unknown kind"):
        make_random_function_data(3)
    with pytest.raises(ValueError, match="n_samples"):
        make_random_function_data("fourier", 0)
    with pytest.raises(ValueError, match="n_points"):
        make_random_function_data("fourier", n_test_per_axis=1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'degree'"):
        make_random_function_data("fourier", degree=3)
    with pytest.raises(TypeError, match="unexpected keyword argument 'n_terms'"):
        make_random_function_data("polynomial", n_terms=3)


WAVEFORM_VALUES = [
    # sin(2 pi 2 x)
    ("sine", [0.0, 0.125, 0.375, 0.0625], [0.0, 1.0, -1.0, math.sqrt(0.5)]),
    # +1 on the first half of each period (period 1/2), -1 on the second.
    ("square", [0.0, 0.1, 0.3, 0.6, 0.9], [1.0, 1.0, -1.0, 1.0, -1.0]),
    # 2 frac(2x) - 1
    ("sawtooth", [0.0, 0.125, 0.375, 0.625], [-1.0, -0.5, 0.5, -0.5]),
    # Rises -1 -> 1 over [0, 1/4], falls back over [1/4, 1/2].
    ("triangle", [0.0, 0.125, 0.25, 0.375, 0.5625], [-1.0, 0.0, 1.0, 0.0, -0.5]),
    # exp(-3x) sin(2 pi 5 x): sin = 1 at x = 0.05, sin = 0 at x = 0.1.
    ("damped_oscillation", [0.0, 0.05, 0.1], [0.0, math.exp(-0.15), 0.0]),
    # cos(2 pi (x + 4.5 x^2)): phase 1/2 at x = (sqrt(10) - 1) / 9, 11/2 at 1.
    ("chirp", [0.0, (math.sqrt(10) - 1) / 9, 1.0], [1.0, -1.0, -1.0]),
]


@pytest.mark.parametrize("kind, x, expected", WAVEFORM_VALUES)
def test_waveform_values(kind, x, expected):
    assert_allclose(waveform(kind, x), expected, atol=1e-12)


@pytest.mark.parametrize("kind", [k for k, *_ in WAVEFORM_VALUES])
def test_make_waveform(kind):
    X, y = make_waveform(kind, 25, random_state=0)
    assert X.shape == (25, 1) and y.shape == (25,)
    X_ref = np.random.default_rng(0).uniform(0, 1, (25, 1))
    assert_array_equal(X, X_ref)
    assert_array_equal(y, waveform(kind, X_ref[:, 0]))
    assert_array_equal(waveform(kind, X_ref).shape, (25, 1))
    # Noise is drawn after X from the same generator.
    Xn, yn = make_waveform(kind, 25, noise=0.2, random_state=0)
    rng = np.random.default_rng(0)
    rng.uniform(0, 1, (25, 1))
    assert_array_equal(Xn, X)
    assert_allclose(yn, y + rng.normal(0.0, 0.2, 25), rtol=1e-15)


def test_waveform_names_and_errors():
    x = np.linspace(0, 1, 9)
    assert_array_equal(
        waveform("Damped Oscillation", x), waveform("damped-oscillation", x)
    )
    assert_array_equal(waveform("SINE", x), waveform("sine", x))
    with pytest.raises(ValueError, match="Unknown waveform.*'chirp'"):
        waveform("cosine", x)
    with pytest.raises(ValueError, match="Unknown waveform 3"):
        waveform(3, x)
    with pytest.raises(ValueError, match="Unknown waveform"):
        make_waveform("cosine")
    with pytest.raises(ValueError, match="n_samples"):
        make_waveform("sine", -3)
    with pytest.raises(ValueError, match="noise"):
        make_waveform("sine", noise=-1.0)
