# SPDX-License-Identifier: BSD-3-Clause
"""The solvers: Adam's update rule, the mini-batch epoch loop around it, and
the monitor hook they share with L-BFGS."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_pmm._base.solvers import AdamOptimizer, minimize_adam, minimize_lbfgs
from sklearn_pmm._core.eigh import ExecutionPolicy
from sklearn_pmm._core.loss import SquaredError
from sklearn_pmm._core.maps import AffineMap
from sklearn_pmm._core.model import PMMModel
from sklearn_pmm._core.readout import DecoderReadout


def least_squares(n_samples=200, noise=0.3, seed=0):
    """``batch_fun`` of half the mean squared residual of a linear model with
    intercept, and the closed-form minimiser."""
    rng = np.random.RandomState(seed)
    X = np.c_[rng.normal(size=(n_samples, 3)), np.ones(n_samples)]
    y = X @ [1.5, -2.0, 0.5, 3.0] + noise * rng.normal(size=n_samples)

    def batch_fun(theta, rows):
        residual = X[rows] @ theta - y[rows]
        return 0.5 * np.mean(residual**2), X[rows].T @ residual / len(rows)

    exact = np.linalg.lstsq(X, y, rcond=None)[0]
    return batch_fun, exact, batch_fun(exact, np.arange(n_samples))[0]


def run(batch_fun, n_samples, **params):
    params = {
        "batch_size": 32,
        "max_iter": 20,
        "tol": 1e-6,
        "n_iter_no_change": 10,
        "shuffle": True,
        "random_state": 0,
        "learning_rate_init": 0.01,
        **params,
    }
    return minimize_adam(batch_fun, np.zeros(4), n_samples, **params)


# --------------------------------------------------------------------------
# AdamOptimizer.


def test_adam_first_step_is_the_learning_rate_against_the_gradient_sign():
    # m_1 = (1 - b1) g, sqrt(v_1) = sqrt(1 - b2) |g|, eta_1 = eta sqrt(1 - b2) /
    # (1 - b1): with epsilon = 0 the step is -eta sign(g), whatever |g|.
    optimizer = AdamOptimizer(np.zeros(3), learning_rate_init=0.1, epsilon=0.0)
    theta = optimizer.update(np.array([1.0, 2.0, 3.0]), np.array([5.0, -1e-3, 0.2]))
    assert_allclose(theta, [0.9, 2.1, 2.9], rtol=1e-15)


def test_adam_matches_steps_computed_by_hand():
    # beta_1 = 1/2, beta_2 = 3/4, eta = 1, epsilon = 0, gradients 1, -1, 2:
    # t=1: m = 1/2,   v = 1/4,     m^ = 1,    v^ = 1      -> theta = -1
    # t=2: m = -1/4,  v = 7/16,    m^ = -1/3, v^ = 1      -> theta = -2/3
    # t=3: m = 7/8,   v = 85/64,   m^ = 1,    v^ = 85/37  -> -2/3 - sqrt(37/85)
    optimizer = AdamOptimizer(np.zeros(1), 1.0, beta_1=0.5, beta_2=0.75, epsilon=0)
    theta = np.zeros(1)
    expected = [-1.0, -2 / 3, -2 / 3 - np.sqrt(37 / 85)]
    for grad, theta_expected in zip([1.0, -1.0, 2.0], expected, strict=True):
        theta = optimizer.update(theta, np.array([grad]))
        assert_allclose(theta, [theta_expected], rtol=1e-14)
    assert optimizer.t == 3
    assert_allclose(optimizer.m, [7 / 8], rtol=1e-15)
    assert_allclose(optimizer.v, [85 / 64], rtol=1e-15)
    assert_allclose(optimizer.learning_rate, np.sqrt(37) / 7, rtol=1e-15)


def test_adam_equals_the_bias_corrected_form_of_the_paper():
    # Algorithm 1 of Kingma & Ba with epsilon-hat = epsilon / sqrt(1 - b2^t).
    rng = np.random.RandomState(0)
    eta, beta_1, beta_2, epsilon = 0.01, 0.9, 0.999, 1e-3
    theta = rng.normal(size=5)
    optimizer = AdamOptimizer(theta, eta, beta_1, beta_2, epsilon)
    reference, m, v = theta.copy(), np.zeros(5), np.zeros(5)
    for t in range(1, 8):
        grad = rng.normal(size=5)
        theta = optimizer.update(theta, grad)
        m = beta_1 * m + (1 - beta_1) * grad
        v = beta_2 * v + (1 - beta_2) * grad * grad
        m_hat, v_hat = m / (1 - beta_1**t), v / (1 - beta_2**t)
        epsilon_hat = epsilon / np.sqrt(1 - beta_2**t)
        reference = reference - eta * m_hat / (np.sqrt(v_hat) + epsilon_hat)
        assert_allclose(theta, reference, rtol=1e-13)


def test_adam_update_returns_a_new_array_and_checks_the_shape():
    optimizer = AdamOptimizer(np.zeros(2))
    theta = np.ones(2)
    new = optimizer.update(theta, np.ones(2))
    assert new is not theta
    assert_array_equal(theta, [1.0, 1.0])
    with pytest.raises(ValueError, match="shape"):
        optimizer.update(theta, np.ones(3))


def test_pickled_adam_optimizer_continues_identically():
    rng = np.random.RandomState(0)
    grads = rng.normal(size=(10, 4))
    optimizer = AdamOptimizer(np.zeros(4), learning_rate_init=0.1)
    straight = np.zeros(4)
    for grad in grads:
        straight = optimizer.update(straight, grad)

    optimizer = AdamOptimizer(np.zeros(4), learning_rate_init=0.1)
    theta = np.zeros(4)
    for grad in grads[:5]:
        theta = optimizer.update(theta, grad)
    optimizer = pickle.loads(pickle.dumps(optimizer))
    for grad in grads[5:]:
        theta = optimizer.update(theta, grad)
    assert_array_equal(theta, straight)
    assert optimizer.t == 10


# --------------------------------------------------------------------------
# minimize_adam.


def test_full_batch_adam_reaches_the_least_squares_solution():
    # One batch (batch_size > n_samples is clipped): plain Adam, whose steps
    # shrink as the gradient vanishes; to 1e-10 within 3000 epochs.
    batch_fun, exact, minimum = least_squares()
    result = run(
        batch_fun,
        200,
        batch_size=1000,
        max_iter=3000,
        tol=0.0,
        n_iter_no_change=3000,
        learning_rate_init=0.05,
    )
    assert result.nfev == result.nit == 3000
    assert_allclose(result.x, exact, rtol=0, atol=1e-10)
    assert_allclose(result.fun, minimum, rtol=1e-12)


def test_mini_batch_adam_converges_to_the_least_squares_solution():
    # The stochastic steps keep it within about the learning rate (0.01) of
    # the minimiser: we ask for every coefficient within 1e-2 and the loss
    # within 1e-4 of its minimum (about 0.041), and for convergence by tol.
    batch_fun, exact, minimum = least_squares()
    result = run(batch_fun, 200, max_iter=1000)
    assert result.status == 0 and result.success
    assert result.nit < 1000
    assert "did not improve more than tol" in result.message
    assert_allclose(result.x, exact, rtol=0, atol=1e-2)
    assert 0 <= batch_fun(result.x, np.arange(200))[0] - minimum < 1e-4
    assert result.nfev == result.nit * 7  # ceil(200 / 32) steps per epoch
    assert result.optimizer.t == result.nfev
    assert result.fun == result.loss_curve[-1]
    assert result.loss_curve[-1] < result.loss_curve[0] / 10


def test_adam_is_deterministic_given_random_state_only():
    batch_fun, _, _ = least_squares()
    first = run(batch_fun, 200)
    np.random.random_sample(3)  # noqa: NPY002 (the global state plays no part)
    second = run(batch_fun, 200)
    instance = run(batch_fun, 200, random_state=np.random.RandomState(0))
    for other in (second, instance):
        assert_array_equal(other.x, first.x)
        assert other.loss_curve == first.loss_curve
    assert not np.array_equal(run(batch_fun, 200, random_state=1).x, first.x)
    # Without shuffling there is nothing random.
    unshuffled = run(batch_fun, 200, shuffle=False, random_state=0)
    assert_array_equal(
        run(batch_fun, 200, shuffle=False, random_state=1).x, unshuffled.x
    )


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize(
    "batch_size, sizes", [(5, [5, 5, 5, 5, 3]), (23, [23]), (100, [23])]
)
def test_every_row_is_in_exactly_one_batch_per_epoch(shuffle, batch_size, sizes):
    seen = []

    def recording(theta, rows):
        seen.append(np.array(rows))
        return 0.0, np.zeros(4)

    result = minimize_adam(
        recording,
        np.zeros(4),
        23,
        batch_size=batch_size,
        max_iter=3,
        tol=0.0,
        n_iter_no_change=10,
        shuffle=shuffle,
        random_state=0,
    )
    assert result.nit == 3
    epochs = [seen[i : i + len(sizes)] for i in range(0, len(seen), len(sizes))]
    assert len(epochs) == 3
    orders = []
    for epoch in epochs:
        assert [len(rows) for rows in epoch] == sizes
        order = np.concatenate(epoch)
        assert order.dtype.kind == "i"
        assert_array_equal(np.sort(order), np.arange(23))
        orders.append(order)
    if shuffle:
        assert not np.array_equal(orders[0], orders[1])
    else:
        for order in orders:
            assert_array_equal(order, np.arange(23))


def test_epoch_loss_is_the_batch_losses_weighted_by_batch_size():
    # Batch "loss" = mean row index: every epoch's loss is mean(0..9) = 4.5
    # for batches of 3, 3, 3, 1, however they are drawn.
    result = minimize_adam(
        lambda theta, rows: (np.mean(rows), np.zeros(1)),
        np.zeros(1),
        10,
        batch_size=3,
        max_iter=4,
        tol=0.0,
        n_iter_no_change=10,
        shuffle=True,
        random_state=0,
    )
    assert_allclose(result.loss_curve, [4.5] * 4, rtol=1e-15)


def test_convergence_after_n_iter_no_change_epochs_without_progress():
    # A constant loss: the first epoch sets the best loss, the next
    # n_iter_no_change epochs do not beat it by tol.
    result = minimize_adam(
        lambda theta, rows: (1.0, np.zeros(2)),
        np.zeros(2),
        10,
        batch_size=4,
        max_iter=100,
        tol=1e-4,
        n_iter_no_change=5,
        shuffle=True,
        random_state=0,
    )
    assert (result.status, result.nit, result.success) == (0, 6, True)
    assert result.loss_curve == [1.0] * 6


def test_max_iter_reached_gives_status_1():
    batch_fun, _, _ = least_squares()
    result = run(batch_fun, 200, max_iter=5, n_iter_no_change=50)
    assert (result.status, result.nit, result.success) == (1, 5, False)
    assert len(result.loss_curve) == 5
    assert "max_iter=5" in result.message


def test_monitor_is_called_every_epoch_and_stops_with_status_99():
    batch_fun, _, _ = least_squares()
    calls = []

    def monitor(theta):
        calls.append(np.array(theta))
        return len(calls) == 3

    result = run(batch_fun, 200, max_iter=100, monitor=monitor)
    assert (result.status, result.nit, result.success) == (99, 3, False)
    assert len(result.loss_curve) == 3
    assert_array_equal(calls[-1], result.x)
    # Each call saw the parameters after that epoch.
    assert_array_equal(run(batch_fun, 200, max_iter=1).x, calls[0])


def test_monitor_takes_precedence_over_convergence_and_max_iter():
    # Epoch 2 both converges (no progress for 1 epoch) and reaches max_iter.
    calls = []
    result = minimize_adam(
        lambda theta, rows: (1.0, np.zeros(1)),
        np.zeros(1),
        10,
        batch_size=5,
        max_iter=2,
        tol=1e-4,
        n_iter_no_change=1,
        shuffle=False,
        random_state=0,
        monitor=lambda theta: calls.append(theta) or len(calls) == 2,
    )
    assert (result.status, result.nit) == (99, 2)


@pytest.mark.parametrize("shuffle", [False, True])
def test_continuing_with_the_returned_optimizer_is_one_long_run(shuffle):
    # What partial_fit does: the (pickled) optimizer and the random state
    # carry over, so 3 + 3 epochs are 6 epochs bit for bit.
    batch_fun, _, _ = least_squares()
    params = dict(tol=0.0, n_iter_no_change=100, shuffle=shuffle)
    straight = run(
        batch_fun, 200, max_iter=6, random_state=np.random.RandomState(0), **params
    )

    rng = np.random.RandomState(0)
    first = run(batch_fun, 200, max_iter=3, random_state=rng, **params)
    optimizer = pickle.loads(pickle.dumps(first.optimizer))
    second = minimize_adam(
        batch_fun,
        first.x,
        200,
        batch_size=32,
        max_iter=3,
        random_state=rng,
        learning_rate_init=123.0,  # ignored: the optimizer has its own
        optimizer=optimizer,
        **params,
    )
    assert second.optimizer is optimizer
    assert optimizer.t == straight.optimizer.t == 42
    assert_array_equal(second.x, straight.x)
    assert first.loss_curve + second.loss_curve == straight.loss_curve
    assert first.optimizer.t == 21  # the original was left alone


def test_verbose_prints_one_line_per_epoch(capsys):
    batch_fun, _, _ = least_squares()
    run(batch_fun, 200, max_iter=4, n_iter_no_change=50, verbose_prefix="[adam]")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert all(line.startswith("[adam] iteration ") for line in lines)
    assert "loss=" in lines[0]


@pytest.mark.parametrize(
    "name", ["batch_size", "max_iter", "n_iter_no_change", "n_samples"]
)
def test_minimize_adam_rejects_non_positive_counts(name):
    batch_fun, _, _ = least_squares()
    counts = dict(n_samples=200, batch_size=32, max_iter=5, n_iter_no_change=5)
    counts[name] = 0
    n_samples = counts.pop("n_samples")
    with pytest.raises(ValueError, match="must be positive"):
        run(batch_fun, n_samples, **counts)


def test_adam_fits_a_pmm_model():
    # The solver knows nothing of PMMs: batch_fun closes over the data and
    # PMMModel.loss_gradient gives each batch's mean loss (plus penalty).
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2]
    targets = ((y - y.mean()) / y.std())[:, None]
    model = PMMModel(
        AffineMap(3, 4, complex_valued=True),
        DecoderReadout(n_outputs=1, n_eigenvectors=2),
    )
    inputs = model.map.prepare(X)
    weights, data_loss, policy = np.ones(len(X)), SquaredError(), ExecutionPolicy()

    def loss(theta, rows):
        return model.loss_gradient(
            theta, inputs[rows], targets[rows], weights[rows], data_loss, 1e-4, policy
        )

    theta0 = model.initial_parameters(np.random.RandomState(0))
    result = minimize_adam(
        loss,
        theta0,
        len(X),
        batch_size=16,
        max_iter=20,
        tol=1e-4,
        n_iter_no_change=10,
        shuffle=True,
        random_state=0,
        learning_rate_init=0.01,
    )
    rows = np.arange(len(X))
    before, after = loss(theta0, rows)[0], loss(result.x, rows)[0]
    assert result.nit == 20 and result.x.shape == theta0.shape
    assert after < before / 4
    curve = result.loss_curve
    assert curve[-1] < curve[0] / 4
    assert np.mean(curve[-5:]) < np.mean(curve[5:10]) < np.mean(curve[:5])


# --------------------------------------------------------------------------
# minimize_lbfgs.


def test_lbfgs_monitor_stops_with_status_99():
    A = np.diag(np.arange(1.0, 11.0))
    calls = []

    def monitor(theta):
        calls.append(np.array(theta))
        return len(calls) == 3

    result, curve = minimize_lbfgs(
        lambda theta: (0.5 * theta @ A @ theta, A @ theta),
        np.ones(10),
        max_iter=100,
        tol=1e-12,
        monitor=monitor,
    )
    assert (result.status, result.nit, len(curve)) == (99, 3, 3)
    assert_array_equal(calls[-1], result.x)
    assert curve[-1] == result.fun > 0
