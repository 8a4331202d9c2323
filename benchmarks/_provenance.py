# SPDX-License-Identifier: BSD-3-Clause
"""Where a benchmark report came from: the commit and the machine's load.

Imported by the benchmark scripts (run as ``python benchmarks/<script>.py``,
so this directory is on ``sys.path``).
"""

import os
import subprocess


def _git(*args):
    return subprocess.run(
        ["git", *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=os.path.dirname(os.path.abspath(__file__)),
    ).stdout


def git_describe():
    """``git describe --always --dirty`` of this checkout, or ``"unknown"``.

    A dirty checkout also names its modified tracked files, so that a report
    run next to another one's freshly written results can be told from one
    run on uncommitted code.
    """
    try:
        described = _git("describe", "--always", "--dirty").strip()
        if not described.endswith("-dirty"):
            return described
        modified = _git("diff", "--name-only", "HEAD").split()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{described} (modified: {', '.join(modified)})"


def load_average():
    """The 1, 5 and 15-minute load averages, formatted, or ``"n/a"``."""
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "n/a"
