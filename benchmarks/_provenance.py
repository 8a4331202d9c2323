# SPDX-License-Identifier: BSD-3-Clause
"""Where a benchmark report came from: the commit and the machine's load.

Imported by the benchmark scripts (run as ``python benchmarks/<script>.py``,
so this directory is on ``sys.path``).
"""

import os
import subprocess


def git_describe():
    """``git describe --always --dirty`` of this checkout, or ``"unknown"``."""
    try:
        return subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
            cwd=os.path.dirname(os.path.abspath(__file__)),
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load_average():
    """The 1, 5 and 15-minute load averages, formatted, or ``"n/a"``."""
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "n/a"
