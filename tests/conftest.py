# SPDX-License-Identifier: BSD-3-Clause
"""Fixtures shared by the test files."""

import threading
import time

import pytest
from threadpoolctl import threadpool_info

from sklearn_pmm._core import eigh
from sklearn_pmm._core.maps import PrimaryMap
from sklearn_pmm._core.model import PMMModel


def _blas_thread_counts():
    return [
        pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"
    ]


@pytest.fixture
def blas_threads():
    """A function giving the thread counts of the loaded BLAS libraries."""
    return _blas_thread_counts


@pytest.fixture
def failing_evaluation(monkeypatch):
    """``fail(error, message)`` makes the 10th loss evaluation raise
    ``error(message)`` and returns the list that counts the evaluations.

    Each evaluation sleeps 5 ms first, so that joblib notices the failure
    within a few evaluations of each thread, whatever the machine's load.
    """

    def fail(error, message):
        evaluations, lock = [], threading.Lock()
        loss_gradient = PMMModel.loss_gradient

        def failing_loss_gradient(self, *args, **kwargs):
            with lock:
                evaluations.append(None)
                failing = len(evaluations) == 10
            if failing:
                raise error(message)
            time.sleep(0.005)
            return loss_gradient(self, *args, **kwargs)

        monkeypatch.setattr(PMMModel, "loss_gradient", failing_loss_gradient)
        return evaluations

    return fail


@pytest.fixture
def threaded_chunks(monkeypatch):
    """Chunks of 16 rows and threads for 16 rows or more, so that ``n_jobs=2``
    runs the chunks of a small data set in threads.

    Returns a one-item list counting the evaluations whose chunks ran in
    threads, so that a test can check that they did.
    """
    monkeypatch.setattr(PrimaryMap, "max_chunk_rows", 16)
    monkeypatch.setattr(eigh, "MIN_TASK_ROWS", 16)
    threaded_evaluations = [0]
    map_runs = eigh._map_runs

    def counting_map_runs(*args):
        threaded_evaluations[0] += 1
        return map_runs(*args)

    monkeypatch.setattr(eigh, "_map_runs", counting_map_runs)
    return threaded_evaluations
