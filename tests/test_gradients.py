# SPDX-License-Identifier: BSD-3-Clause
"""Finite-difference checks of the math layer's analytic gradients.

Gradients of complex quantities follow the convention
``dL = Re sum conj(xbar) dx``.  Every analytic gradient is compared with
central finite differences on random inputs (fixed seeds), for real symmetric
and complex Hermitian matrices.  Matrix inputs are perturbed through their
packed floats, so the checks see exactly the directions a parameter vector
can move in.

The tests are parametrised over the registries: every packing kind of
``PACKING_KINDS``, every readout of ``READOUTS``, every data loss of
``DATA_LOSSES`` and every primary map of ``MAP_FACTORIES`` (which must cover
``sklearn_pmm._core.maps.MAPS``), so a new map, readout or loss is
finite-difference checked as soon as it is registered.

Tolerances are about ten times the worst error measured with the seeds
below; run with ``PMM_FD_LOG=path`` to append every measured error to
``path`` (one ``group error`` line per check) and re-derive them.
"""

import contextlib
import os
import threading
import time
import warnings

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax

from sklearn_pmm._core import model as model_module
from sklearn_pmm._core.eigh import (
    DEFAULT_BROADENING,
    ExecutionPolicy,
    broadened_inverse_gaps,
    eigh_adjoint_factor,
    eigh_stack,
)
from sklearn_pmm._core.hermitian import HermitianPacking
from sklearn_pmm._core.loss import DATA_LOSSES, SoftmaxCrossEntropy, SquaredError
from sklearn_pmm._core.maps import (
    MAPS,
    AffineMap,
    GramWindowMap,
    PrimaryMap,
    ProjectedMap,
)
from sklearn_pmm._core.model import PMMModel
from sklearn_pmm._core.params import PACKING_KINDS, ParameterBlock, ParameterLayout
from sklearn_pmm._core.readout import (
    READOUTS,
    WHICH_OPTIONS,
    DecoderReadout,
    EigenvalueReadout,
    select_eigenpairs,
    spectral_norm_squared,
)

# Central differences of step 1e-6 on O(1) quantities: truncation ~1e-12 and
# rounding ~1e-10 of the gradient scale.  A wrong formula shows up as O(1).
STEP = 1e-6
# Relative finite-difference tolerances per group of checks: about three
# times the worst error measured over every parametrisation (in the comment;
# PMM_FD_LOG re-measures them), so that a small regression fails.  Errors are
# relative to the gradient's largest entry (full gradients) or to the norm of
# the projected gradient (directional derivatives).
RTOL = {
    "eigh_adjoint": 1.5e-8,  # 4.5e-9
    "spectral_norm": 1.5e-8,  # 4.9e-9
    "readout_vectors": 4e-11,  # 1.1e-11 (polynomial in the vectors)
    "readout_values": 8e-11,  # 2.4e-11
    "readout_blocks": 5e-9,  # 1.5e-9
    "readout_offset": 1.2e-8,  # 4.0e-9
    "data_loss": 1e-9,  # 3.2e-10
    "map_backward": 3e-9,  # 1.0e-9
    "smoothness": 1.5e-9,  # 4.9e-10
    "loss_gradient": 5e-8,  # 1.6e-8 (Gram-window map), 2.6e-9 for the others
    "loss_gradient_full": 5e-9,  # 1.7e-9
    "repeated_level": 2e-8,  # 6.6e-9
}
WHICH_CASES = (*WHICH_OPTIONS, 1)  # an integer: levels 1, ..., r counted from 0
COMPLEX = pytest.mark.parametrize(
    "complex_valued", [False, True], ids=["real", "complex"]
)
WHICH = pytest.mark.parametrize("which", WHICH_CASES, ids=str)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def dagger(a):
    """Conjugate transpose of the last two axes."""
    return np.conj(np.swapaxes(a, -1, -2))


def random_matrices(rng, shape, complex_valued):
    """General real or complex arrays of ``shape``."""
    a = rng.standard_normal(shape)
    if complex_valued:
        a = a + 1j * rng.standard_normal(shape)
    return a


def random_hermitian(rng, shape, n, complex_valued):
    """Exactly Hermitian (real symmetric) random matrices of ``shape + (n, n)``."""
    a = random_matrices(rng, (*shape, n, n), complex_valued)
    return 0.5 * (a + dagger(a))


def random_unitaries(rng, shape, n, complex_valued):
    """Random unitary (orthogonal) matrices of ``shape + (n, n)``."""
    q, _ = np.linalg.qr(random_matrices(rng, (*shape, n, n), complex_valued))
    return q


def real_inner(a, b):
    """``Re sum conj(a) b``: the pairing of a gradient with a perturbation."""
    return float(np.real(np.vdot(a, b)))


def central_difference(function, x, direction, step=STEP, order=2):
    """Directional derivative of ``function`` at ``x`` along ``direction``.

    ``order=2``: the 3-point stencil, error O(step^2 f''');
    ``order=4``: the 5-point stencil, error O(step^4 f^(5)).
    """
    if order == 2:
        return (function(x + step * direction) - function(x - step * direction)) / (
            2 * step
        )
    values = [function(x + k * step * direction) for k in (-2, -1, 1, 2)]
    return (values[0] - 8 * values[1] + 8 * values[2] - values[3]) / (12 * step)


def finite_difference_gradient(function, theta, step=STEP, order=2):
    """Central-difference gradient of a scalar function of a real vector."""
    grad = np.empty_like(theta)
    for i in range(len(theta)):
        unit = np.zeros_like(theta)
        unit[i] = 1.0
        grad[i] = central_difference(function, theta, unit, step, order)
    return grad


def record(group, error):
    """Append a measured error to ``$PMM_FD_LOG`` (to re-derive tolerances)."""
    path = os.environ.get("PMM_FD_LOG")
    if path:
        with open(path, "a") as log:
            log.write(f"{group} {error:.3e}\n")


def assert_gradient_close(analytic, numeric, group, rtol=None):
    """``max |numeric - analytic| <= rtol * max |analytic|``, and record the error."""
    rtol = RTOL[group] if rtol is None else rtol
    analytic, numeric = np.asarray(analytic), np.asarray(numeric)
    scale = np.max(np.abs(analytic))
    assert scale > 0, "a gradient that is zero everywhere checks nothing"
    error = np.max(np.abs(numeric - analytic)) / scale
    record(group, error)
    assert error <= rtol, f"{group}: relative gradient error {error:.2e} > {rtol:.0e}"


def assert_directional_close(analytic, numeric, scale, group):
    """``|numeric - analytic| <= rtol * scale`` for a directional derivative."""
    rtol = RTOL[group]
    error = abs(numeric - analytic) / scale
    record(group, error)
    assert error <= rtol, f"{group}: relative error {error:.2e} > {rtol:.0e}"


def check_gradient_by_blocks(function, theta, grad, layout, group, seed):
    """Directional derivatives along random unit directions, block by block.

    One Gaussian direction inside each block of ``layout`` and one across
    all of them; each error is relative to the norm of the gradient it
    projects (the block's, or the whole one), so a wrong entry anywhere in a
    block shows up at its own scale.  2 (b + 1) evaluations instead of the
    2 n_params of a full gradient.
    """
    rng = np.random.default_rng(seed)
    supports = [layout.block_slice(block.name) for block in layout.blocks]
    for where in [*supports, slice(None)]:
        direction = np.zeros_like(theta)
        direction[where] = rng.standard_normal(len(theta))[where]
        direction /= np.linalg.norm(direction)
        numeric = central_difference(function, theta, direction)
        scale = np.linalg.norm(grad[where])
        assert scale > 0, f"{group}: a zero block gradient checks nothing"
        assert_directional_close(grad @ direction, numeric, scale, group)


def eigh_adjoint(
    eigenvectors,
    selected_index,
    selected_values,
    eigenvalues,
    vectors_grad,
    values_grad,
    broadening=DEFAULT_BROADENING,
):
    """The matrix gradient ``V_S A^dagger`` of :func:`eigh_adjoint_factor`."""
    factor = eigh_adjoint_factor(
        eigenvectors,
        selected_index,
        selected_values,
        eigenvalues,
        vectors_grad,
        values_grad,
        broadening,
    )
    selected_vectors = np.take_along_axis(
        eigenvectors, selected_index[..., None, :], -1
    )
    return selected_vectors @ dagger(factor)


def selected_eigenpairs(matrices, n_select, which):
    """Full eigensystem plus the selected index, values and vectors."""
    values, vectors = eigh_stack(matrices)
    index = select_eigenpairs(values, n_select, which)
    selected_values = np.take_along_axis(values, index, -1)
    selected_vectors = np.take_along_axis(vectors, index[..., None, :], -1)
    return values, vectors, index, selected_values, selected_vectors


def naive_select(values, n_select, which):
    """Selected columns of one ascending spectrum, written out."""
    n = len(values)
    if which == "lowest":
        return list(range(n_select))
    if which == "highest":
        return [n - 1 - i for i in range(n_select)]
    if which == "largest_magnitude":  # Python's sort is stable, like argsort's
        return sorted(range(n), key=lambda i: -abs(values[i]))[:n_select]
    return list(range(which, which + n_select))


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
# registries of test cases
# --------------------------------------------------------------------------


class SystemsAffineMap(PrimaryMap):
    r"""Test-only map with S systems: :math:`H_s(x) = H_{s0} + \sum_l x_l H_{sl}`.

    Exercises the ``S > 1`` paths of the model (per-system readouts, offsets
    and intercepts) with a map whose gradient is written out independently.
    """

    def __init__(self, n_features, matrix_size, complex_valued, n_systems):
        super().__init__(matrix_size, complex_valued)
        self.n_features = n_features
        self.n_systems = n_systems

    def blocks(self):
        n, s, kind = self.matrix_size, self.n_systems, self.hermitian_kind
        return [
            ParameterBlock("constant", kind, (s, n, n)),
            ParameterBlock("couplings", kind, (s, self.n_features, n, n)),
        ]

    def initial_parameters(self, random_state):
        layout = ParameterLayout(self.blocks())
        raw = random_state.standard_normal(layout.n_params)
        params = layout.unpack(raw / np.sqrt(self.matrix_size))
        params["constant"] += np.diag(np.linspace(-1.0, 1.0, self.matrix_size))
        return params

    def matrices(self, params, inputs, shared=None):
        linear = np.einsum("nl,slab->nsab", inputs, params["couplings"])
        return linear + params["constant"]

    def backward(self, params, inputs, matrices_grad):
        return {
            "constant": matrices_grad.sum(axis=0),
            "couplings": np.einsum("nl,nsab->slab", inputs, matrices_grad),
        }

    def input_scaling(self, X, sample_weight):
        return X.mean(axis=0), X.std(axis=0)

    def scale_inputs(self, X, scaling):
        return (X - scaling[0]) / scaling[1]

    def fold_input_scaling(self, params, shift, scale):
        linear = params["couplings"] / scale[:, None, None]
        constant = params["constant"] - np.einsum("l,slab->sab", shift, linear)
        return {**params, "constant": constant, "couplings": linear}

    def scale(self, params, factor):
        return {
            **params,
            "constant": params["constant"] * factor,
            "couplings": params["couplings"] * factor,
        }


def _affine_factory(complex_valued, rng):
    primary_map = AffineMap(n_features=2, matrix_size=4, complex_valued=complex_valued)
    return primary_map, rng.uniform(-1.5, 1.5, (10, 2))


def _projected_factory(complex_valued, rng):
    primary_map = ProjectedMap(
        n_features=3, n_directions=2, matrix_size=4, complex_valued=complex_valued
    )
    return primary_map, rng.uniform(-1.5, 1.5, (10, 3))


# Windows of different shapes in a 4 x 4 image (the masks of the smaller
# windows are exercised): rows 0-1 x cols 0-2, and rows 1-3 x cols 2-3.
GRAM_WINDOWS = np.array([[0, 0, 2, 3], [1, 2, 3, 2]])


def _gram_window_factory(complex_valued, rng):
    primary_map = GramWindowMap(
        (4, 4),
        GRAM_WINDOWS,
        latent_size=3,
        matrix_size=4,
        n_systems=2,
        complex_valued=complex_valued,
    )
    return primary_map, rng.uniform(0.0, 1.0, (10, 16))


def _gram_window_two_channel_factory(complex_valued, rng):
    assert complex_valued, "two-channel images need complex matrices"
    primary_map = GramWindowMap(
        (4, 4, 2),
        GRAM_WINDOWS,
        latent_size=3,
        matrix_size=4,
        n_systems=2,
        complex_valued=True,
    )
    return primary_map, rng.uniform(-1.0, 1.0, (10, 32))


def _systems_affine_factory(complex_valued, rng):
    primary_map = SystemsAffineMap(2, 4, complex_valued, n_systems=2)
    return primary_map, rng.uniform(-1.5, 1.5, (10, 2))


# name -> factory(complex_valued, rng) -> (map, X): a small instance (matrix
# size >= 4, so that level 1 of two levels is an interior level) and raw
# features of at least 10 samples; the tests use ``map.prepare(X)``.
MAP_FACTORIES = {
    "affine": _affine_factory,
    "projected": _projected_factory,
    "gram_window": _gram_window_factory,
}
# Variants and test-only maps that run through every map test too.
TEST_MAP_FACTORIES = {
    "gram_window_two_channel": _gram_window_two_channel_factory,
    "systems_affine": _systems_affine_factory,
}
# Every map, real and complex (two-channel images are complex only).
ALL_MAPS_COMPLEX = pytest.mark.parametrize(
    "map_name, complex_valued",
    [
        (name, complex_valued)
        for name in [*MAP_FACTORIES, *TEST_MAP_FACTORIES]
        for complex_valued in (False, True)
        if complex_valued or name != "gram_window_two_channel"
    ],
    ids=lambda value: {False: "real", True: "complex"}.get(value, value),
)
# The model tests run on the registered maps and the systems_affine map; the
# two-channel images change only the map's inputs, which the map tests cover.
MODEL_MAPS = pytest.mark.parametrize("map_name", [*MAP_FACTORIES, "systems_affine"])


def make_map(map_name, complex_valued, rng):
    factories = {**MAP_FACTORIES, **TEST_MAP_FACTORIES}
    return factories[map_name](complex_valued, rng)


def map_parameters(primary_map, seed):
    """The map's initial draw, moved off its structure by random noise."""
    layout = ParameterLayout(primary_map.blocks())
    theta = layout.pack(primary_map.initial_parameters(np.random.RandomState(seed)))
    noise = np.random.default_rng(seed).standard_normal(layout.n_params)
    return layout, theta + 0.3 * noise


def _shared_decoder_cases():
    """(name, n_decoders) with shared decoders, for every readout that has
    decoders: one per output (the classifier's default) and two."""
    return [
        (name, n_decoders)
        for name, cls in READOUTS.items()
        for n_decoders in (1, 2)
        if cls(n_outputs=1, n_eigenvectors=2, n_decoders=n_decoders).n_per_output
    ]


SHARED_DECODER_CASES = _shared_decoder_cases()
READOUT_CASES = [(name, None) for name in READOUTS] + SHARED_DECODER_CASES
READOUT = pytest.mark.parametrize(
    "readout_name, n_decoders",
    READOUT_CASES,
    ids=[f"{name}-{n_decoders}" for name, n_decoders in READOUT_CASES],
)
READOUT_NAME = pytest.mark.parametrize("readout_name", list(READOUTS))


def make_readout(name, n_outputs, n_eigenvectors, n_decoders=None, n_systems=1):
    return READOUTS[name](
        n_outputs=n_outputs,
        n_eigenvectors=n_eigenvectors,
        n_decoders=n_decoders,
        n_systems=n_systems,
    )


def _naive_terms(readout, vectors, params, pairs, squared):
    """Outputs and offset of a term readout, pair by pair, system by system."""
    decoders = params["decoders"]
    groups = (
        [[pair] for pair in pairs]
        if readout.n_decoders is None
        else [pairs] * readout.n_decoders
    )
    n_samples, n_systems = vectors.shape[:2]
    q, per_output = readout.n_outputs, len(groups)
    outputs = np.zeros((n_samples, n_systems, q))
    offset = np.zeros((n_systems, q))
    for c in range(n_systems):
        for k in range(q):
            for m, group in enumerate(groups):
                d = decoders[c, k * per_output + m]
                top = np.max(np.abs(np.linalg.eigvalsh(d)))
                for i, j in group:
                    w = np.einsum(
                        "sa,ab,sb->s",
                        np.conj(vectors[:, c, :, i]),
                        d,
                        vectors[:, c, :, j],
                    )
                    if squared:
                        outputs[:, c, k] += np.abs(w) ** 2
                        offset[c, k] -= 0.5 * top**2
                    else:
                        outputs[:, c, k] += w.real
    return outputs, offset


def naive_decoder(readout, vectors, values, params):
    r = readout.n_eigenvectors
    pairs = [(i, j) for i in range(r) for j in range(i, r)]
    return _naive_terms(readout, vectors, params, pairs, squared=True)


def naive_expectation(readout, vectors, values, params):
    pairs = [(i, i) for i in range(readout.n_eigenvectors)]
    return _naive_terms(readout, vectors, params, pairs, squared=False)


def naive_eigenvalues(readout, vectors, values, params):
    n_systems = values.shape[1]
    return values[..., : readout.n_outputs], np.zeros((n_systems, readout.n_outputs))


# name -> f(readout, vectors (N, S, n, L), values (N, S, L), params) ->
# (outputs (N, S, q), offset (S, q)): each readout's formula written out.
NAIVE_READOUTS = {
    "decoder": naive_decoder,
    "expectation": naive_expectation,
    "eigenvalues": naive_eigenvalues,
}


def _one_hot_targets(rng, n_samples, n_outputs):
    return np.eye(n_outputs)[rng.integers(0, n_outputs, n_samples)]


def _naive_cross_entropy(outputs, targets):
    return -np.sum(targets * log_softmax(outputs / 0.7, axis=1), axis=1)


# name -> (instance factory, targets(rng, N, q), per-sample loss written out).
DATA_LOSS_CASES = {
    "squared_error": (
        SquaredError,
        lambda rng, n_samples, q: rng.standard_normal((n_samples, q)),
        lambda outputs, targets: 0.5 * np.sum((outputs - targets) ** 2, axis=1),
    ),
    "cross_entropy": (
        lambda: SoftmaxCrossEntropy(0.7),
        _one_hot_targets,
        _naive_cross_entropy,
    ),
}
DATA_LOSS = pytest.mark.parametrize("loss_name", list(DATA_LOSSES))


def test_every_registered_map_has_a_factory():
    assert set(MAP_FACTORIES) == set(MAPS)


def test_every_registered_readout_has_a_naive_formula():
    assert set(NAIVE_READOUTS) == set(READOUTS)


def test_every_registered_data_loss_has_a_case():
    assert set(DATA_LOSS_CASES) == set(DATA_LOSSES)


# --------------------------------------------------------------------------
# 1. packing: HermitianPacking and ParameterLayout
# --------------------------------------------------------------------------


@COMPLEX
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_packing_round_trip(n, complex_valued):
    rng = np.random.default_rng(100 + n)
    packing = HermitianPacking(n, complex_valued)
    assert packing.n_floats == (n * n if complex_valued else n * (n + 1) // 2)

    packed = rng.standard_normal((4, packing.n_floats))
    matrices = packing.unpack(packed)
    assert matrices.dtype == (np.complex128 if complex_valued else np.float64)
    assert_array_equal(matrices, dagger(matrices))
    assert_array_equal(packing.pack(matrices), packed)

    hermitian = random_hermitian(rng, (3,), n, complex_valued)
    assert_array_equal(packing.unpack(packing.pack(hermitian)), hermitian)

    # Only the upper triangle (with the real part of the diagonal) is read.
    general = random_matrices(rng, (3, n, n), complex_valued)
    rebuilt = packing.unpack(packing.pack(general))
    rows, cols = np.triu_indices(n, k=1)
    assert_array_equal(rebuilt[:, rows, cols], general[:, rows, cols])
    diag = np.arange(n)
    assert_array_equal(rebuilt[:, diag, diag], general[:, diag, diag].real)


@COMPLEX
@pytest.mark.parametrize("grad_complex", [False, True], ids=["G_real", "G_complex"])
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_hermitian_pack_gradient_is_adjoint_of_unpack(n, grad_complex, complex_valued):
    rng = np.random.default_rng(200 + n)
    packing = HermitianPacking(n, complex_valued)
    packed = rng.standard_normal((4, packing.n_floats))
    grad = random_matrices(rng, (4, n, n), grad_complex)  # not Hermitian
    packed_grad = packing.pack_gradient(grad)
    assert packed_grad.dtype == np.float64
    lhs = np.einsum("mk,mk->m", packed_grad, packed)
    rhs = np.real(np.einsum("mab,mab->m", np.conj(grad), packing.unpack(packed)))
    assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-12)


# One block of each kind, with two leading axes (or any shape for vectors).
KIND_SHAPES = {
    "symmetric": (2, 3, 4, 4),
    "hermitian": (2, 3, 4, 4),
    "real": (2, 3, 4, 5),
    "complex": (2, 3, 4, 5),
    "vector": (2, 3),
}


def test_every_packing_kind_has_a_shape():
    assert set(KIND_SHAPES) == set(PACKING_KINDS)


def kind_layout(kind):
    """A layout with the block under test between two other blocks."""
    return ParameterLayout(
        [
            ParameterBlock("before", "vector", (3,), penalised=False),
            ParameterBlock("block", kind, KIND_SHAPES[kind]),
            ParameterBlock("after", "symmetric", (2, 2)),
        ]
    )


def expected_floats(kind, shape):
    if kind == "vector":
        return int(np.prod(shape))
    count, (rows, cols) = int(np.prod(shape[:-2])), shape[-2:]
    per_item = {
        "symmetric": rows * (rows + 1) // 2,
        "hermitian": rows * rows,
        "real": rows * cols,
        "complex": 2 * rows * cols,
    }[kind]
    return count * per_item


@pytest.mark.parametrize("kind", PACKING_KINDS)
def test_layout_round_trip(kind):
    rng = np.random.default_rng(250)
    layout = kind_layout(kind)
    shape = KIND_SHAPES[kind]
    n_block = expected_floats(kind, shape)
    assert layout.n_params == 3 + n_block + 3
    assert layout.block_slice("block") == slice(3, 3 + n_block)
    assert_array_equal(layout.penalised, np.r_[np.zeros(3), np.ones(n_block + 3)])
    block = layout.blocks[1]
    assert (block.name, block.kind, block.shape) == ("block", kind, shape)

    theta = rng.standard_normal(layout.n_params)
    params = layout.unpack(theta)
    block = params["block"]
    assert block.shape == shape
    assert block.dtype == (np.complex128 if kind in ("hermitian", "complex") else float)
    assert_array_equal(params["before"], theta[:3])
    if kind in ("symmetric", "hermitian"):
        assert_array_equal(block, dagger(block))
    assert_array_equal(layout.pack(params), theta)

    # unpack(pack(A)) == A for valid blocks of this kind.
    if kind in ("symmetric", "hermitian"):
        valid = random_hermitian(rng, shape[:-2], shape[-1], kind == "hermitian")
    else:
        valid = random_matrices(rng, shape, kind == "complex")
    rebuilt = layout.unpack(layout.pack({**params, "block": valid}))
    assert_array_equal(rebuilt["block"], valid)


@pytest.mark.parametrize("grad_complex", [False, True], ids=["G_real", "G_complex"])
@pytest.mark.parametrize("kind", PACKING_KINDS)
def test_layout_pack_gradient_is_adjoint_of_unpack(kind, grad_complex):
    # <pack_gradient(G), t> = Re <G, unpack(t)> for every t (unpack is linear),
    # with G of any dtype and not Hermitian.
    rng = np.random.default_rng(260)
    layout = kind_layout(kind)
    grads = {
        name: random_matrices(rng, array.shape, grad_complex)
        for name, array in layout.unpack(np.zeros(layout.n_params)).items()
    }
    gradient = layout.pack_gradient(grads)
    assert gradient.dtype == np.float64
    for _ in range(3):
        t = rng.standard_normal(layout.n_params)
        blocks = layout.unpack(t)
        rhs = sum(real_inner(grads[name], blocks[name]) for name in grads)
        assert_allclose(gradient @ t, rhs, rtol=1e-12)
    # A missing block has a zero gradient.
    partial = layout.pack_gradient({"block": grads["block"]})
    where = layout.block_slice("block")
    assert_array_equal(partial[where], gradient[where])
    assert not np.any(np.delete(partial, np.arange(layout.n_params)[where]))


# --------------------------------------------------------------------------
# 2. eigenpair selection and the eigen adjoint
# --------------------------------------------------------------------------


def test_select_eigenpairs():
    values = np.array([[-3.0, -1.0, 0.5, 2.0], [-0.1, 0.2, 0.3, 4.0]])
    assert_array_equal(select_eigenpairs(values, 2, "lowest"), [[0, 1], [0, 1]])
    assert_array_equal(select_eigenpairs(values, 2, "highest"), [[3, 2], [3, 2]])
    assert_array_equal(
        select_eigenpairs(values, 3, "largest_magnitude"), [[0, 3, 1], [3, 2, 1]]
    )
    assert_array_equal(select_eigenpairs(values, 2, 1), [[1, 2], [1, 2]])
    assert_array_equal(select_eigenpairs(values, 2, 2), [[2, 3], [2, 3]])
    # Over leading axes.
    stacked = np.stack([values, values[::-1]])
    for which in WHICH_CASES:
        index = select_eigenpairs(stacked, 2, which)
        assert_array_equal(index[0], select_eigenpairs(values, 2, which))
        assert_array_equal(index[1], select_eigenpairs(values[::-1], 2, which))
    for which in ("middle", 3, -1):
        with pytest.raises(ValueError, match="which must be one of"):
            select_eigenpairs(values, 2, which)


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


def check_eigh_adjoint(matrices, args, complex_valued):
    """Full finite-difference gradient over the packed floats of ``matrices``."""
    n = matrices.shape[-1]
    packing = HermitianPacking(n, complex_valued)
    packed = packing.pack(matrices.reshape(-1, n, n)).ravel()
    shape = matrices.shape

    def function(floats):
        stack = packing.unpack(floats.reshape(-1, packing.n_floats)).reshape(shape)
        return eigenpair_loss(stack, *args)[0]

    matrix_grad = eigh_adjoint(*eigenpair_loss(matrices, *args)[1])
    analytic = packing.pack_gradient(matrix_grad.reshape(-1, n, n)).ravel()
    numeric = finite_difference_gradient(function, packed)
    assert_gradient_close(analytic, numeric, "eigh_adjoint")
    return matrix_grad


@COMPLEX
@WHICH
@pytest.mark.parametrize("mode", ["both", "values", "vectors"])
def test_eigh_adjoint_finite_differences(mode, which, complex_valued):
    # Leading axes (samples, systems) = (3, 2); the gradient of every matrix
    # depends only on that matrix's loss terms.
    rng = np.random.default_rng(300)
    n, r = 5, 2
    matrices = random_hermitian(rng, (3, 2), n, complex_valued)
    coefs = rng.standard_normal((3, 2, r))
    observable = random_hermitian(rng, (), n, complex_valued)
    pair_weights = rng.uniform(0.5, 1.5, (r, r))
    args = (r, which, coefs, observable, pair_weights, mode)
    full = check_eigh_adjoint(matrices, args, complex_valued)

    one = (r, which, coefs[1:2, 1:2], observable, pair_weights, mode)
    single = eigh_adjoint(*eigenpair_loss(matrices[1:2, 1:2], *one)[1])
    assert_allclose(single[0, 0], full[1, 1], rtol=1e-12, atol=1e-14)


def close_pair_spectrum(rng, n_samples, gap):
    """Spectra on the scale 2 whose levels 2 and 3 are ``gap * 2`` apart."""
    values = np.empty((n_samples, 5))
    values[:, 0] = -2.0  # sets the spectral scale max |lambda| = 2
    values[:, 1] = rng.uniform(-1.2, -0.6, n_samples)
    values[:, 2] = rng.uniform(0.1, 0.4, n_samples)
    values[:, 3] = values[:, 2] + 2.0 * gap
    values[:, 4] = rng.uniform(1.0, 1.5, n_samples)
    return values


# Small gaps.  Two levels ``gap`` times the spectral scale (2 here) apart;
# a loss that reads their eigenvectors has a gradient ~1/gap and k-th
# derivatives ~1/gap^k, so the step must be well below the gap: the 5-point
# stencil with a step of 1/400 of the gap has a truncation error
# ~(step/gap)^4 and a rounding error ~eps/step (the eigenvectors of a close
# pair carry LAPACK errors ~eps/gap), both relative to the gradient.
# Measured with a 1e-13 broadening, the worst is 1.7e-7 (eigen adjoint) and
# 4.6e-8 (model), at every gap from 1e-3 to 1e-6; a step of gap/100 gave
# 5e-7, the 3-point stencil 1e-6.
def small_gap_stencil(gap):
    return {"step": gap / 200, "order": 4}


SMALL_GAP_FLOOR = 1e-6

# Levels 2 and 3 are close: "pair_selected" reads both (which=2), and
# "one_selected" reads level 2 but not level 3 (which=1 reads levels 1, 2).
CLOSE_PAIRS = {"pair_selected": 2, "one_selected": 1}


@COMPLEX
@pytest.mark.parametrize("selection", list(CLOSE_PAIRS))
@pytest.mark.parametrize("gap", [1e-3, 1e-4, 1e-5, 1e-6])
def test_eigh_adjoint_small_gaps(gap, selection, complex_valued):
    """Exact gradients at gaps of ``gap`` times the spectral scale.

    The analytic gradient uses the broadened gap g/(g^2 + eps^2) with
    eps = 1e-8 of the spectral scale, exact up to a relative bias
    (eps/g)^2 = (1e-8/gap)^2 on the coupling term, which dominates the
    gradient at small gaps: 1e-10, 1e-8, 1e-6 and 1e-4 at the four gaps.
    So: with the default broadening the gradient must match the finite
    differences to 2 (1e-8/gap)^2 plus the stencil's floor (measured: the
    bias itself, 1.0e-4 at gap 1e-6); with a 1e-13 broadening it must match
    to the floor at every gap; and the two must differ by the predicted bias
    (measured 0.999 to 1.000 times the prediction).
    """
    rng = np.random.default_rng(350)
    n_samples, n, r = 3, 5, 2
    u = random_unitaries(rng, (n_samples,), n, complex_valued)
    values = close_pair_spectrum(rng, n_samples, gap)
    matrices = (u * values[:, None, :]) @ dagger(u)
    matrices = 0.5 * (matrices + dagger(matrices))
    coefs = rng.standard_normal((n_samples, r))
    observable = random_hermitian(rng, (), n, complex_valued)
    pair_weights = rng.uniform(0.5, 1.5, (r, r))
    args = (r, CLOSE_PAIRS[selection], coefs, observable, pair_weights, "both")
    packing = HermitianPacking(n, complex_valued)
    packed = packing.pack(matrices)

    def function(floats):
        return eigenpair_loss(packing.unpack(floats.reshape(packed.shape)), *args)[0]

    numeric = finite_difference_gradient(
        function, packed.ravel(), **small_gap_stencil(gap)
    )
    pieces = eigenpair_loss(matrices, *args)[1]
    broadened = eigh_adjoint(*pieces)
    sharp = eigh_adjoint(*pieces, broadening=1e-13)
    bias = (DEFAULT_BROADENING / gap) ** 2
    assert_gradient_close(
        packing.pack_gradient(broadened).ravel(),
        numeric,
        "small_gap",
        rtol=2 * bias + SMALL_GAP_FLOOR,
    )
    # Without broadening (1e-13) the only error left is the stencil's.
    assert_gradient_close(
        packing.pack_gradient(sharp).ravel(),
        numeric,
        "small_gap_sharp",
        rtol=SMALL_GAP_FLOOR,
    )
    difference = np.max(np.abs(sharp - broadened)) / np.max(np.abs(sharp))
    record("small_gap_bias_ratio", difference / bias)
    assert_allclose(difference, bias, rtol=1e-2)


@COMPLEX
@pytest.mark.parametrize(
    "kind", ["zero", "identity", "blocks", "rotated_identity", "rotated_blocks"]
)
def test_eigh_adjoint_degenerate_is_finite(kind, complex_valued, strict):
    rng = np.random.default_rng(401)
    n = 4
    diagonal = {
        "zero": np.zeros(n),
        "identity": np.ones(n),
        "blocks": np.array([-1.0, -1.0, 2.0, 2.0]),
    }[kind.removeprefix("rotated_")]
    matrices = np.broadcast_to(np.diag(diagonal), (3, 2, n, n)).copy()
    if complex_valued:
        matrices = matrices.astype(np.complex128)
    if kind.startswith("rotated_"):
        # Gaps of rounding size, not exactly zero.
        unitary = random_unitaries(rng, (), n, complex_valued)
        matrices = unitary @ matrices @ dagger(unitary)
    observable = random_hermitian(rng, (), n, complex_valued)
    for which in WHICH_CASES:
        args = (2, which, np.ones((3, 2, 2)), observable, np.ones((2, 2)), "both")
        pieces = eigenpair_loss(matrices, *args)[1]
        matrix_grad = eigh_adjoint(*pieces)
        assert np.all(np.isfinite(matrix_grad))
        # An unbroadened 1/gap would give entries near 1e16.
        assert np.abs(matrix_grad).max() < 1e6
        # The eigenvalue part is Hellmann–Feynman, exact at any degeneracy.
        values_only = eigh_adjoint(*pieces[:4], None, pieces[5])
        v = np.take_along_axis(pieces[0], pieces[1][..., None, :], -1)
        assert_allclose(values_only, v @ dagger(v), atol=1e-14)


# --------------------------------------------------------------------------
# 3. broadened_inverse_gaps
# --------------------------------------------------------------------------


@WHICH
def test_broadened_inverse_gaps_separated(which):
    rng = np.random.default_rng(400)
    n, r = 6, 3
    # Levels at least 0.3 apart, on a spectral scale of several units.
    values = np.cumsum(rng.uniform(0.3, 1.5, (4, 2, n)), axis=-1) - 4.0
    index = select_eigenpairs(values, r, which)
    selected = np.take_along_axis(values, index, -1)
    gaps = broadened_inverse_gaps(values, selected, DEFAULT_BROADENING)
    assert gaps.shape == (4, 2, n, r)

    itself = index[..., None, :] == np.arange(n)[:, None]
    assert np.all(gaps[itself] == 0.0)
    differences = selected[..., None, :] - values[..., :, None]
    expected = np.divide(1.0, differences, out=np.zeros_like(gaps), where=~itself)
    # Relative bias (eps/gap)^2 <= (1e-8 * 6 / 0.3)^2 = 4e-14.
    assert_allclose(gaps[~itself], expected[~itself], rtol=1e-13, atol=0)


def test_broadened_inverse_gaps_formula():
    # g / (g^2 + eps^2) with eps = broadening * max(max |lambda|, 1): at the
    # gap g = eps the value is half of 1/g, at g = 100 eps it is 1/g (1 - 1e-4).
    for scale in (0.5, 3.0):
        eps = DEFAULT_BROADENING * max(scale, 1.0)
        values = np.array([[-scale, 0.0, eps, 100 * eps]])
        gaps = broadened_inverse_gaps(values, values[:, 1:2], DEFAULT_BROADENING)
        assert_allclose(
            gaps[0, :, 0],
            [1 / scale, 0.0, -0.5 / eps, -0.01 / eps / (1 + 1e-4)],
            rtol=1e-14,
        )


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
    for which in WHICH_CASES:
        index = select_eigenpairs(values, 3, which)
        selected = np.take_along_axis(values, index, -1)
        gaps = broadened_inverse_gaps(values, selected, DEFAULT_BROADENING)
        differences = selected[..., None, :] - values[..., :, None]
        assert np.all(gaps[differences == 0.0] == 0.0)
        # x / (x^2 + eps^2) never exceeds 1 / (2 eps).
        scale = np.maximum(np.abs(values).max(axis=-1), 1.0)
        bound = 1.0 / (2 * DEFAULT_BROADENING * scale)
        assert np.all(np.abs(gaps) <= bound[:, None, None] * (1 + 1e-12))


# --------------------------------------------------------------------------
# 4. spectral_norm_squared
# --------------------------------------------------------------------------


@COMPLEX
@pytest.mark.parametrize("shift", [4.0, -4.0], ids=["top_positive", "top_negative"])
def test_spectral_norm_squared_gradient(shift, complex_valued):
    rng = np.random.default_rng(500)
    n = 5
    matrices = random_hermitian(rng, (3, 2), n, complex_valued) + shift * np.eye(n)
    norms, grad = spectral_norm_squared(matrices)
    assert_allclose(norms, np.linalg.norm(matrices, ord=2, axis=(-2, -1)) ** 2)

    packing = HermitianPacking(n, complex_valued)
    weights = rng.standard_normal((3, 2))
    packed = packing.pack(matrices.reshape(-1, n, n)).ravel()

    def function(floats):
        stack = packing.unpack(floats.reshape(6, -1)).reshape(matrices.shape)
        return np.sum(weights * spectral_norm_squared(stack)[0])

    analytic = packing.pack_gradient(
        (weights[..., None, None] * grad).reshape(-1, n, n)
    ).ravel()
    numeric = finite_difference_gradient(function, packed)
    assert_gradient_close(analytic, numeric, "spectral_norm")


def test_spectral_norm_squared_degenerate_is_finite(strict):
    matrices = np.stack([np.zeros((3, 3)), np.eye(3), np.diag([2.0, -2.0, 1.0])])
    norms, grad = spectral_norm_squared(matrices)
    assert_allclose(norms, [0.0, 1.0, 4.0])
    assert_array_equal(grad[0], 0.0)
    # Identity: 2 u u^dagger for some unit u.
    assert_allclose(np.trace(grad[1]), 2.0)
    assert_allclose(grad[1] @ grad[1], 2 * grad[1], atol=1e-14)
    # A tie between 2 and -2: one of the one-sided gradients 2 mu u u^dagger.
    one_sided = [np.diag([4.0, 0.0, 0.0]), np.diag([0.0, -4.0, 0.0])]
    assert any(np.allclose(grad[2], g, atol=1e-14) for g in one_sided)


# --------------------------------------------------------------------------
# 5. readouts
# --------------------------------------------------------------------------


def readout_problem(readout, complex_valued, seed, n_samples=4, n=4):
    """Random isometric vectors, ascending values, parameters and a cotangent."""
    rng = np.random.default_rng(seed)
    n_systems, levels = readout.n_systems, readout.n_levels
    u = random_unitaries(rng, (n_samples, n_systems), n, complex_valued)
    vectors = u[..., :levels]
    values = np.sort(rng.standard_normal((n_samples, n_systems, levels)), axis=-1)
    layout = ParameterLayout(readout.blocks(n, complex_valued))
    theta = rng.standard_normal(layout.n_params)
    outputs_grad = rng.standard_normal((n_samples, n_systems, readout.n_outputs))
    return rng, vectors, values, layout, theta, outputs_grad


@COMPLEX
@pytest.mark.parametrize("n_systems", [1, 2])
@READOUT
def test_readout_forward_matches_formula(
    readout_name, n_decoders, n_systems, complex_valued
):
    readout = make_readout(readout_name, 2, 3, n_decoders, n_systems)
    _, vectors, values, layout, theta, _ = readout_problem(readout, complex_valued, 600)
    params = layout.unpack(theta)
    outputs, _ = readout.forward(vectors, values, params)
    offset, _ = readout.offset(params)
    expected, expected_offset = NAIVE_READOUTS[readout_name](
        readout, vectors, values, params
    )
    assert outputs.dtype == np.float64
    assert_allclose(outputs, expected, rtol=1e-12, atol=1e-12)
    assert_allclose(offset, expected_offset, rtol=1e-12, atol=1e-12)


@COMPLEX
@pytest.mark.parametrize("n_systems", [1, 2])
@READOUT
def test_readout_backward_finite_differences(
    readout_name, n_decoders, n_systems, complex_valued
):
    readout = make_readout(readout_name, 2, 3, n_decoders, n_systems)
    rng, vectors, values, layout, theta, outputs_grad = readout_problem(
        readout, complex_valued, 700
    )
    params = layout.unpack(theta)
    _, cache = readout.forward(vectors, values, params)
    vectors_grad, values_grad, grads = readout.backward(
        outputs_grad, vectors, cache, params
    )

    def pairing(v, lam, t):
        return np.sum(outputs_grad * readout.forward(v, lam, layout.unpack(t))[0])

    # Vectors: any direction (the readout is a polynomial in their entries).
    direction = random_matrices(rng, vectors.shape, complex_valued)
    numeric = central_difference(
        lambda v: pairing(v, values, theta), vectors, direction
    )
    if readout.needs_vectors:
        analytic = real_inner(vectors_grad, direction)
        scale = np.linalg.norm(vectors_grad) * np.linalg.norm(direction)
        assert_directional_close(analytic, numeric, scale, "readout_vectors")
    else:
        assert vectors_grad is None
        assert numeric == 0.0

    direction = rng.standard_normal(values.shape)
    numeric = central_difference(
        lambda lam: pairing(vectors, lam, theta), values, direction
    )
    if values_grad is None:
        assert numeric == 0.0
    else:
        analytic = real_inner(values_grad, direction)
        scale = np.linalg.norm(values_grad) * np.linalg.norm(direction)
        assert_directional_close(analytic, numeric, scale, "readout_values")

    if layout.n_params:
        numeric = finite_difference_gradient(
            lambda t: pairing(vectors, values, t), theta
        )
        analytic = layout.pack_gradient(grads)
        assert_gradient_close(analytic, numeric, "readout_blocks")
    else:
        assert grads == {}

    # The offset and its gradient.
    offset_grad_sum = outputs_grad.sum(axis=0)
    offset, offset_cache = readout.offset(params)
    offset_grads = readout.offset_gradient(offset_grad_sum, offset_cache)
    numeric = finite_difference_gradient(
        lambda t: np.sum(offset_grad_sum * readout.offset(layout.unpack(t))[0]), theta
    )
    if np.any(offset):
        assert_gradient_close(
            layout.pack_gradient(offset_grads), numeric, "readout_offset"
        )
    else:
        assert_array_equal(numeric, 0.0)
        assert not np.any(layout.pack_gradient(offset_grads))


@COMPLEX
@pytest.mark.parametrize("n_systems", [1, 2])
@READOUT
def test_readout_scale_outputs(readout_name, n_decoders, n_systems, complex_valued):
    readout = make_readout(readout_name, 2, 3, n_decoders, n_systems)
    rng, vectors, values, layout, theta, _ = readout_problem(
        readout, complex_valued, 750
    )
    params = layout.unpack(theta)
    y_scale = rng.uniform(0.5, 2.0, n_systems * readout.n_outputs)

    def outputs(p, lam):
        return readout.forward(vectors, lam, p)[0] + readout.offset(p)[0]

    common = np.full_like(y_scale, 1.7)
    if readout.scale_outputs(params, common)[1] is None:
        scaled, _ = readout.scale_outputs(params, y_scale)
        expected = outputs(params, values) * y_scale.reshape(n_systems, -1)
        assert_allclose(outputs({**params, **scaled}, values), expected, rtol=1e-12)
    else:
        # A readout that cannot absorb the scale needs a common one, applied
        # to the primary matrices (so to the eigenvalues).
        with pytest.raises(ValueError, match="common y_scale"):
            readout.scale_outputs(params, y_scale)
        scaled, primary_factor = readout.scale_outputs(params, common)
        assert primary_factor == 1.7
        assert_allclose(
            outputs({**params, **scaled}, 1.7 * values),
            1.7 * outputs(params, values),
            rtol=1e-12,
        )


# --------------------------------------------------------------------------
# 6. data losses
# --------------------------------------------------------------------------


@DATA_LOSS
def test_data_loss_gradient(loss_name):
    factory, make_targets, per_sample = DATA_LOSS_CASES[loss_name]
    data_loss = factory()
    rng = np.random.default_rng(780)
    outputs = rng.standard_normal((6, 3))
    targets = make_targets(rng, 6, 3)
    weights = rng.uniform(0.2, 2.0, 6)
    loss, grad = data_loss.loss_gradient(outputs, targets, weights)
    assert_allclose(loss, weights @ per_sample(outputs, targets), rtol=1e-13)
    numeric = finite_difference_gradient(
        lambda z: data_loss.loss_gradient(z.reshape(6, 3), targets, weights)[0],
        outputs.ravel(),
    )
    assert_gradient_close(grad.ravel(), numeric, "data_loss")
    if isinstance(data_loss, SoftmaxCrossEntropy):
        assert_allclose(
            data_loss.predict_proba(outputs), softmax(outputs / 0.7, axis=1), rtol=1e-14
        )


# --------------------------------------------------------------------------
# 7. primary maps
# --------------------------------------------------------------------------


@ALL_MAPS_COMPLEX
def test_map_backward_finite_differences(map_name, complex_valued):
    rng = np.random.default_rng(800)
    primary_map, X = make_map(map_name, complex_valued, rng)
    inputs = primary_map.prepare(X)
    layout, theta = map_parameters(primary_map, 801)
    matrices = primary_map.matrices(layout.unpack(theta), inputs)
    n = primary_map.matrix_size
    assert matrices.shape == (len(X), primary_map.n_systems, n, n)
    scale = np.max(np.abs(matrices))
    assert_allclose(matrices, dagger(matrices), rtol=0, atol=1e-15 * scale)

    # The model passes non-Hermitian cotangents (V_S A^dagger).
    matrices_grad = random_matrices(rng, matrices.shape, complex_valued)
    grads = primary_map.backward(layout.unpack(theta), inputs, matrices_grad)
    analytic = layout.pack_gradient(grads)
    numeric = finite_difference_gradient(
        lambda t: real_inner(
            matrices_grad, primary_map.matrices(layout.unpack(t), inputs)
        ),
        theta,
    )
    assert_gradient_close(analytic, numeric, "map_backward")


@ALL_MAPS_COMPLEX
def test_map_scale_and_input_scaling(map_name, complex_valued):
    rng = np.random.default_rng(820)
    primary_map, X = make_map(map_name, complex_valued, rng)
    layout, theta = map_parameters(primary_map, 821)
    params = layout.unpack(theta)
    inputs = primary_map.prepare(X)
    matrices = primary_map.matrices(params, inputs)
    # The factor is positive (a common y_scale of the eigenvalue readout).
    scaled = primary_map.matrices(primary_map.scale(params, 1.7), inputs)
    assert_allclose(scaled, 1.7 * matrices, rtol=1e-13, atol=1e-14)

    scaling = primary_map.input_scaling(X, rng.uniform(0.5, 2.0, len(X)))
    if scaling is None:
        return
    shift, spread = scaling
    shift = shift + rng.standard_normal(np.shape(shift))
    spread = spread * rng.uniform(0.5, 2.0, np.shape(spread))
    standardised = primary_map.prepare(primary_map.scale_inputs(X, (shift, spread)))
    folded = primary_map.fold_input_scaling(params, shift, spread)
    expected = primary_map.matrices(params, standardised)
    assert_allclose(
        primary_map.matrices(folded, inputs),
        expected,
        rtol=1e-12,
        atol=1e-13 * np.max(np.abs(expected)),
    )


@ALL_MAPS_COMPLEX
def test_smoothness_penalty_finite_differences_and_scale_invariance(
    map_name, complex_valued
):
    rng = np.random.default_rng(840)
    primary_map, _ = make_map(map_name, complex_valued, rng)
    layout, theta = map_parameters(primary_map, 841)
    params = layout.unpack(theta)
    value, grads = primary_map.smoothness_penalty(params)
    if not grads:  # a map without a prior
        assert value == 0.0
        return
    assert value > 0.0
    analytic = layout.pack_gradient(grads)
    numeric = finite_difference_gradient(
        lambda t: primary_map.smoothness_penalty(layout.unpack(t))[0], theta
    )
    assert_gradient_close(analytic, numeric, "smoothness")
    # Scaling every primary matrix changes no eigenvector: nor the prior.
    scaled, _ = primary_map.smoothness_penalty(primary_map.scale(params, 3.0))
    assert_allclose(scaled, value, rtol=1e-12)


@COMPLEX
def test_projected_map_is_the_affine_map_of_its_effective_couplings(complex_valued):
    rng = np.random.default_rng(850)
    projected, X = make_map("projected", complex_valued, rng)
    layout, theta = map_parameters(projected, 851)
    params = layout.unpack(theta)
    affine = AffineMap(projected.n_features, projected.matrix_size, complex_valued)
    as_affine = {
        "constant": params["constant"],
        "couplings": projected.effective_couplings(params),
    }
    inputs = projected.prepare(X)
    assert_allclose(
        projected.matrices(params, inputs),
        affine.matrices(as_affine, inputs),
        rtol=1e-13,
        atol=1e-14,
    )
    assert_allclose(
        projected.smoothness_penalty(params)[0],
        affine.smoothness_penalty(as_affine)[0],
        rtol=1e-12,
    )


@COMPLEX
@pytest.mark.parametrize(
    "n_features, n_directions, matrix_size", [(5, 2, 4), (3, 3, 4), (6, 5, 2)]
)
def test_projected_map_factors_its_effective_couplings(
    complex_valued, n_features, n_directions, matrix_size
):
    # Fitted state stores only the effective couplings; the SVD factors must
    # give them back (K above the floats of one 2 x 2 matrix pads with zero
    # directions).
    projected = ProjectedMap(n_features, n_directions, matrix_size, complex_valued)
    params = projected.initial_parameters(np.random.RandomState(860))
    couplings = projected.effective_couplings(params)
    factors = projected.factor_couplings(couplings)
    assert factors["projection"].shape == (n_directions, n_features)
    assert factors["couplings"].shape == (n_directions, matrix_size, matrix_size)
    assert_allclose(
        projected.effective_couplings({**params, **factors}),
        couplings,
        rtol=0,
        atol=1e-14 * np.abs(couplings).max(),
    )


@COMPLEX
def test_affine_map_formula(complex_valued):
    rng = np.random.default_rng(830)
    primary_map, X = make_map("affine", complex_valued, rng)
    layout, theta = map_parameters(primary_map, 831)
    params = layout.unpack(theta)
    expected = [
        params["constant"]
        + sum(x_l * h_l for x_l, h_l in zip(x, params["couplings"], strict=True))
        for x in X
    ]
    matrices = primary_map.matrices(params, primary_map.prepare(X))
    assert_allclose(matrices[:, 0], np.array(expected), rtol=1e-13, atol=1e-14)


# --------------------------------------------------------------------------
# 8. the whole loss
# --------------------------------------------------------------------------


def make_model(map_name, readout_name, which, complex_valued, seed, n_decoders=None):
    """A model with two outputs and two levels per system, and its data."""
    rng = np.random.default_rng(seed)
    primary_map, X = make_map(map_name, complex_valued, rng)
    readout = make_readout(readout_name, 2, 2, n_decoders, primary_map.n_systems)
    return PMMModel(primary_map, readout, which=which), X, rng


def model_data(model, X, rng, loss_name):
    _, make_targets, _ = DATA_LOSS_CASES[loss_name]
    targets = make_targets(rng, len(X), model.n_outputs)
    weights = rng.uniform(0.2, 2.0, len(X))
    return model.map.prepare(X), targets, weights


def model_parameters(model, seed):
    """The model's initial draw, moved off its structure by random noise."""
    theta = model.initial_parameters(np.random.RandomState(seed))
    return theta + 0.3 * np.random.default_rng(seed).standard_normal(model.n_params)


def naive_outputs(model, readout_name, theta, inputs):
    """Outputs composed from the map, per-matrix eigh and the written-out readout."""
    params = model.layout.unpack(theta)
    matrices = model.map.matrices(params, inputs)
    n_samples, n_systems, n = matrices.shape[:3]
    levels = model.readout.n_levels
    vectors = np.zeros((n_samples, n_systems, n, levels), dtype=matrices.dtype)
    values = np.zeros((n_samples, n_systems, levels))
    for s in range(n_samples):
        for c in range(n_systems):
            lam, v = np.linalg.eigh(matrices[s, c])
            columns = naive_select(lam, levels, model.which)
            values[s, c], vectors[s, c] = lam[columns], v[:, columns]
    outputs, offset = NAIVE_READOUTS[readout_name](
        model.readout, vectors, values, params
    )
    return (outputs + offset).reshape(n_samples, -1) + params["intercept"]


@MODEL_MAPS
@READOUT_NAME
def test_outputs_decompose_eigenvectors_only_for_readouts_that_read_them(
    map_name, readout_name, monkeypatch
):
    model, X, _ = make_model(map_name, readout_name, "lowest", True, 7)
    theta = model_parameters(model, 7)
    inputs = model.map.prepare(X)
    full_decompositions = []

    def counted_eigh_stack(matrices):
        full_decompositions.append(len(matrices))
        return eigh_stack(matrices)

    monkeypatch.setattr(model_module, "eigh_stack", counted_eigh_stack)
    outputs = model.outputs(theta, inputs, ExecutionPolicy(chunk_size=4))
    assert bool(full_decompositions) == model.readout.needs_vectors
    expected = naive_outputs(model, readout_name, theta, inputs)
    assert_allclose(outputs, expected, rtol=1e-11, atol=1e-12)


# The blocks alpha penalises, listed independently of the layouts: the
# matrices (and the projection), never the intercept; no block of the image
# map, whose rescaling symmetries leave the outputs unchanged.
PENALISED_BLOCKS = {
    "affine": {"constant", "couplings"},
    "systems_affine": {"constant", "couplings"},
    "projected": {"constant", "couplings", "projection"},
    "gram_window": set(),
    "gram_window_two_channel": set(),
}


@ALL_MAPS_COMPLEX
@READOUT
def test_alpha_penalises_the_listed_blocks(
    map_name, readout_name, n_decoders, complex_valued
):
    model, X, rng = make_model(
        map_name, readout_name, "lowest", complex_valued, 930, n_decoders
    )
    expected = set(PENALISED_BLOCKS[map_name])
    if model.readout.n_per_output:
        expected.add("decoders")
    declared = {block.name for block in model.layout.blocks if block.penalised}
    assert declared == expected
    # The loss grows by alpha/2 times the squares of exactly those floats.
    theta = model_parameters(model, 931)
    inputs, targets, weights = model_data(model, X, rng, "squared_error")
    args = (inputs, targets, weights, SquaredError())
    policy = ExecutionPolicy()
    unpenalised = model.loss_gradient(theta, *args, 0.0, policy)[0]
    penalised = model.loss_gradient(theta, *args, 0.3, policy)[0]
    squares = sum(
        np.sum(theta[model.layout.block_slice(name)] ** 2) for name in expected
    )
    assert_allclose(penalised - unpenalised, 0.15 * squares, rtol=1e-10)


def written_out_loss(model, theta, per_sample, weights, penalty, smoothness):
    """The weighted mean of ``per_sample``, the L2 penalty and the prior."""
    penalised = theta * (penalty * model.layout.penalised)
    prior = model.map.smoothness_penalty(model.layout.unpack(theta))[0]
    return (
        weights @ per_sample / weights.sum()
        + 0.5 * penalised @ theta
        + 0.5 * smoothness * prior
    )


def check_model_gradient(
    model, readout_name, X, rng, loss_name, theta, penalty, full=False, smoothness=0.0
):
    """Loss against the written-out model, chunking, and finite differences.

    ``full``: the whole finite-difference gradient, else directional
    derivatives block by block (:func:`check_gradient_by_blocks`).
    ``smoothness`` adds the map's smoothness prior with that weight.
    """
    inputs, targets, weights = model_data(model, X, rng, loss_name)
    data_loss = DATA_LOSS_CASES[loss_name][0]()
    policy = ExecutionPolicy(chunk_size=4)  # 3 chunks of 10 samples

    def loss_gradient(t, policy):
        return model.loss_gradient(
            t,
            inputs,
            targets,
            weights,
            data_loss,
            penalty,
            policy,
            smoothness=smoothness,
        )

    loss, grad = loss_gradient(theta, policy)
    assert isinstance(loss, float)

    # The loss against the model written out.
    expected = naive_outputs(model, readout_name, theta, inputs)
    outputs = model.outputs(theta, inputs, policy)
    assert_allclose(outputs, expected, rtol=1e-11, atol=1e-12)
    per_sample = DATA_LOSS_CASES[loss_name][2](expected, targets)
    expected_loss = written_out_loss(
        model, theta, per_sample, weights, penalty, smoothness
    )
    assert_allclose(loss, expected_loss, rtol=1e-12)

    # One chunk: the same up to the summation order.
    one_chunk = loss_gradient(theta, ExecutionPolicy())
    assert_allclose(one_chunk[0], loss, rtol=1e-14)
    assert_allclose(one_chunk[1], grad, rtol=1e-12, atol=1e-14 * np.abs(grad).max())

    def function(t):  # one chunk: the chunked gradient equals it (above)
        return loss_gradient(t, ExecutionPolicy())[0]

    if full:
        numeric = finite_difference_gradient(function, theta)
        assert_gradient_close(grad, numeric, "loss_gradient_full")
    else:
        check_gradient_by_blocks(
            function, theta, grad, model.layout, "loss_gradient", 990
        )


@DATA_LOSS
@COMPLEX
@WHICH
@READOUT_NAME
@MODEL_MAPS
def test_loss_gradient_finite_differences(
    map_name, readout_name, which, complex_valued, loss_name
):
    model, X, rng = make_model(map_name, readout_name, which, complex_valued, 900)
    theta = model_parameters(model, 901)
    # With the smoothness prior, as every early-stopped fit starts.
    check_model_gradient(
        model, readout_name, X, rng, loss_name, theta, 0.1, smoothness=0.3
    )


@DATA_LOSS
@COMPLEX
@WHICH
@MODEL_MAPS
@pytest.mark.parametrize("readout_name, n_decoders", SHARED_DECODER_CASES)
def test_loss_gradient_shared_decoders(
    readout_name, n_decoders, map_name, complex_valued, which, loss_name
):
    model, X, rng = make_model(
        map_name, readout_name, which, complex_valued, 910, n_decoders
    )
    theta = model_parameters(model, 911)
    penalty = rng.uniform(0.0, 0.3)
    check_model_gradient(model, readout_name, X, rng, loss_name, theta, penalty)


def test_loss_gradient_paper_shape():
    # The paper's regression layout (q = 1, r = 3, one decoder per pair), n = 5.
    primary_map = AffineMap(n_features=2, matrix_size=5, complex_valued=True)
    model = PMMModel(primary_map, DecoderReadout(1, 3), which="largest_magnitude")
    assert model.n_params == 3 * 25 + 6 * 25 + 1
    rng = np.random.default_rng(920)
    X = rng.uniform(-1.5, 1.5, (9, 2))
    theta = model_parameters(model, 921)
    check_model_gradient(
        model, "decoder", X, rng, "squared_error", theta, 0.1, full=True
    )


# --------------------------------------------------------------------------
# 9. small gaps and degenerate spectra in the whole model
# --------------------------------------------------------------------------


def affine_with_spectrum(model, diagonals, rng):
    """Parameters of an affine model with ``H_l = U diag(diagonals[l]) U^dagger``.

    ``diagonals`` has shape (p + 1, n): the spectrum of H(x) is
    ``diagonals[0] + sum_l x_l diagonals[l]`` for every x, in the same
    eigenbasis U.  The readout's matrices and intercepts are random.
    """
    n, complex_valued = model.map.matrix_size, model.map.complex_valued
    u = random_unitaries(rng, (), n, complex_valued)
    hamiltonians = (u * diagonals[:, None, :]) @ dagger(u)
    hamiltonians = 0.5 * (hamiltonians + dagger(hamiltonians))
    params = model.layout.unpack(rng.standard_normal(model.n_params))
    params["constant"], params["couplings"] = hamiltonians[0], hamiltonians[1:]
    return model.layout.pack(params)


@COMPLEX
@pytest.mark.parametrize("gap", [1e-3, 1e-4, 1e-5, 1e-6])
@READOUT_NAME
def test_loss_gradient_small_gaps(gap, complex_valued, readout_name):
    """The model's gradient where the two selected levels are ``gap`` apart.

    Levels 1 and 2 of H(x) stay ``2 gap`` apart for every x, on a spectral
    scale of 1.7 to 2.3: the couplings are diagonal in the eigenbasis of H_0
    and equal on the pair.  Step and tolerances as in
    :func:`test_eigh_adjoint_small_gaps`, with the bias bound
    (1e-8 * 2.3 / (2 gap))^2 (measured 1.2e-4 at gap 1e-6, bound 1.3e-4).
    """
    rng = np.random.default_rng(1000)
    primary_map = AffineMap(n_features=1, matrix_size=4, complex_valued=complex_valued)
    readout = make_readout(readout_name, 1, 2)
    diagonals = np.array([[-2.0, 0.2, 0.2 + 2 * gap, 1.4], [0.3, 0.1, 0.1, -0.2]])
    model = PMMModel(primary_map, readout, which=1)
    theta = affine_with_spectrum(model, diagonals, rng)
    X = rng.uniform(-1.0, 1.0, (6, 1))
    inputs, targets, weights = model_data(model, X, rng, "squared_error")
    levels = model.eigenvalues(theta, inputs, ExecutionPolicy())
    assert_allclose(levels[..., 2] - levels[..., 1], 2 * gap, rtol=1e-12 / gap)
    args = (inputs, targets, weights, SquaredError(), 0.1, ExecutionPolicy())
    numeric = finite_difference_gradient(
        lambda t: model.loss_gradient(t, *args)[0], theta, **small_gap_stencil(gap)
    )
    bias = (DEFAULT_BROADENING * 2.3 / (2 * gap)) ** 2
    _, grad = model.loss_gradient(theta, *args)
    assert_gradient_close(
        grad, numeric, "model_small_gap", rtol=2 * bias + SMALL_GAP_FLOOR
    )
    sharp = PMMModel(primary_map, readout, which=1, broadening=1e-13)
    _, grad = sharp.loss_gradient(theta, *args)
    assert_gradient_close(grad, numeric, "model_small_gap_sharp", rtol=SMALL_GAP_FLOOR)


def degenerate_starts(model, rng):
    """Parameter vectors whose primary matrices have repeated eigenvalues.

    For every map: all zero, and a zero map under a random readout.  For the
    affine map also the identity, two degenerate blocks and a +-1 spectrum,
    diagonal (gaps exactly zero), and the first two rotated by a random
    unitary (gaps of rounding size, where an unbroadened 1/gap is huge but
    finite).
    """
    zero = {
        name: np.zeros_like(a)
        for name, a in model.layout.unpack(np.zeros(model.n_params)).items()
    }
    random_readout = model.layout.unpack(rng.standard_normal(model.n_params))
    for block in model.map.blocks():
        random_readout[block.name] = zero[block.name]
    starts = {
        "all_zero": np.zeros(model.n_params),
        "zero_map": model.layout.pack(random_readout),
    }
    if isinstance(model.map, AffineMap):  # and so the projected map
        n, p = model.map.matrix_size, len(zero["couplings"])
        for name, diagonal in {
            "identity": np.ones(n),
            "blocks": np.repeat([2.0, -1.0], [n // 2, n - n // 2]),
            "plus_minus": np.resize([1.0, -1.0], n),
        }.items():
            params = dict(random_readout)
            params["constant"] = np.diag(diagonal)
            params["couplings"] = np.diag(diagonal) * rng.uniform(0.1, 0.4, (p, 1, 1))
            starts[name] = model.layout.pack(params)
            if name == "plus_minus":
                # Rotated, its ties in magnitude fall by rounding, differently
                # from one evaluation of the same matrices to the next.
                continue
            unitary = random_unitaries(rng, (), n, model.map.complex_valued)
            params = dict(params)
            params["constant"] = unitary @ params["constant"] @ dagger(unitary)
            params["couplings"] = unitary @ params["couplings"] @ dagger(unitary)
            starts[f"rotated_{name}"] = model.layout.pack(params)
    return starts


@DATA_LOSS
@WHICH
@READOUT
@ALL_MAPS_COMPLEX
@pytest.mark.parametrize("smoothness", [0.0, 0.3])
def test_degenerate_spectra_are_finite(
    map_name,
    readout_name,
    n_decoders,
    which,
    complex_valued,
    loss_name,
    strict,
    smoothness,
):
    model, X, rng = make_model(
        map_name, readout_name, which, complex_valued, 1100, n_decoders
    )
    inputs, targets, weights = model_data(model, X, rng, loss_name)
    data_loss = DATA_LOSS_CASES[loss_name][0]()
    policy = ExecutionPolicy(chunk_size=4)
    for name, theta in degenerate_starts(model, rng).items():
        loss, grad = model.loss_gradient(
            theta,
            inputs,
            targets,
            weights,
            data_loss,
            0.1,
            policy,
            smoothness=smoothness,
        )
        assert np.all(np.isfinite(grad)), name
        if not smoothness:  # the prior is huge, by design, at H_0 = I
            # Bounded too: an unbroadened 1/gap at the rotated starts'
            # rounding-size gaps gives entries near 1e16.
            assert np.abs(grad).max() < 1e6, name
        # The loss is the data loss of the outputs (which are finite), the
        # penalty and the prior.
        outputs = model.outputs(theta, inputs, policy)
        per_sample = DATA_LOSS_CASES[loss_name][2](outputs, targets)
        expected = written_out_loss(model, theta, per_sample, weights, 0.1, smoothness)
        assert np.isfinite(loss), name
        assert_allclose(loss, expected, rtol=1e-12, err_msg=name)


# Every degenerate start of the affine map, and a zero map under a random
# readout for the others.
LBFGS_STARTS = [
    ("affine", start) for start in ("all_zero", "identity", "blocks", "plus_minus")
] + [(name, "zero_map") for name in MAP_FACTORIES if name != "affine"]


# Degenerate starts at which "largest_magnitude" chooses among levels of
# equal |lambda| (the +1 and -1 of plus_minus, the repeated 2 of blocks), so
# that the selected set changes discontinuously along the first step.
SELECTION_JUMPS = {
    ("affine", "blocks", "expectation", False),
    ("affine", "plus_minus", "expectation", True),
    ("affine", "plus_minus", "eigenvalues", False),
    ("affine", "plus_minus", "eigenvalues", True),
}


@COMPLEX
@READOUT_NAME
@pytest.mark.parametrize("map_name, start", LBFGS_STARTS)
def test_lbfgs_from_degenerate_start(start, map_name, readout_name, complex_valued):
    model, X, rng = make_model(
        map_name, readout_name, "largest_magnitude", complex_valued, 1200
    )
    inputs, targets, weights = model_data(model, X, rng, "squared_error")
    theta0 = degenerate_starts(model, rng)[start]
    args = (inputs, targets, weights, SquaredError(), 0.1, ExecutionPolicy(4))

    with strict_numerics():
        loss0 = model.loss_gradient(theta0, *args)[0]
        result = minimize(
            lambda t: model.loss_gradient(t, *args),
            theta0,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": 5},
        )
    assert np.all(np.isfinite(result.x))
    assert np.all(np.isfinite(result.jac))
    if (map_name, start, readout_name, complex_valued) in SELECTION_JUMPS:
        # Levels tied in |lambda| swap places in the selection along the
        # descent direction, and the loss jumps up there (measured: a
        # one-sided difference of 1e6 where the gradient says -1 to -5), so
        # the line search stops at the start.  It must never go up.
        assert result.fun <= loss0
    else:
        assert result.fun < loss0


# Spectra of 5 levels with a repeated one (r = 2); the loss stays
# differentiable because either the repeated level is never selected, or the
# readout only sees the selected subspace (shared observables:
# sum_i v_i^dagger D v_i = tr(P D)).  The couplings move the levels by at
# most 0.3, which keeps every selection.
UNSELECTED_REPEATS = {
    "lowest": [-4.0, -2.0, 1.0, 1.0, 3.0],
    "highest": [0.0, 0.0, 1.0, 2.0, 4.0],
    "largest_magnitude": [-4.0, 0.5, 0.5, 1.0, 3.0],
    1: [-3.0, -1.0, 2.0, 3.0, 3.0],
}
SELECTED_REPEATS = {
    "lowest": [-3.0, -3.0, 0.5, 2.0, 3.0],
    "highest": [-2.0, 0.5, 1.0, 2.5, 2.5],
    "largest_magnitude": [-3.5, 1.0, 0.5, -3.5, 0.0],
    1: [-3.0, 0.5, 0.5, 2.0, 3.0],
}


def check_repeated_level_gradient(model, spectrum, loss_name, seed):
    rng = np.random.default_rng(seed)
    spectrum = np.asarray(spectrum)
    n, p = model.map.matrix_size, model.map.n_features
    # Couplings equal on the repeated level: it stays repeated for every x.
    diagonals = np.concatenate([spectrum[None], rng.uniform(-0.15, 0.15, (p, n))])
    repeated = np.flatnonzero(np.sum(spectrum[:, None] == spectrum, axis=1) > 1)
    diagonals[1:, repeated] = diagonals[1:, repeated[:1]]
    theta = affine_with_spectrum(model, diagonals, rng)
    X = rng.uniform(-1.0, 1.0, (8, p))
    inputs, targets, weights = model_data(model, X, rng, loss_name)
    levels = model.eigenvalues(theta, inputs, ExecutionPolicy())[:, 0]
    gaps = np.diff(levels, axis=-1)
    assert np.all(np.sum(gaps < 1e-12, axis=-1) == 1)  # the repeated level is there
    args = (inputs, targets, weights, DATA_LOSS_CASES[loss_name][0](), 0.1)
    _, grad = model.loss_gradient(theta, *args, ExecutionPolicy(3))
    check_gradient_by_blocks(
        lambda t: model.loss_gradient(t, *args, ExecutionPolicy())[0],
        theta,
        grad,
        model.layout,
        "repeated_level",
        seed + 1,
    )


@COMPLEX
@WHICH
@READOUT_NAME
def test_loss_gradient_repeated_unselected_level(readout_name, which, complex_valued):
    # The two selected levels are simple; a repeated level is not selected.
    primary_map = AffineMap(2, 5, complex_valued)
    model = PMMModel(primary_map, make_readout(readout_name, 2, 2), which=which)
    check_repeated_level_gradient(
        model, UNSELECTED_REPEATS[which], "squared_error", 1300
    )


@COMPLEX
@WHICH
@pytest.mark.parametrize("n_decoders", [1, 2])
def test_loss_gradient_repeated_selected_level(n_decoders, which, complex_valued):
    # Both selected levels are one repeated level, read out through
    # observables shared by the two vectors: the loss only sees the subspace.
    primary_map = AffineMap(2, 5, complex_valued)
    readout = make_readout("expectation", 2, 2, n_decoders)
    model = PMMModel(primary_map, readout, which=which)
    check_repeated_level_gradient(model, SELECTED_REPEATS[which], "cross_entropy", 1310)


# --------------------------------------------------------------------------
# 10. rescale
# --------------------------------------------------------------------------


@WHICH
@READOUT_NAME
@ALL_MAPS_COMPLEX
def test_rescale(map_name, readout_name, which, complex_valued):
    model, X, rng = make_model(map_name, readout_name, which, complex_valued, 1400)
    theta = model_parameters(model, 1401)
    policy = ExecutionPolicy()
    q = model.n_outputs
    y_shift = rng.standard_normal(q)
    if isinstance(model.readout, EigenvalueReadout):
        y_scale = np.full(q, 1.7)
    else:
        y_scale = rng.uniform(0.5, 2.0, q)
    scaling = model.map.input_scaling(X, np.ones(len(X)))
    if scaling is not None:
        shift, spread = scaling
        scaling = (
            shift + rng.standard_normal(np.shape(shift)),
            spread * rng.uniform(0.5, 2.0, np.shape(spread)),
        )
        standardised = model.map.prepare(model.map.scale_inputs(X, scaling))
    else:
        standardised = model.map.prepare(X)
    inputs = model.map.prepare(X)

    rescaled = model.rescale(theta, scaling, y_shift, y_scale)
    expected = y_scale * model.outputs(theta, standardised, policy) + y_shift
    atol = 1e-11 * np.max(np.abs(expected))
    assert_allclose(
        model.outputs(rescaled, inputs, policy), expected, rtol=1e-11, atol=atol
    )

    # The inverse map restores the parameters.
    inverse = None
    if scaling is not None:
        inverse = (-scaling[0] / scaling[1], 1.0 / scaling[1])
    restored = model.rescale(rescaled, inverse, -y_shift / y_scale, 1.0 / y_scale)
    assert_allclose(restored, theta, rtol=1e-12, atol=1e-12)


def test_rescale_eigenvalues_needs_common_scale():
    model = PMMModel(AffineMap(2, 4, True), EigenvalueReadout(2, 2))
    theta = model_parameters(model, 1410)
    with pytest.raises(ValueError, match="common y_scale"):
        model.rescale(theta, None, np.zeros(2), np.array([1.0, 2.0]))


# --------------------------------------------------------------------------
# 11. chunking and parallelism
# --------------------------------------------------------------------------


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("chunk_size", [1, 3, 10, 50])
def test_execution_policy_order(chunk_size, n_jobs):
    policy = ExecutionPolicy(chunk_size=chunk_size, n_jobs=n_jobs, min_task_rows=1)
    expected = [
        (start, min(start + chunk_size, 10)) for start in range(0, 10, chunk_size)
    ]
    assert policy.map(lambda batch: (batch.start, batch.stop), 10) == expected
    with policy:  # one pool kept open across calls
        for _ in range(2):
            assert policy.map(lambda batch: (batch.start, batch.stop), 10) == expected
    assert policy.serial().map(lambda batch: (batch.start, batch.stop), 10) == expected


def test_execution_policy_gives_threads_enough_rows():
    main = threading.get_ident()

    def thread(batch):
        return threading.get_ident()

    # Ten rows in chunks of two: threads only when each gets min_task_rows.
    serial = ExecutionPolicy(2, n_jobs=2, min_task_rows=6).map(thread, 10)
    assert serial == [main] * 5
    # Two runs of chunks: the calling thread runs the first, a worker the other.
    threaded = ExecutionPolicy(2, n_jobs=2, min_task_rows=5).map(thread, 10)
    assert threaded[:3] == [main] * 3
    assert len(set(threaded[3:])) == 1 and main not in threaded[3:]


def test_execution_policy_threads_see_the_callers_sklearn_config():
    def working_memory(batch):
        return sklearn.get_config()["working_memory"]

    policy = ExecutionPolicy(1, n_jobs=2, min_task_rows=1)
    with sklearn.config_context(working_memory=17):
        assert policy.map(working_memory, 4) == [17] * 4
        with policy:
            assert policy.map(working_memory, 4) == [17] * 4


@pytest.mark.parametrize("failing_chunk", [0, 3])
def test_execution_policy_raises_a_chunks_error_after_every_run_ended(failing_chunk):
    ended = []

    def chunk(batch):
        if batch.start == failing_chunk:
            raise ValueError("chunk failed")
        time.sleep(0.01)
        ended.append(batch.start)
        return batch.start

    with pytest.raises(ValueError, match="chunk failed"):
        ExecutionPolicy(1, n_jobs=2, min_task_rows=1).map(chunk, 4)
    # Chunks 0-1 are the calling thread's run, 2-3 the worker's.  Chunk 0
    # fails at once, yet map waited for the worker's run to end.
    assert sorted(ended) == ([0, 1, 2] if failing_chunk == 3 else [2, 3])


@COMPLEX
@MODEL_MAPS
def test_loss_gradient_is_deterministic(map_name, complex_valued):
    model, X, rng = make_model(
        map_name, "decoder", "largest_magnitude", complex_valued, 1500
    )
    inputs, targets, weights = model_data(model, X, rng, "cross_entropy")
    theta = model_parameters(model, 1501)
    data_loss = SoftmaxCrossEntropy(0.7)
    args = (theta, inputs, targets, weights, data_loss, 0.1)

    reference = model.loss_gradient(*args, ExecutionPolicy(3, n_jobs=1))
    policy = ExecutionPolicy(3, n_jobs=2, min_task_rows=1)
    in_threads = model.loss_gradient(*args, policy)
    assert in_threads[0] == reference[0]
    assert_array_equal(in_threads[1], reference[1])
    with policy:
        for _ in range(2):
            reused = model.loss_gradient(*args, policy)
            assert reused[0] == reference[0]
            assert_array_equal(reused[1], reference[1])

    # Other chunkings change only the summation order.
    scale = np.abs(reference[1]).max()
    for chunk_size in (1, 4, len(X), 1024):
        other = model.loss_gradient(
            *args, ExecutionPolicy(chunk_size, n_jobs=2, min_task_rows=1)
        )
        assert_allclose(other[0], reference[0], rtol=1e-14)
        assert_allclose(other[1], reference[1], rtol=1e-12, atol=1e-14 * scale)

    outputs = model.outputs(theta, inputs, ExecutionPolicy(3, n_jobs=1))
    levels = model.eigenvalues(theta, inputs, ExecutionPolicy(3, n_jobs=1))
    assert_allclose(
        levels,
        np.linalg.eigvalsh(model.map.matrices(model.layout.unpack(theta), inputs)),
        rtol=1e-14,
        atol=1e-14,
    )
    for chunk_size in (1, 3, 1024):
        for n_jobs in (1, 2):
            policy = ExecutionPolicy(chunk_size, n_jobs=n_jobs, min_task_rows=1)
            assert_allclose(
                model.outputs(theta, inputs, policy), outputs, rtol=1e-14, atol=1e-14
            )
            assert_allclose(
                model.eigenvalues(theta, inputs, policy), levels, rtol=1e-14, atol=1e-14
            )
