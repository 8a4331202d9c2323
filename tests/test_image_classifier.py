# SPDX-License-Identifier: BSD-3-Clause
"""Tests of the image PMM: window Gram inputs, the map's gradients, the estimator.

Gradients follow ``dL = Re sum conj(xbar) dx`` and are compared with central
finite differences through the whole ``PMMModel.loss_gradient`` (softmax
cross-entropy, one class matrix per class), for real and complex matrices,
one- and two-channel images and random window layouts.
"""

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from sklearn_pmm import PMMImageClassifier
from sklearn_pmm._core.eigh import ExecutionPolicy
from sklearn_pmm._core.hermitian import HermitianPacking
from sklearn_pmm._core.image import (
    clip_windows,
    gram_features,
    grid_windows,
    images_from_features,
    window_grams,
    window_pixels,
)
from sklearn_pmm._core.loss import SoftmaxCrossEntropy
from sklearn_pmm._core.maps import MAPS, GramWindowMap
from sklearn_pmm._core.model import PMMModel
from sklearn_pmm._core.params import ParameterLayout
from sklearn_pmm._core.readout import READOUTS

COMPLEX = pytest.mark.parametrize(
    "complex_valued", [False, True], ids=["real", "complex"]
)
# Settings that fit in well under a second on the common checks' data.
CHEAP = dict(
    window_shape=2,
    stride=1,
    latent_size=3,
    matrix_size=3,
    hermitian="real",
    max_iter=30,
    random_state=0,
)


def dagger(a):
    return np.conj(np.swapaxes(a, -1, -2))


def random_images(rng, n_samples, shape, complex_images):
    images = rng.standard_normal((n_samples, *shape))
    if complex_images:
        images = images + 1j * rng.standard_normal((n_samples, *shape))
    return images


def random_windows(rng, shape, n_windows):
    """Windows of random sizes and positions, some crossing the image's edge."""
    rows = rng.randint(-1, shape[0], n_windows)
    cols = rng.randint(-1, shape[1], n_windows)
    sizes = rng.randint(2, 4, (n_windows, 2))
    return clip_windows(shape, np.column_stack([rows, cols, sizes]))


# --------------------------------------------------------------------------
# Windows and Gram inputs


@pytest.mark.parametrize(
    "shape, window, stride", [((8, 8), 4, 2), ((28, 28), 5, 3), ((7, 3), (4, 2), 2)]
)
def test_grid_windows_cover_the_image(shape, window, stride):
    # With a stride no larger than the window, every pixel is in some window.
    windows = grid_windows(shape, window, stride)
    covered = np.zeros(shape, dtype=int)
    for row, col, height, width in windows:
        assert 0 <= row and row + height <= shape[0]
        assert 0 <= col and col + width <= shape[1]
        covered[row : row + height, col : col + width] += 1
    assert covered.min() >= 1


def test_grid_windows_with_a_stride_beyond_the_window_leave_gaps():
    windows = grid_windows((5, 9), 2, 3)
    starts = [(row, col) for row in (0, 3) for col in (0, 3, 6)]
    assert_array_equal(windows, [(row, col, 2, 2) for row, col in starts])


@pytest.mark.parametrize(
    "window_shape, stride",
    [(0, 2), ((3.0, 3.0), 2), ((2, 2, 2), 2), (2, 1.0), (2, (1, 0))],
)
def test_grid_windows_rejects_bad_shapes_and_strides(window_shape, stride):
    with pytest.raises(ValueError, match="positive int or a pair of positive ints"):
        grid_windows((8, 8), window_shape, stride)


@pytest.mark.parametrize(
    "windows, message",
    [
        ([], "non-empty list of integer"),
        ([(0, 0, 0, 2)], "heights and widths must be positive"),
        ([(0, 0, 2, -1)], "heights and widths must be positive"),
        ([(9, 0, 2, 2)], "must overlap the 8 x 8 image"),
        ([(0, -5, 2, 3)], "must overlap the 8 x 8 image"),
        ([(0, 0, 1.5, 2)], "non-empty list of integer"),
        ([(0, 0, 3.0, 2)], "non-empty list of integer"),
        ([[1, 2, 3]], "non-empty list of integer"),
        ([(0, 0, np.nan, 2)], "non-empty list of integer"),
    ],
)
def test_clip_windows_rejects_bad_windows(windows, message):
    with pytest.raises(ValueError, match=message):
        clip_windows((8, 8), windows)


def test_window_pixels_are_padded_with_zeros():
    images = np.arange(1.0, 13.0).reshape(1, 3, 4)
    pixels = window_pixels(images, clip_windows((3, 4), [(2, 3, 2, 2), (0, 0, 2, 1)]))
    # Clipped to 1 x 1 and 2 x 1, padded to the common 2 x 1.
    assert_array_equal(pixels[0, 0], [[12.0], [0.0]])
    assert_array_equal(pixels[0, 1], [[1.0], [5.0]])


@pytest.mark.parametrize("complex_images", [False, True], ids=["real", "complex"])
def test_window_grams_properties(complex_images):
    rng = np.random.RandomState(0)
    shape = (6, 7)
    images = random_images(rng, 5, shape, complex_images)
    images[1, :3, :3] = 0.0  # the first window of image 1 is all zero
    windows = clip_windows(shape, [(0, 0, 3, 3), (2, 4, 4, 2), (5, 5, 3, 3)])
    R, C = window_grams(images, windows)
    assert R.shape == (5, 3, 4, 4) and C.shape == (5, 3, 3, 3)
    assert np.iscomplexobj(R) == complex_images
    pixels = window_pixels(images, windows)
    for gram, product, sizes in [
        (R, pixels @ dagger(pixels), windows[:, 2]),
        (C, dagger(pixels) @ pixels, windows[:, 3]),
    ]:
        assert_allclose(gram, dagger(gram), atol=0)  # exactly Hermitian
        # Off the diagonal: the Gram matrix over its largest |entry|.
        largest = np.abs(product).max(axis=(-2, -1), keepdims=True)
        expected = product / np.where(largest > 0, largest, 1.0)
        off = ~np.eye(gram.shape[-1], dtype=bool)
        assert_allclose(gram[..., off], expected[..., off], rtol=1e-12, atol=1e-15)
        assert np.abs(gram).max() <= 1.0 + 1e-15
        # The diagonal is 1 inside each window, 0 in the padding.
        inside = (np.arange(gram.shape[-1]) < sizes[:, None]).astype(float)
        assert_array_equal(
            np.einsum("...ii->...i", gram), np.broadcast_to(inside, gram.shape[:-1])
        )
    # An all-zero window gives the identity.
    assert_array_equal(R[1, 0], np.diag([1.0, 1.0, 1.0, 0.0]))
    assert_array_equal(C[1, 0], np.eye(3))


@pytest.mark.parametrize("factor", [1e-20, -3.0, 1e20, 1j])
def test_window_grams_ignore_scale_and_sign(factor):
    rng = np.random.RandomState(1)
    images = random_images(rng, 4, (5, 5), complex_images=np.iscomplexobj(factor))
    windows = grid_windows((5, 5), 3, 2)
    for scaled, plain in zip(
        window_grams(images * factor, windows),
        window_grams(images, windows),
        strict=True,
    ):
        assert_allclose(scaled, plain, rtol=1e-12, atol=1e-14)


def test_gram_features_pack_the_grams_in_chunks():
    rng = np.random.RandomState(2)
    images = random_images(rng, 9, (6, 6), complex_images=True)
    windows = random_windows(rng, (6, 6), 4)
    features = gram_features(images, windows)
    # A tiny working memory gives one-sample chunks and the same floats.
    chunked = gram_features(images, windows, working_memory=1e-6)
    assert_allclose(chunked, features, rtol=1e-14, atol=1e-15)
    R, C = window_grams(images, windows)
    a, b = R.shape[-1], C.shape[-1]
    packed_R = features[:, : 4 * a * a].reshape(9 * 4, a * a)
    assert_array_equal(HermitianPacking(a, True).unpack(packed_R), R.reshape(-1, a, a))
    packed_C = features[:, 4 * a * a :].reshape(9 * 4, b * b)
    assert_array_equal(HermitianPacking(b, True).unpack(packed_C), C.reshape(-1, b, b))


def test_images_from_features_two_channels():
    X = np.arange(12.0).reshape(1, 12)
    images = images_from_features(X, (2, 3, 2))
    assert_array_equal(
        images[0], [[0 + 1j, 2 + 3j, 4 + 5j], [6 + 7j, 8 + 9j, 10 + 11j]]
    )
    assert_array_equal(images_from_features(X, (3, 4))[0], X.reshape(3, 4))


# --------------------------------------------------------------------------
# The map


def make_map(rng, complex_valued, complex_images, n_systems):
    shape = (int(rng.randint(3, 7)), int(rng.randint(3, 7)))
    image_shape = (*shape, 2) if complex_images else shape
    windows = random_windows(rng, shape, int(rng.randint(1, 4)))
    primary_map = GramWindowMap(
        image_shape,
        windows,
        latent_size=int(rng.randint(2, 5)),
        matrix_size=int(rng.randint(2, 5)),
        n_systems=n_systems,
        complex_valued=complex_valued,
    )
    X = rng.standard_normal((7, int(np.prod(image_shape))))
    return primary_map, X


def direct_matrices(primary_map, params, X):
    """H_c = D_c M D_c^dagger + B_c with M = sum K R K^dagger + L C L^dagger."""
    images = images_from_features(X, primary_map.image_shape)
    R, C = window_grams(images, primary_map.windows)
    K, L = params["window_left"], params["window_right"]
    latent = np.einsum("wab,nwbc,wdc->nad", K, R, np.conj(K))
    latent = latent + np.einsum("wab,nwbc,wdc->nad", L, C, np.conj(L))
    D = params["class_congruence"]
    return np.einsum("cia,nab,cjb->ncij", D, latent, np.conj(D)) + params["class_bias"]


@pytest.mark.parametrize(
    "complex_valued, complex_images",
    [(False, False), (True, False), (True, True)],
    ids=["real", "complex", "two-channel"],
)
@pytest.mark.parametrize("seed", range(3))
def test_map_matches_direct_formula(complex_valued, complex_images, seed):
    rng = np.random.RandomState(seed)
    primary_map, X = make_map(rng, complex_valued, complex_images, n_systems=3)
    params = primary_map.initial_parameters(rng)
    H = primary_map.matrices(params, primary_map.prepare(X))
    assert H.shape == (7, 3, primary_map.matrix_size, primary_map.matrix_size)
    assert np.iscomplexobj(H) == complex_valued
    assert_allclose(H, direct_matrices(primary_map, params, X), rtol=1e-12, atol=1e-12)
    assert_allclose(H, dagger(H), atol=1e-12)
    scaled = primary_map.matrices(
        primary_map.scale(params, 2.5), primary_map.prepare(X)
    )
    assert_allclose(scaled, 2.5 * H, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "complex_valued, complex_images",
    [(False, False), (True, False), (True, True)],
    ids=["real", "complex", "two-channel"],
)
@pytest.mark.parametrize("seed", range(3))
def test_map_backward_matches_finite_differences(complex_valued, complex_images, seed):
    # L = Re sum conj(G) H(theta) for a fixed random G: dL/dtheta is backward(G).
    rng = np.random.RandomState(10 + seed)
    primary_map, X = make_map(rng, complex_valued, complex_images, n_systems=4)
    inputs = primary_map.prepare(X)
    layout = ParameterLayout(primary_map.blocks())
    theta = layout.pack(primary_map.initial_parameters(rng))
    shape = (7, 4, primary_map.matrix_size, primary_map.matrix_size)
    G = rng.standard_normal(shape)
    if complex_valued:
        G = G + 1j * rng.standard_normal(shape)

    def loss(t):
        return float(
            np.real(np.vdot(G, primary_map.matrices(layout.unpack(t), inputs)))
        )

    analytic = layout.pack_gradient(
        primary_map.backward(layout.unpack(theta), inputs, G)
    )
    step = 1e-6
    numeric = np.array(
        [
            (loss(theta + step * e) - loss(theta - step * e)) / (2 * step)
            for e in np.eye(len(theta))
        ]
    )
    assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-7 * np.abs(analytic).max())


@pytest.mark.parametrize(
    "complex_valued, complex_images",
    [(False, False), (True, False), (True, True)],
    ids=["real", "complex", "two-channel"],
)
@pytest.mark.parametrize(
    "readout, n_decoders, which",
    [("decoder", 1, "lowest"), ("decoder", None, "highest"), ("expectation", 2, 0)],
)
def test_loss_gradient_through_the_model(
    complex_valued, complex_images, readout, n_decoders, which
):
    rng = np.random.RandomState(
        [complex_valued, complex_images].count(True) + 3 * list(READOUTS).index(readout)
    )
    n_classes = 4
    primary_map, X = make_map(rng, complex_valued, complex_images, n_classes)
    n_eigenvectors = min(2, primary_map.matrix_size)
    model = PMMModel(
        primary_map,
        READOUTS[readout](1, n_eigenvectors, n_decoders, n_systems=n_classes),
        which=which,
    )
    inputs = primary_map.prepare(X)
    targets = np.eye(n_classes)[rng.randint(0, n_classes, len(X))]
    weights = rng.uniform(0.5, 2.0, len(X))
    data_loss = SoftmaxCrossEntropy(0.7)
    policy = ExecutionPolicy(chunk_size=3)  # several chunks
    theta = model.initial_parameters(rng)

    def loss(t):
        return model.loss_gradient(
            t, inputs, targets, weights, data_loss, 1e-2, policy, smoothness=0.3
        )[0]

    gradient = model.loss_gradient(
        theta, inputs, targets, weights, data_loss, 1e-2, policy, smoothness=0.3
    )[1]
    # One random direction inside each block, and one across all of them:
    # 5-point central differences of the directional derivatives.
    step = 1e-4
    for block in [*model.layout.blocks, None]:
        direction = rng.standard_normal(len(theta))
        if block is not None:
            inside = np.zeros(len(theta), dtype=bool)
            inside[model.layout.block_slice(block.name)] = True
            direction[~inside] = 0.0
        values = [loss(theta + k * step * direction) for k in (-2, -1, 1, 2)]
        numeric = (values[0] - 8 * values[1] + 8 * values[2] - values[3]) / (12 * step)
        analytic = gradient @ direction
        scale = np.abs(gradient).max() * np.abs(direction).sum()
        name = "all blocks" if block is None else block.name
        assert abs(numeric - analytic) <= 1e-7 * scale, (name, numeric, analytic)


def test_map_registry_and_bad_arguments():
    assert MAPS["gram_window"] is GramWindowMap
    windows = grid_windows((4, 4), 2, 2)
    with pytest.raises(ValueError, match="complex"):
        GramWindowMap((4, 4, 2), windows, 2, 2, 3, complex_valued=False)
    primary_map = GramWindowMap((4, 4), windows, 2, 2, 3, complex_valued=True)
    with pytest.raises(ValueError, match="non-negative"):
        primary_map.scale(
            primary_map.initial_parameters(np.random.RandomState(0)), -1.0
        )


def test_initial_spectrum_has_unit_order_gaps():
    X, _ = load_digits(return_X_y=True)
    clf = PMMImageClassifier()
    model = clf._build_model(clf._model_spec(64, 10))
    params = model.map.initial_parameters(np.random.RandomState(0))
    levels = np.linalg.eigvalsh(model.map.matrices(params, model.map.prepare(X[:200])))
    gaps = np.diff(levels, axis=-1)
    assert 1.0 < gaps.mean() < 4.0
    # The images move the levels: not only the constant part counts.
    assert levels.std(axis=0).mean() > 0.05


@pytest.mark.parametrize(
    "complex_valued, complex_images",
    [(False, False), (True, False), (True, True)],
    ids=["real", "complex", "two-channel"],
)
def test_smoothness_penalty_gradient_and_invariance(complex_valued, complex_images):
    rng = np.random.RandomState(20)
    shape = (5, 6)
    windows = clip_windows(shape, [(0, 0, 3, 2), (2, 3, 3, 3), (3, 4, 4, 4)])
    image_shape = (*shape, 2) if complex_images else shape
    primary_map = GramWindowMap(image_shape, windows, 4, 3, 3, complex_valued)
    layout = ParameterLayout(primary_map.blocks())
    theta = layout.pack(primary_map.initial_parameters(rng))

    def penalty(t):
        return primary_map.smoothness_penalty(layout.unpack(t))[0]

    value, grads = primary_map.smoothness_penalty(layout.unpack(theta))
    assert value > 0
    analytic = layout.pack_gradient(grads)
    step = 1e-6
    numeric = np.array(
        [
            (penalty(theta + step * e) - penalty(theta - step * e)) / (2 * step)
            for e in np.eye(len(theta))
        ]
    )
    assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8 * np.abs(analytic).max())
    # Rescalings that leave every eigenvector unchanged leave it unchanged.
    params = layout.unpack(theta)
    assert_allclose(penalty(layout.pack(primary_map.scale(params, 7.0))), value)
    shrunk = {
        **params,
        "window_left": params["window_left"] * 3,
        "window_right": params["window_right"] * 3,
        "class_congruence": params["class_congruence"] / 3,
    }
    assert_allclose(penalty(layout.pack(shrunk)), value)


def test_map_blocks_are_not_penalised():
    # Only the readout's decoders are: the map's blocks have exact rescaling
    # symmetries that leave the outputs unchanged.
    clf = PMMImageClassifier()
    model = clf._build_model(clf._model_spec(64, 10))
    penalised = {block.name for block in model.layout.blocks if block.penalised}
    assert penalised == {"decoders"}


# --------------------------------------------------------------------------
# The estimator


@pytest.fixture(scope="module")
def digits_split():
    X, y = load_digits(return_X_y=True)
    return X[:500], y[:500], X[500:800], y[500:800]


def test_digits_predict_and_score(digits_split):
    X_train, y_train, X_test, y_test = digits_split
    # Small real matrices and a short fit with a light penalty (the default
    # alpha slows the first iterations): the API, not the accuracy, is under
    # test here (benchmarks/bench_images.py measures the accuracy).
    clf = PMMImageClassifier(
        hermitian="real",
        matrix_size=4,
        latent_size=6,
        alpha=1e-3,
        max_iter=60,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y_train)
    assert clf.image_shape_ == (8, 8)
    assert clf.windows_.shape == (9, 4)
    assert clf.window_left_.shape == (9, 6, 4)
    assert clf.class_congruence_.shape == (10, 4, 6)
    assert clf.decoders_.shape == (10, 1, 4, 4)
    assert clf.predict(X_test).shape == (300,)
    assert clf.score(X_test, y_test) > 0.6
    proba = clf.predict_proba(X_test)
    assert_allclose(proba.sum(axis=1), 1.0)
    assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X_test))
    levels = clf.eigenvalues(X_test[:5])
    assert levels.shape == (5, 10, 4)
    # The fitted attributes describe the matrices: rebuild H_c directly.
    model, theta = clf._fitted_model()
    H = direct_matrices(model.map, model.layout.unpack(theta), X_test[:5])
    assert_allclose(levels, np.linalg.eigvalsh(H), atol=1e-10)


def test_n_jobs_does_not_change_the_model(digits_split, threaded_chunks):
    X, y = digits_split[0][:120], digits_split[1][:120]
    with warnings.catch_warnings(action="ignore", category=ConvergenceWarning):
        serial = PMMImageClassifier(**CHEAP).fit(X, y)
        assert threaded_chunks[0] == 0
        threaded = PMMImageClassifier(**CHEAP, n_jobs=2).fit(X, y)
    assert threaded_chunks[0] > 0
    assert serial.n_iter_ == threaded.n_iter_
    assert_array_equal(threaded.loss_curve_, serial.loss_curve_)
    assert_array_equal(threaded.predict_proba(X), serial.predict_proba(X))


def test_a_fit_cut_by_max_iter_warns(digits_split):
    X, y = digits_split[0][:120], digits_split[1][:120]
    clf = PMMImageClassifier(**dict(CHEAP, max_iter=2))
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        clf.fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_image_shape_resolution():
    rng = np.random.RandomState(0)
    y = np.arange(12) % 3
    fitted = PMMImageClassifier(**CHEAP).fit(rng.rand(12, 9), y)
    assert fitted.image_shape_ == (3, 3)
    fitted = PMMImageClassifier(**CHEAP).fit(rng.rand(12, 6), y)
    assert fitted.image_shape_ == (1, 6)
    fitted = PMMImageClassifier(**{**CHEAP, "image_shape": (2, 3)}).fit(
        rng.rand(12, 6), y
    )
    assert fitted.image_shape_ == (2, 3)
    with pytest.raises(ValueError, match="values per image"):
        PMMImageClassifier(image_shape=(2, 2)).fit(rng.rand(12, 6), y)
    with pytest.raises(ValueError, match="image_shape must be"):
        PMMImageClassifier(image_shape=(1, 2, 3)).fit(rng.rand(12, 6), y)
    with pytest.raises(ValueError, match="hermitian='complex'"):
        PMMImageClassifier(image_shape=(3, 2, 2), hermitian="real").fit(
            rng.rand(12, 12), y
        )


def test_two_channel_images_and_explicit_windows():
    rng = np.random.RandomState(0)
    X = rng.rand(30, 4 * 4 * 2)
    y = np.arange(30) % 2
    clf = PMMImageClassifier(
        image_shape=(4, 4, 2),
        windows=[(0, 0, 3, 3), (2, 2, 3, 3)],
        latent_size=3,
        matrix_size=3,
        max_iter=20,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert_array_equal(clf.windows_, [[0, 0, 3, 3], [2, 2, 2, 2]])
    assert np.iscomplexobj(clf.window_left_)
    assert clf.predict_proba(X).shape == (30, 2)
    # Two channels are not a complex X: complex input is rejected.
    with pytest.raises(ValueError, match="[Cc]omplex"):
        clf.fit(X + 1j, y)


@pytest.mark.parametrize(
    "settings, n_features",
    [
        (dict(window_shape=1), 16),
        (dict(windows=[(3, 3, 1, 1)]), 16),
        (dict(windows=[(0, 0, 1, 1), (3, 3, 2, 2)]), 16),  # clipped to 1 x 1
        ({}, 1),  # a one-pixel image
    ],
    ids=["grid", "explicit", "clipped", "one-feature"],
)
def test_one_pixel_windows_only_are_rejected(settings, n_features):
    # A one-pixel window's Gram matrices are [[1]] whatever the image: with
    # only such windows the model would be constant in X (it was: one
    # probability row for every image).
    rng = np.random.RandomState(0)
    X, y = rng.rand(12, n_features), np.arange(12) % 2
    with pytest.raises(ValueError, match="one pixel"):
        PMMImageClassifier(**CHEAP | settings).fit(X, y)


def test_a_one_pixel_window_among_others_is_allowed():
    # A 5 x 5 grid of 4 x 4 windows at stride 4 ends in a one-pixel corner
    # window; the other windows read the image.
    rng = np.random.RandomState(0)
    X, y = rng.rand(20, 25), np.arange(20) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = PMMImageClassifier(**CHEAP | dict(window_shape=4, stride=4)).fit(X, y)
    assert [4, 4, 1, 1] in clf.windows_.tolist()
    assert len(np.unique(clf.predict_proba(X).round(12), axis=0)) > 1


# --------------------------------------------------------------------------
# The benchmark's data loading and training, on a stand-in for MNIST


def _load_benchmark(monkeypatch):
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_images.py"
    # As when run as a script: its directory is on sys.path for _provenance.
    monkeypatch.syspath_prepend(str(path.parent))
    spec = importlib.util.spec_from_file_location("bench_images", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_mnist_path_on_a_stand_in(monkeypatch):
    bench = _load_benchmark(monkeypatch)
    calls = []

    def fake_fetch_openml(name, **kwargs):
        # fetch_openml(..., as_frame=False) returns float pixels 0..255 and
        # string labels; MNIST's first 60000 rows are the training set.
        calls.append(name)
        rng = np.random.RandomState(0)
        y = np.arange(70000) % 10
        X = np.zeros((70000, 784))
        X[:, :] = rng.randint(0, 256, 784)  # cheap: one noise image for all
        X[np.arange(70000), 100 + 10 * y] = 255.0  # a class-dependent pixel
        return X, y.astype(str)

    monkeypatch.setattr(bench, "fetch_openml", fake_fetch_openml)
    data = bench.load_dataset("mnist", n_train=200, n_test=100, seed=0)
    assert calls == ["mnist_784"]
    assert data["X_train"].shape == (200, 784) and data["X_test"].shape == (100, 784)
    assert data["image_shape"] == (28, 28)
    assert set(np.unique(data["y_train"])) == set(range(10))
    params = {**bench.PMM_PRESETS["mnist"], "max_iter": 2}
    row = bench.run_pmm(data, params, seed=0)
    # The report's accuracy and float count are those of the same fit.
    fitted = PMMImageClassifier(**{**params, "random_state": 0})
    with warnings.catch_warnings(action="ignore", category=ConvergenceWarning):
        fitted.fit(data["X_train"], data["y_train"])
    assert row["accuracy"] == 100.0 * fitted.score(data["X_test"], data["y_test"])
    assert row["floats"] == fitted.n_params_


def test_partial_fit_continues(digits_split):
    X_train, y_train, X_test, _ = digits_split
    params = {**CHEAP, "window_shape": 4, "stride": 2}
    clf = PMMImageClassifier(**params)
    for epoch in range(2):
        clf.partial_fit(X_train[:200], y_train[:200], classes=np.arange(10))
        assert clf.n_iter_ == epoch + 1
    assert clf.predict(X_test).shape == (len(X_test),)
    # Two epochs on one block are two epochs of Adam: the second call went on
    # from the first one's parameters and optimiser state.
    adam = PMMImageClassifier(**{**params, "solver": "adam", "max_iter": 2})
    with warnings.catch_warnings(action="ignore", category=ConvergenceWarning):
        adam.fit(X_train[:200], y_train[:200])
    assert_allclose(clf.predict_proba(X_test), adam.predict_proba(X_test), atol=1e-10)
