# SPDX-License-Identifier: BSD-3-Clause
"""The README's first command: the demo, ``sklearn-pmm-demo``."""

import subprocess
import sys
import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning

from sklearn_pmm.__main__ import main
from sklearn_pmm.datasets import PAPER_PMM_NMAE


def test_demo_prints_the_comparison(capsys):
    assert main(["--functions", "franke"]) is None  # exit status 0 as a script
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("Franke"))
    ours, paper = map(float, row.split()[1:3])
    assert paper == PAPER_PMM_NMAE["Franke"]
    assert ours < paper
    assert "beats the paper's PMM on 1 of 1 functions" in out
    # Not a terminal: no progress line, and the default fit converges.
    assert "fitting ..." not in out
    assert "did not converge" not in out


def fake_regressor(monkeypatch, on_fit):
    """Replace the demo's PMMRegressor by a stub that calls ``on_fit(X)``."""

    class FakeRegressor:
        n_params_ = 0

        def __init__(self, random_state):
            assert random_state == 0

        def fit(self, X, y):
            on_fit(X)
            return self

        def predict(self, X):
            return X[:, 0]

    monkeypatch.setattr("sklearn_pmm.__main__.PMMRegressor", FakeRegressor)


@pytest.mark.parametrize(
    "functions", ["Cosine-peak,runge", "cosine_peak, Runge", "cosine__PEAK,runge"]
)
def test_demo_accepts_the_spellings_of_the_datasets_module(
    functions, monkeypatch, capsys
):
    fitted = []
    fake_regressor(monkeypatch, lambda X: fitted.append(len(X)))
    main(["--functions", functions])
    rows = capsys.readouterr().out.splitlines()[3:5]
    assert [row[:16].strip() for row in rows] == ["Cosine Peak", "Runge"]
    assert fitted == [200, 200]


@pytest.mark.parametrize(
    "category, noted", [(ConvergenceWarning, True), (UserWarning, False)]
)
def test_only_a_convergence_warning_is_noted(category, noted, monkeypatch, capsys):
    fake_regressor(monkeypatch, lambda X: warnings.warn("stub", category, stacklevel=2))
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        main(["--functions", "runge"])
    assert ("(did not converge)" in capsys.readouterr().out) is noted


def test_unknown_function_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--functions", "Franke,nonsense"])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert "unknown test function 'nonsense'" in captured.err
    assert "'Cosine Peak'" in captured.err
    assert captured.out == ""  # nothing fitted or printed before the error


def test_usage_errors_exit_with_status_2():
    completed = subprocess.run(
        [sys.executable, "-m", "sklearn_pmm", "--seed", "one"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert "invalid int value: 'one'" in completed.stderr
