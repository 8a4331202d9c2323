# SPDX-License-Identifier: BSD-3-Clause
"""Finite-difference checks of the math layer's analytic gradients.

Gradients of complex quantities follow the convention
``dL = Re sum conj(xbar) dx``.  Every analytic gradient is compared with
central finite differences on random inputs (fixed seeds), for real symmetric
and complex Hermitian matrices, along Hermitian directions where the input is
a Hermitian matrix.  Degenerate spectra must give finite values, and results
must not depend on ``batch_size`` or ``n_jobs``.
"""

import contextlib
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import minimize
from sklearn.utils import gen_batches
from sklearn.utils.parallel import Parallel

from sklearn_pmm._eigh import (
    DEFAULT_BROADENING,
    broadened_inverse_gaps,
    chunked_map,
    eigh_adjoint,
    eigh_batched,
    eigh_stack,
)
from sklearn_pmm._hermitian import HermitianPacking
from sklearn_pmm._loss import PMMModel, SoftmaxCrossEntropy, SquaredError
from sklearn_pmm._readout import (
    WHICH_OPTIONS,
    EigenvalueReadout,
    MatrixReadout,
    make_readout,
    select_eigenpairs,
    spectral_norm_squared,
)

STEP = 1e-6
# Central differences with STEP have truncation and rounding errors of about
# 1e-10 relative here; an error in a gradient formula shows up as O(1).
FD_RTOL = 1e-6
FD_ATOL = 1e-8
COMPLEX = pytest.mark.parametrize(
    "complex_valued", [False, True], ids=["real", "complex"]
)
WHICH = pytest.mark.parametrize("which", WHICH_OPTIONS)
MATRIX_READOUT = pytest.mark.parametrize(
    "kind, n_decoders",
    [("decoder", None), ("decoder", 2), ("expectation", None), ("expectation", 2)],
)
# (readout, n_decoders): n_decoders has no meaning for the eigenvalue readout.
READOUT_CASES = [
    ("eigenvalues", None),
    ("decoder", None),
    ("decoder", 2),
    ("expectation", None),
    ("expectation", 2),
]
READOUT = pytest.mark.parametrize("readout, n_decoders", READOUT_CASES)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def dagger(a):
    """Conjugate transpose of the last two axes."""
    return np.conj(np.swapaxes(a, -1, -2))


def random_matrices(rng, shape, n, complex_valued):
    """General (non-Hermitian) real or complex matrices of shape ``shape + (n, n)``."""
    a = rng.standard_normal((*shape, n, n))
    if complex_valued:
        a = a + 1j * rng.standard_normal((*shape, n, n))
    return a


def random_hermitian(rng, shape, n, complex_valued):
    """Exactly Hermitian (real symmetric) random matrices."""
    a = random_matrices(rng, shape, n, complex_valued)
    return 0.5 * (a + dagger(a))


def random_isometries(rng, n_samples, n, r, complex_valued):
    """``(N, n, r)`` stacks whose columns are columns of unitary matrices."""
    q, _ = np.linalg.qr(random_matrices(rng, (n_samples,), n, complex_valued))
    return q[:, :, :r]


def real_inner(a, b):
    """``Re sum conj(a) b``: the pairing of a gradient with a perturbation."""
    return float(np.real(np.vdot(a, b)))


def central_difference(function, x, direction, step=STEP):
    """Directional derivative of ``function`` at ``x`` along ``direction``."""
    plus = function(x + step * direction)
    minus = function(x - step * direction)
    return (plus - minus) / (2 * step)


def finite_difference_gradient(function, theta, step=STEP):
    """Central-difference gradient of a scalar function of a real vector."""
    grad = np.empty_like(theta)
    for i in range(len(theta)):
        unit = np.zeros_like(theta)
        unit[i] = 1.0
        grad[i] = central_difference(function, theta, unit, step)
    return grad


def selected_eigenpairs(matrices, n_select, which):
    """Full eigensystem plus the selected index, values and vectors."""
    values, vectors = eigh_stack(matrices)
    index = select_eigenpairs(values, n_select, which)
    selected_values = np.take_along_axis(values, index, 1)
    selected_vectors = np.take_along_axis(vectors, index[:, None, :], 2)
    return values, vectors, index, selected_values, selected_vectors


def make_data(rng, n_samples, n_features, n_outputs, data_loss):
    """Inputs, targets (one-hot for the cross-entropy) and sample weights."""
    X = rng.uniform(-1.0, 1.0, (n_samples, n_features))
    if data_loss == "softmax":
        labels = rng.integers(0, n_outputs, n_samples)
        targets = np.eye(n_outputs)[labels]
    else:
        targets = rng.standard_normal((n_samples, n_outputs))
    weights = rng.uniform(0.2, 2.0, n_samples)
    return X, targets, weights


def make_loss(data_loss):
    return SquaredError() if data_loss == "squared" else SoftmaxCrossEntropy(0.7)


@contextlib.contextmanager
def strict_numerics():
    """Turn every warning and every floating-point error into an exception."""
    with (
        warnings.catch_warnings(),
        np.errstate(divide="raise", invalid="raise", over="raise"),
    ):
        warnings.simplefilter("error")
        yield


@pytest.fixture
def strict():
    with strict_numerics():
        yield


# --------------------------------------------------------------------------
# 1. HermitianPacking
# --------------------------------------------------------------------------


@COMPLEX
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_packing_round_trip(n, complex_valued):
    rng = np.random.default_rng(100 + n)
    packing = HermitianPacking(n, complex_valued)
    assert packing.n_floats == (n * n if complex_valued else n * (n + 1) // 2)

    packed = rng.standard_normal((4, packing.n_floats))
    matrices = packing.unpack(packed)
    assert matrices.shape == (4, n, n)
    assert matrices.dtype == (np.complex128 if complex_valued else np.float64)
    assert_array_equal(matrices, dagger(matrices))
    assert_array_equal(packing.pack(matrices), packed)

    hermitian = random_hermitian(rng, (3,), n, complex_valued)
    assert_array_equal(packing.unpack(packing.pack(hermitian)), hermitian)

    # Only the upper triangle (with the real part of the diagonal) is read.
    general = random_matrices(rng, (3,), n, complex_valued)
    rebuilt = packing.unpack(packing.pack(general))
    rows, cols = np.triu_indices(n, k=1)
    assert_array_equal(rebuilt[:, rows, cols], general[:, rows, cols])
    diag = np.arange(n)
    assert_array_equal(rebuilt[:, diag, diag], general[:, diag, diag].real)


@COMPLEX
@pytest.mark.parametrize("grad_complex", [False, True], ids=["G_real", "G_complex"])
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_pack_gradient_is_adjoint_of_unpack(n, grad_complex, complex_valued):
    rng = np.random.default_rng(200 + n)
    packing = HermitianPacking(n, complex_valued)
    packed = rng.standard_normal((4, packing.n_floats))
    grad = random_matrices(rng, (4,), n, grad_complex)  # not Hermitian
    packed_grad = packing.pack_gradient(grad)
    assert packed_grad.shape == packed.shape
    assert packed_grad.dtype == np.float64
    lhs = np.einsum("mk,mk->m", packed_grad, packed)
    rhs = np.real(np.einsum("mab,mab->m", np.conj(grad), packing.unpack(packed)))
    assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------
# 2. eigh_adjoint
# --------------------------------------------------------------------------


def eigenpair_loss(matrices, n_select, which, coefs, observable, pair_weights, mode):
    r"""A phase-invariant loss of the selected eigenpairs and its gradients.

    ``L = sum c_k lambda_k + sum_ij b_ij |v_i^\dagger A v_j|^2``; with
    ``W = V_S^\dagger A V_S`` and ``S = b + b^T``,
    ``Vbar = 2 A V_S (S o W)`` and ``lambdabar = c``.
    """
    values, vectors, index, lam, v = selected_eigenpairs(matrices, n_select, which)
    loss = 0.0
    values_grad = vectors_grad = None
    if mode in ("both", "values"):
        loss += np.sum(coefs * lam)
        values_grad = coefs
    if mode in ("both", "vectors"):
        w = dagger(v) @ observable @ v
        loss += np.sum(pair_weights * np.abs(w) ** 2)
        vectors_grad = 2 * (observable @ v) @ ((pair_weights + pair_weights.T) * w)
    return loss, (vectors, index, lam, values, vectors_grad, values_grad)


@COMPLEX
@WHICH
@pytest.mark.parametrize("mode", ["both", "values", "vectors"])
def test_eigh_adjoint_finite_differences(mode, which, complex_valued):
    rng = np.random.default_rng(300)
    n_samples, n, r = 4, 5, 3
    matrices = random_hermitian(rng, (n_samples,), n, complex_valued)
    coefs = rng.standard_normal((n_samples, r))
    observable = random_hermitian(rng, (), n, complex_valued)
    pair_weights = rng.uniform(0.5, 1.5, (r, r))
    args = (r, which, coefs, observable, pair_weights, mode)

    _, pieces = eigenpair_loss(matrices, *args)
    matrix_grad = eigh_adjoint(*pieces)
    assert matrix_grad.shape == matrices.shape
    assert np.all(np.isfinite(matrix_grad))

    def function(m):
        return eigenpair_loss(m, *args)[0]

    for _ in range(3):
        direction = random_hermitian(rng, (n_samples,), n, complex_valued)
        numeric = central_difference(function, matrices, direction)
        analytic = real_inner(matrix_grad, direction)
        assert_allclose(analytic, numeric, rtol=FD_RTOL, atol=FD_ATOL)


@COMPLEX
def test_eigh_adjoint_per_sample(complex_valued):
    # Each sample's gradient depends only on that sample.
    rng = np.random.default_rng(301)
    matrices = random_hermitian(rng, (5,), 4, complex_valued)
    coefs = rng.standard_normal((5, 2))
    observable = random_hermitian(rng, (), 4, complex_valued)
    args = (2, "lowest", coefs, observable, np.ones((2, 2)), "both")
    full = eigh_adjoint(*eigenpair_loss(matrices, *args)[1])
    for s in range(5):
        one = (2, "lowest", coefs[s : s + 1], observable, np.ones((2, 2)), "both")
        single = eigh_adjoint(*eigenpair_loss(matrices[s : s + 1], *one)[1])
        assert_allclose(single[0], full[s], rtol=1e-12, atol=1e-14)


def test_select_eigenpairs():
    values = np.array([[-3.0, -1.0, 0.5, 2.0], [-0.1, 0.2, 0.3, 4.0]])
    assert_array_equal(select_eigenpairs(values, 2, "lowest"), [[0, 1], [0, 1]])
    assert_array_equal(select_eigenpairs(values, 2, "highest"), [[3, 2], [3, 2]])
    assert_array_equal(
        select_eigenpairs(values, 3, "largest_magnitude"), [[0, 3, 1], [3, 2, 1]]
    )
    with pytest.raises(ValueError, match="which must be one of"):
        select_eigenpairs(values, 2, "middle")


# --------------------------------------------------------------------------
# 3. broadened_inverse_gaps
# --------------------------------------------------------------------------


@WHICH
def test_broadened_inverse_gaps_separated(which):
    rng = np.random.default_rng(400)
    n_samples, n, r = 4, 6, 3
    # Levels at least 0.3 apart, on a spectral scale of several units.
    values = np.cumsum(rng.uniform(0.3, 1.5, (n_samples, n)), axis=1) - 4.0
    index = select_eigenpairs(values, r, which)
    selected = np.take_along_axis(values, index, 1)
    gaps = broadened_inverse_gaps(values, selected, DEFAULT_BROADENING)
    assert gaps.shape == (n_samples, n, r)

    itself = index[:, None, :] == np.arange(n)[None, :, None]
    assert np.all(gaps[itself] == 0.0)
    differences = selected[:, None, :] - values[:, :, None]
    expected = np.divide(1.0, differences, out=np.zeros_like(gaps), where=~itself)
    assert_allclose(gaps[~itself], expected[~itself], rtol=1e-10, atol=0)


@pytest.mark.parametrize(
    "values",
    [
        np.zeros((2, 4)),
        np.ones((2, 4)),
        np.array([[-2.0, -2.0, 1.0, 1.0], [0.0, 0.0, 0.0, 3.0]]),
        np.array([[5.0, 5.0, 5.0 + 1e-13, 7.0], [-1e3, -1e3, 1e3, 1e3]]),
    ],
    ids=["zero", "identity", "blocks", "near_degenerate"],
)
def test_broadened_inverse_gaps_degenerate(values, strict):
    for which in WHICH_OPTIONS:
        index = select_eigenpairs(values, 3, which)
        selected = np.take_along_axis(values, index, 1)
        gaps = broadened_inverse_gaps(values, selected, DEFAULT_BROADENING)
        assert np.all(np.isfinite(gaps))
        differences = selected[:, None, :] - values[:, :, None]
        assert np.all(gaps[differences == 0.0] == 0.0)
        # x / (x^2 + eps^2) never exceeds 1 / (2 eps).
        scale = np.maximum(np.abs(values).max(axis=1), 1.0)
        bound = 1.0 / (2 * DEFAULT_BROADENING * scale)
        assert np.all(np.abs(gaps) <= bound[:, None, None] * (1 + 1e-12))


@COMPLEX
@pytest.mark.parametrize("kind", ["zero", "identity", "blocks"])
def test_eigh_adjoint_degenerate_is_finite(kind, complex_valued, strict):
    rng = np.random.default_rng(401)
    n = 4
    if kind == "zero":
        matrices = np.zeros((3, n, n))
    elif kind == "identity":
        matrices = np.broadcast_to(np.eye(n), (3, n, n)).copy()
    else:
        matrices = np.broadcast_to(np.diag([-1.0, -1.0, 2.0, 2.0]), (3, n, n)).copy()
    if complex_valued:
        matrices = matrices.astype(np.complex128)
    observable = random_hermitian(rng, (), n, complex_valued)
    for which in WHICH_OPTIONS:
        args = (2, which, np.ones((3, 2)), observable, np.ones((2, 2)), "both")
        matrix_grad = eigh_adjoint(*eigenpair_loss(matrices, *args)[1])
        assert np.all(np.isfinite(matrix_grad))


# --------------------------------------------------------------------------
# 4. spectral_norm_squared
# --------------------------------------------------------------------------


@COMPLEX
@pytest.mark.parametrize("shift", [4.0, -4.0], ids=["top_positive", "top_negative"])
def test_spectral_norm_squared_gradient(shift, complex_valued):
    rng = np.random.default_rng(500)
    n = 5
    matrices = random_hermitian(rng, (4,), n, complex_valued) + shift * np.eye(n)
    norms, grad = spectral_norm_squared(matrices)
    assert_allclose(norms, np.linalg.norm(matrices, ord=2, axis=(1, 2)) ** 2)

    for _ in range(3):
        direction = random_hermitian(rng, (4,), n, complex_valued)
        numeric = central_difference(
            lambda m: spectral_norm_squared(m)[0], matrices, direction
        )
        analytic = np.real(np.einsum("mab,mab->m", np.conj(grad), direction))
        assert_allclose(analytic, numeric, rtol=FD_RTOL, atol=FD_ATOL)


def test_spectral_norm_squared_degenerate_is_finite(strict):
    matrices = np.stack([np.zeros((3, 3)), np.eye(3), np.diag([2.0, -2.0, 1.0])])
    norms, grad = spectral_norm_squared(matrices)
    assert_allclose(norms, [0.0, 1.0, 4.0])
    assert np.all(np.isfinite(grad))


# --------------------------------------------------------------------------
# 5. readouts
# --------------------------------------------------------------------------


@COMPLEX
def test_eigenvalue_readout(complex_valued):
    rng = np.random.default_rng(600)
    n_samples, n, q, r = 4, 5, 2, 3
    readout = make_readout("eigenvalues", q, r, None)
    assert isinstance(readout, EigenvalueReadout)
    assert readout.n_matrices == 0
    assert not readout.needs_vectors
    no_matrices = np.zeros((0, n, n))
    offset, norm_grad = readout.offset(no_matrices)
    assert_array_equal(offset, np.zeros(q))
    assert norm_grad is None

    values = np.sort(rng.standard_normal((n_samples, r)), axis=1)
    outputs, cache = readout.forward(None, values, no_matrices)
    assert_array_equal(outputs, values[:, :q])
    outputs_grad = rng.standard_normal((n_samples, q))
    vectors_grad, values_grad, matrices_grad = readout.backward(
        outputs_grad, None, cache, no_matrices
    )
    assert vectors_grad is None
    assert matrices_grad is None
    assert values_grad.shape == (n_samples, r)

    def function(v):
        return np.sum(outputs_grad * readout.forward(None, v, no_matrices)[0])

    direction = rng.standard_normal(values.shape)
    numeric = central_difference(function, values, direction)
    assert_allclose(
        np.sum(values_grad * direction), numeric, rtol=FD_RTOL, atol=FD_ATOL
    )
    assert readout.offset_gradient(outputs_grad.sum(axis=0), norm_grad) is None

    # End to end: the readout's values gradient through eigh_adjoint.
    matrices = random_hermitian(rng, (n_samples,), n, complex_valued)
    for which in WHICH_OPTIONS:
        eig = selected_eigenpairs(matrices, r, which)
        _, values_grad, _ = readout.backward(outputs_grad, None, None, no_matrices)
        grad = eigh_adjoint(eig[1], eig[2], eig[3], eig[0], None, values_grad)

        def through_eigh(m, which=which):
            lam = selected_eigenpairs(m, r, which)[3]
            return np.sum(outputs_grad * readout.forward(None, lam, no_matrices)[0])

        direction = random_hermitian(rng, (n_samples,), n, complex_valued)
        numeric = central_difference(through_eigh, matrices, direction)
        assert_allclose(
            real_inner(grad, direction), numeric, rtol=FD_RTOL, atol=FD_ATOL
        )


def naive_matrix_readout(kind, n_decoders, vectors, matrices, n_outputs):
    """The readout formula written out pair by pair, and its offset."""
    n_samples, _, r = vectors.shape
    if kind == "decoder":
        pairs = [(i, j) for i in range(r) for j in range(i, r)]
    else:
        pairs = [(i, i) for i in range(r)]
    if n_decoders is None:
        groups = [[pair] for pair in pairs]
    else:
        groups = [pairs] * n_decoders
    per_output = len(groups)
    outputs = np.zeros((n_samples, n_outputs))
    offset = np.zeros(n_outputs)
    for k in range(n_outputs):
        for m, group in enumerate(groups):
            d = matrices[k * per_output + m]
            top = np.max(np.abs(np.linalg.eigvalsh(d)))
            for i, j in group:
                w = np.einsum(
                    "sa,ab,sb->s", np.conj(vectors[:, :, i]), d, vectors[:, :, j]
                )
                if kind == "decoder":
                    outputs[:, k] += np.abs(w) ** 2
                    offset[k] -= 0.5 * top**2
                else:
                    outputs[:, k] += w.real
    return outputs, offset


@COMPLEX
@MATRIX_READOUT
def test_matrix_readout(kind, n_decoders, complex_valued):
    rng = np.random.default_rng(700)
    n_samples, n, q, r = 4, 5, 2, 3
    readout = make_readout(kind, q, r, n_decoders)
    assert isinstance(readout, MatrixReadout)
    n_pairs = r * (r + 1) // 2 if kind == "decoder" else r
    per_output = n_pairs if n_decoders is None else n_decoders
    assert readout.n_matrices == q * per_output

    vectors = random_isometries(rng, n_samples, n, r, complex_valued)
    values = rng.standard_normal((n_samples, r))
    matrices = random_hermitian(rng, (readout.n_matrices,), n, complex_valued)
    outputs_grad = rng.standard_normal((n_samples, q))

    # Forward pass and offset against the formula written out.
    outputs, cache = readout.forward(vectors, values, matrices)
    offset, norm_grad = readout.offset(matrices)
    expected_outputs, expected_offset = naive_matrix_readout(
        kind, n_decoders, vectors, matrices, q
    )
    assert outputs.dtype == np.float64
    assert_allclose(outputs, expected_outputs, rtol=1e-12, atol=1e-12)
    assert_allclose(offset, expected_offset, rtol=1e-12, atol=1e-12)

    vectors_grad, values_grad, matrices_grad = readout.backward(
        outputs_grad, vectors, cache, matrices
    )
    assert values_grad is None
    assert vectors_grad.shape == vectors.shape
    assert matrices_grad.shape == matrices.shape

    def of_vectors(v):
        return np.sum(outputs_grad * readout.forward(v, values, matrices)[0])

    def of_matrices(m):
        return np.sum(outputs_grad * readout.forward(vectors, values, m)[0])

    for _ in range(3):
        # Any direction: the readout is a polynomial in the vector entries.
        direction = random_matrices(rng, (n_samples,), n, complex_valued)[:, :, :r]
        numeric = central_difference(of_vectors, vectors, direction)
        assert_allclose(
            real_inner(vectors_grad, direction), numeric, rtol=FD_RTOL, atol=FD_ATOL
        )
        direction = random_hermitian(rng, (readout.n_matrices,), n, complex_valued)
        numeric = central_difference(of_matrices, matrices, direction)
        assert_allclose(
            real_inner(matrices_grad, direction), numeric, rtol=FD_RTOL, atol=FD_ATOL
        )

    # Offset and its gradient.
    outputs_grad_sum = outputs_grad.sum(axis=0)
    offset_grad = readout.offset_gradient(outputs_grad_sum, norm_grad)
    if kind == "expectation":
        assert_array_equal(offset, np.zeros(q))
        assert norm_grad is None
        assert offset_grad is None
        return
    assert offset_grad.shape == matrices.shape
    for _ in range(3):
        direction = random_hermitian(rng, (readout.n_matrices,), n, complex_valued)
        numeric = central_difference(
            lambda m: np.dot(outputs_grad_sum, readout.offset(m)[0]),
            matrices,
            direction,
        )
        assert_allclose(
            real_inner(offset_grad, direction), numeric, rtol=FD_RTOL, atol=FD_ATOL
        )


# --------------------------------------------------------------------------
# 6. the whole loss
# --------------------------------------------------------------------------


def naive_loss(model, theta, X, targets, weights, data_loss, alpha):
    """The weighted-mean data loss and L2 penalty written out from ``predict``."""
    z = model.predict(theta, X)
    if data_loss == "squared":
        per_sample = 0.5 * np.sum((z - targets) ** 2, axis=1)
    else:
        logits = z / 0.7
        logits = logits - logits.max(axis=1, keepdims=True)
        log_proba = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        per_sample = -np.sum(targets * log_proba, axis=1)
    n_matrix_floats = model.n_params - model.n_outputs
    penalty = 0.5 * alpha * np.sum(theta[:n_matrix_floats] ** 2)
    return np.dot(weights, per_sample) / weights.sum() + penalty


def check_loss_gradient(model, seed, data_loss, n_samples=10, batch_size=4):
    rng = np.random.default_rng(seed)
    X, targets, weights = make_data(
        rng, n_samples, model.n_features, model.n_outputs, data_loss
    )
    theta = 0.7 * rng.standard_normal(model.n_params)
    loss_fn = make_loss(data_loss)
    alpha = 0.1

    loss, grad = model.loss_gradient(
        theta, X, targets, weights, loss_fn, alpha, batch_size=batch_size
    )
    assert isinstance(loss, float)
    assert grad.shape == (model.n_params,)
    expected = naive_loss(model, theta, X, targets, weights, data_loss, alpha)
    assert_allclose(loss, expected, rtol=1e-12)

    one_chunk = model.loss_gradient(
        theta, X, targets, weights, loss_fn, alpha, batch_size=n_samples
    )
    assert_allclose(one_chunk[0], loss, rtol=1e-13)
    assert_allclose(one_chunk[1], grad, rtol=1e-11, atol=1e-13)

    def function(t):
        return model.loss_gradient(t, X, targets, weights, loss_fn, alpha)[0]

    numeric = finite_difference_gradient(function, theta)
    error = np.max(np.abs(numeric - grad)) / np.max(np.abs(grad))
    assert error < 1e-6, f"relative gradient error {error:.2e}"


@pytest.mark.parametrize("data_loss", ["squared", "softmax"])
@COMPLEX
@WHICH
@READOUT
def test_loss_gradient_finite_differences(
    readout, n_decoders, which, complex_valued, data_loss
):
    model = PMMModel(
        n_features=2,
        n_outputs=2,
        matrix_size=4,
        n_eigenvectors=3,
        readout=readout,
        n_decoders=n_decoders,
        which=which,
        complex_valued=complex_valued,
    )
    check_loss_gradient(model, 800, data_loss)


def test_loss_gradient_paper_shape():
    # The paper's regression layout (q = 1, r = 3, one decoder per pair), n = 5.
    model = PMMModel(2, 1, 5, 3, "decoder", None, "largest_magnitude", True)
    assert model.n_params == 3 * 25 + 6 * 25 + 1
    check_loss_gradient(model, 801, "squared", n_samples=9, batch_size=2)


# --------------------------------------------------------------------------
# 7. degenerate spectra
# --------------------------------------------------------------------------


def degenerate_parameters(model, rng):
    """Parameter vectors whose primary matrices have repeated eigenvalues."""
    n, p = model.matrix_size, model.n_features
    eye = np.eye(n)
    zeros = np.zeros((p + 1, n, n))
    no_secondary = np.zeros((model.readout.n_matrices, n, n))
    rand_secondary = random_hermitian(
        rng, (model.readout.n_matrices,), n, model.packing.complex_valued
    )
    eye_secondary = np.broadcast_to(eye, no_secondary.shape)
    intercept = rng.standard_normal(model.n_outputs)

    identity = zeros.copy()
    identity[0] = eye
    blocks = zeros.copy()
    blocks[0] = np.diag(np.repeat([2.0, -1.0], [n // 2, n - n // 2]))
    blocks[1:] = blocks[0] * rng.uniform(0.1, 0.4, p)[:, None, None]
    plus_minus = zeros.copy()
    plus_minus[0] = np.diag(np.resize([1.0, -1.0], n))
    return {
        "all_zero": np.zeros(model.n_params),
        "identity": model.pack(identity, no_secondary, intercept),
        "identity_random_secondary": model.pack(identity, rand_secondary, intercept),
        "identity_secondary": model.pack(identity, eye_secondary, intercept),
        "zero_hamiltonian": model.pack(zeros, rand_secondary, intercept),
        "blocks": model.pack(blocks, rand_secondary, intercept),
        "plus_minus": model.pack(plus_minus, rand_secondary, intercept),
    }


@pytest.mark.parametrize("data_loss", ["squared", "softmax"])
@COMPLEX
@WHICH
@READOUT
def test_degenerate_spectra_are_finite(
    readout, n_decoders, which, complex_valued, data_loss, strict
):
    rng = np.random.default_rng(900)
    model = PMMModel(2, 2, 4, 2, readout, n_decoders, which, complex_valued)
    X, targets, weights = make_data(rng, 6, 2, 2, data_loss)
    for name, theta in degenerate_parameters(model, rng).items():
        loss, grad = model.loss_gradient(
            theta, X, targets, weights, make_loss(data_loss), 0.1, batch_size=4
        )
        assert np.isfinite(loss), name
        assert np.all(np.isfinite(grad)), name
        assert np.all(np.isfinite(model.predict(theta, X))), name


@COMPLEX
@READOUT
@pytest.mark.parametrize("start", ["all_zero", "identity_random_secondary", "blocks"])
def test_lbfgs_from_degenerate_start(start, readout, n_decoders, complex_valued):
    rng = np.random.default_rng(901)
    model = PMMModel(
        2, 1, 4, 2, readout, n_decoders, "largest_magnitude", complex_valued
    )
    X, targets, weights = make_data(rng, 8, 2, 1, "squared")
    theta0 = degenerate_parameters(model, rng)[start]

    def function(theta):
        return model.loss_gradient(theta, X, targets, weights, SquaredError(), 0.1)

    with strict_numerics():
        loss0 = function(theta0)[0]
        result = minimize(
            function, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 5}
        )
    assert np.all(np.isfinite(result.x))
    assert np.isfinite(result.fun)
    assert np.all(np.isfinite(result.jac))
    assert result.fun <= loss0


# Spectra with a repeated level; the loss stays differentiable because either
# the repeated level is never selected, or the readout only sees the selected
# subspace (shared observables: sum_i v_i^dagger D v_i = tr(P D)).
UNSELECTED_REPEATS = {
    "lowest": [-4.0, -2.0, 1.0, 1.0],
    "highest": [0.0, 0.0, 2.0, 4.0],
    "largest_magnitude": [-4.0, 0.5, 0.5, 3.0],
}
SELECTED_REPEATS = {
    "lowest": [-3.0, -3.0, 0.5, 2.0],
    "highest": [-2.0, 0.5, 2.5, 2.5],
    "largest_magnitude": [-3.5, 1.0, 0.5, -3.5],
}


def degenerate_model_parameters(model, spectrum, rng):
    """Random parameters whose H(x) keeps ``spectrum``'s repeated level for all x.

    H_0 = U diag(spectrum) U^dagger and H_l = U diag(a_l) U^dagger, with ``a_l``
    equal on the repeated level and small enough to keep the level order.
    """
    n, p = model.matrix_size, model.n_features
    complex_valued = model.packing.complex_valued
    u, _ = np.linalg.qr(random_matrices(rng, (), n, complex_valued))
    spectrum = np.asarray(spectrum)
    repeated = np.flatnonzero(np.sum(spectrum[:, None] == spectrum, axis=1) > 1)
    diagonals = np.concatenate([spectrum[None], rng.uniform(-0.15, 0.15, (p, n))])
    diagonals[1:, repeated] = diagonals[1:, repeated[:1]]
    hamiltonians = (u * diagonals[:, None, :]) @ dagger(u)
    hamiltonians = 0.5 * (hamiltonians + dagger(hamiltonians))
    secondary = random_hermitian(rng, (model.readout.n_matrices,), n, complex_valued)
    return model.pack(hamiltonians, secondary, rng.standard_normal(model.n_outputs))


def check_degenerate_gradient(model, spectrum, data_loss, seed):
    rng = np.random.default_rng(seed)
    X, targets, weights = make_data(
        rng, 8, model.n_features, model.n_outputs, data_loss
    )
    theta = degenerate_model_parameters(model, spectrum, rng)
    levels = model.eigenvalues(theta, X)
    repeats = np.sum(np.abs(levels[:, :, None] - levels[:, None, :]) < 1e-12, axis=2)
    assert np.all(np.max(repeats, axis=1) == 2)  # the repeated level is there
    args = (X, targets, weights, make_loss(data_loss), 0.1)
    _, grad = model.loss_gradient(theta, *args, batch_size=3)
    numeric = finite_difference_gradient(
        lambda t: model.loss_gradient(t, *args)[0], theta
    )
    error = np.max(np.abs(numeric - grad)) / np.max(np.abs(grad))
    assert error < 1e-6, f"relative gradient error {error:.2e}"


@COMPLEX
@WHICH
@READOUT
def test_loss_gradient_repeated_unselected_level(
    readout, n_decoders, which, complex_valued
):
    # The two selected levels are simple; a repeated level is not selected.
    model = PMMModel(2, 2, 4, 2, readout, n_decoders, which, complex_valued)
    check_degenerate_gradient(model, UNSELECTED_REPEATS[which], "squared", 950)


@COMPLEX
@WHICH
@pytest.mark.parametrize("n_decoders", [1, 2])
def test_loss_gradient_repeated_selected_level(n_decoders, which, complex_valued):
    # Both selected levels are one repeated level, read out through
    # observables shared by the two vectors: the loss only sees the subspace.
    model = PMMModel(2, 2, 4, 2, "expectation", n_decoders, which, complex_valued)
    check_degenerate_gradient(model, SELECTED_REPEATS[which], "softmax", 960)


# --------------------------------------------------------------------------
# 8. rescale
# --------------------------------------------------------------------------


@COMPLEX
@WHICH
@READOUT
def test_rescale(readout, n_decoders, which, complex_valued):
    rng = np.random.default_rng(1000)
    p, q = 2, 2
    model = PMMModel(p, q, 4, 3, readout, n_decoders, which, complex_valued)
    theta = 0.7 * rng.standard_normal(model.n_params)
    X = rng.uniform(-2.0, 2.0, (7, p))
    x_shift = rng.standard_normal(p)
    x_scale = rng.uniform(0.5, 2.0, p)
    y_shift = rng.standard_normal(q)
    if readout == "eigenvalues":
        y_scale = np.full(q, 1.7)
    else:
        y_scale = rng.uniform(0.5, 2.0, q)

    rescaled = model.rescale(theta, x_shift, x_scale, y_shift, y_scale)
    assert rescaled.shape == theta.shape
    expected = y_scale * model.predict(theta, (X - x_shift) / x_scale) + y_shift
    scale = np.max(np.abs(expected))
    assert_allclose(
        model.predict(rescaled, X), expected, rtol=1e-10, atol=1e-10 * scale
    )

    # The inverse map restores the parameters and the predictions.
    restored = model.rescale(
        rescaled, -x_shift / x_scale, 1.0 / x_scale, -y_shift / y_scale, 1.0 / y_scale
    )
    assert_allclose(restored, theta, rtol=1e-12, atol=1e-12)
    original = model.predict(theta, X)
    assert_allclose(
        model.predict(restored, X), original, rtol=1e-10, atol=1e-10 * scale
    )


def test_rescale_eigenvalues_needs_common_scale():
    model = PMMModel(2, 2, 4, 2, "eigenvalues", None, "lowest", True)
    theta = np.random.default_rng(1001).standard_normal(model.n_params)
    with pytest.raises(ValueError, match="common y_scale"):
        model.rescale(theta, np.zeros(2), np.ones(2), np.zeros(2), np.array([1.0, 2.0]))


@COMPLEX
@READOUT
def test_pack_unpack_parameters(readout, n_decoders, complex_valued):
    model = PMMModel(2, 2, 4, 3, readout, n_decoders, "lowest", complex_valued)
    theta = np.random.default_rng(1002).standard_normal(model.n_params)
    hamiltonians, secondary, intercept = model.unpack(theta)
    assert hamiltonians.shape == (3, 4, 4)
    assert secondary.shape == (model.readout.n_matrices, 4, 4)
    assert_array_equal(model.pack(hamiltonians, secondary, intercept), theta)
    # eigenvalues() agrees with the decomposition of primary_matrices().
    X = np.random.default_rng(1003).uniform(-1, 1, (5, 2))
    stack = model.primary_matrices(X, hamiltonians)
    assert_allclose(stack, dagger(stack), rtol=0, atol=0)
    assert_allclose(model.eigenvalues(theta, X), np.linalg.eigvalsh(stack))


# --------------------------------------------------------------------------
# 9. chunking and parallelism
# --------------------------------------------------------------------------


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("batch_size", [1, 3, 10, 50])
def test_chunked_map_order(batch_size, n_jobs):
    results = chunked_map(
        lambda batch: (batch.start, batch.stop),
        10,
        batch_size=batch_size,
        n_jobs=n_jobs,
    )
    assert results == [(b.start, b.stop) for b in gen_batches(10, batch_size)]
    with Parallel(n_jobs=2, prefer="threads") as parallel:
        reused = chunked_map(
            lambda batch: (batch.start, batch.stop),
            10,
            batch_size=batch_size,
            n_jobs=n_jobs,
            parallel=parallel,
        )
    assert reused == results


@COMPLEX
def test_eigh_batched_is_deterministic(complex_valued):
    rng = np.random.default_rng(1100)
    matrices = random_hermitian(rng, (23,), 5, complex_valued)
    values, vectors = np.linalg.eigh(matrices)
    for batch_size in (1, 4, 23, 1024):
        for n_jobs in (1, 2):
            got_values, got_vectors = eigh_batched(
                matrices, batch_size=batch_size, n_jobs=n_jobs
            )
            assert np.array_equal(got_values, values), (batch_size, n_jobs)
            assert np.array_equal(got_vectors, vectors), (batch_size, n_jobs)


@pytest.mark.parametrize("data_loss", ["squared", "softmax"])
@COMPLEX
@READOUT
def test_loss_gradient_is_deterministic(readout, n_decoders, complex_valued, data_loss):
    rng = np.random.default_rng(1200)
    model = PMMModel(
        2, 2, 4, 3, readout, n_decoders, "largest_magnitude", complex_valued
    )
    X, targets, weights = make_data(rng, 11, 2, 2, data_loss)
    theta = 0.7 * rng.standard_normal(model.n_params)
    args = (theta, X, targets, weights, make_loss(data_loss), 0.1)

    reference = model.loss_gradient(*args, batch_size=3, n_jobs=1)
    parallel_run = model.loss_gradient(*args, batch_size=3, n_jobs=2)
    assert reference[0] == parallel_run[0]
    assert np.array_equal(reference[1], parallel_run[1])
    with Parallel(n_jobs=2, prefer="threads") as parallel:
        for _ in range(2):
            reused = model.loss_gradient(
                *args, batch_size=3, n_jobs=2, parallel=parallel
            )
            assert reused[0] == reference[0]
            assert np.array_equal(reused[1], reference[1])

    # Other chunkings change only the summation order.
    for batch_size in (1, 5, 11, 1024):
        other = model.loss_gradient(*args, batch_size=batch_size, n_jobs=2)
        assert_allclose(other[0], reference[0], rtol=1e-13)
        assert_allclose(other[1], reference[1], rtol=1e-11, atol=1e-13)

    predictions = model.predict(theta, X, batch_size=3, n_jobs=1)
    for batch_size in (1, 3, 1024):
        for n_jobs in (1, 2):
            other = model.predict(theta, X, batch_size=batch_size, n_jobs=n_jobs)
            assert_allclose(other, predictions, rtol=1e-13, atol=1e-14)


def test_eigh_batched_scipy_options_match_the_stacked_solver():
    # subset_by_index and driver go through scipy.linalg.eigh, the reference API.
    from sklearn_pmm._eigh import eigh_batched

    rng = np.random.default_rng(7)
    stack = rng.normal(size=(9, 5, 5)) + 1j * rng.normal(size=(9, 5, 5))
    stack = stack + np.conj(stack.transpose(0, 2, 1))
    values, vectors = np.linalg.eigh(stack)
    sub_values, sub_vectors = eigh_batched(
        stack, batch_size=4, subset_by_index=(1, 3), driver="evr"
    )
    assert_allclose(sub_values, values[:, 1:4], atol=1e-12)
    overlap = np.abs(np.einsum("sai,sai->si", np.conj(vectors[:, :, 1:4]), sub_vectors))
    assert_allclose(overlap, 1.0, atol=1e-10)
