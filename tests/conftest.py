# SPDX-License-Identifier: BSD-3-Clause
"""Fixtures shared by the test files."""

import pytest

from sklearn_pmm._core import eigh
from sklearn_pmm._core.maps import PrimaryMap


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
