# SPDX-License-Identifier: BSD-3-Clause
"""Smoke test: every gallery example in ``examples/`` runs to completion."""

import runpy
import warnings
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("plot_*.py"))


def test_examples_found():
    assert len(EXAMPLES) >= 3, f"expected at least 3 examples in {EXAMPLES_DIR}"


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_runs(path, monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(EXAMPLES_DIR)
    try:
        with warnings.catch_warnings():
            # Agg cannot show figures; plt.show() warns about it on some versions.
            warnings.filterwarnings(
                "ignore", message=".*non-interactive.*", category=UserWarning
            )
            runpy.run_path(str(path), run_name="__main__")
    finally:
        plt.close("all")
