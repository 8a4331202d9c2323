# SPDX-License-Identifier: BSD-3-Clause
"""The layers of the package import only downwards.

``sklearn_pmm._core`` (math) imports nothing of the estimator layers,
``sklearn_pmm._base`` (the shared estimator base) nothing of the public
estimators.  Read from the source with :mod:`ast`, so an import inside a
function counts too.
"""

import ast
import pathlib

import pytest

import sklearn_pmm

PACKAGE = pathlib.Path(sklearn_pmm.__file__).parent
FORBIDDEN = {
    "_core": ("sklearn_pmm._base", "sklearn_pmm._estimators", "sklearn_pmm.datasets"),
    "_base": ("sklearn_pmm._estimators", "sklearn_pmm.datasets"),
}


def imported_modules(path):
    """Absolute names of every module imported anywhere in ``path``."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: use absolute imports"
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize(
    "path",
    sorted(p for layer in FORBIDDEN for p in (PACKAGE / layer).glob("*.py")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_layers_import_only_downwards(path):
    forbidden = FORBIDDEN[path.parent.name]
    upward = sorted(
        name
        for name in imported_modules(path)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    )
    assert not upward, f"{path.parent.name}/{path.name} imports {upward}"


def test_every_module_sits_in_a_layer():
    loose = sorted(
        p.name
        for p in PACKAGE.glob("*.py")
        if p.name not in {"__init__.py", "__main__.py", "_compat.py", "datasets.py"}
    )
    assert not loose, f"modules outside the layers: {loose}"
