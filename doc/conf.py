"""Sphinx configuration for the sklearn-pmm documentation.

Build with ``make html`` from this directory (``make.bat html`` on Windows).

The example gallery (``../examples``) is rendered from source but **not executed**
by default, so the documentation builds quickly and without running any training.
Set ``PMM_DOC_RUN_EXAMPLES=1`` (or pass ``-D plot_gallery=1`` through
``SPHINXOPTS``) to execute the ``plot_*.py`` examples and embed their figures::

    PMM_DOC_RUN_EXAMPLES=1 make html
    make html SPHINXOPTS="-D plot_gallery=1"

The build machine may have no network access: intersphinx inventories that
cannot be fetched only produce warnings, and cross-references to those projects
are then rendered as plain text. This is why the Makefile does not use ``-W``.
Set ``PMM_DOC_OFFLINE=1`` to skip the downloads and silence the resulting
unresolved-reference warnings (see below).
"""

import os
import sys
from importlib import metadata, util
from pathlib import Path

# -- Paths -------------------------------------------------------------------

DOC_DIR = Path(__file__).resolve().parent
REPO_ROOT = DOC_DIR.parent
EXAMPLES_DIR = REPO_ROOT / "examples"

# Prefer an installed sklearn_pmm (``pip install .`` or ``pip install -e .``);
# otherwise fall back to the source checkout next to ``doc/``.
if util.find_spec("sklearn_pmm") is None and (REPO_ROOT / "sklearn_pmm").is_dir():
    sys.path.insert(0, str(REPO_ROOT))

# -- Project information -----------------------------------------------------

project = "sklearn-pmm"
author = "The sklearn-pmm developers"
copyright = "The sklearn-pmm developers (BSD-3-Clause)"


def _get_release():
    try:
        return metadata.version("sklearn-pmm")
    except metadata.PackageNotFoundError:
        pass
    try:
        import sklearn_pmm

        return sklearn_pmm.__version__
    except (ImportError, AttributeError):
        return "unknown"


release = _get_release()
# The short X.Y version.
version = ".".join(release.split(".")[:2])

# -- General configuration ---------------------------------------------------

# "1", "true", "yes" or "on" (any case) execute the examples; anything else,
# or an unset variable, does not. sphinx-gallery wants "True"/"False".
_RUN_EXAMPLES = str(
    os.environ.get("PMM_DOC_RUN_EXAMPLES", "False").strip().lower()
    in {"1", "true", "yes", "on"}
)
# Only enable sphinx-gallery when the examples directory exists and has a
# gallery header, so that the API reference can be built before any example
# has been written.
_GALLERY_HEADERS = ("GALLERY_HEADER.rst", "README.txt", "README.rst")
_HAS_GALLERY = EXAMPLES_DIR.is_dir() and any(
    (EXAMPLES_DIR / header).is_file() for header in _GALLERY_HEADERS
)

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_design",
    "sphinx_copybutton",
]
if _HAS_GALLERY:
    extensions.append("sphinx_gallery.gen_gallery")

templates_path = ["_templates"]
exclude_patterns = ["_build", "_templates", "Thumbs.db", ".DS_Store"]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"

# `single backticks` render as inline code rather than as an error-prone role.
default_role = "literal"

# -- autodoc / autosummary / numpydoc ----------------------------------------

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"

# Member tables come from the autosummary templates, not from numpydoc.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Turn "array-like of shape (n_samples,)" etc. into links where possible.
numpydoc_xref_param_type = True
numpydoc_xref_aliases = {
    "RandomState": "numpy.random.RandomState",
    "Generator": "numpy.random.Generator",
    "ndarray": "numpy.ndarray",
    "PMMRegressor": "sklearn_pmm.PMMRegressor",
    "PMMClassifier": "sklearn_pmm.PMMClassifier",
}
numpydoc_xref_ignore = {
    "of",
    "or",
    "and",
    "shape",
    "default",
    "optional",
    "instance",
    "array-like",
    "sparse",
    "matrix",
    "n_samples",
    "n_features",
    "n_outputs",
    "n_classes",
    "n_iter",
    "n_components",
    "n_eigenvectors",
    "n_decoders",
    "n_params",
    "n_points",
    "n_grid",
    "n",
    "p",
    "r",
}

# -- intersphinx -------------------------------------------------------------

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "scipy": ("https://docs.scipy.org/doc/scipy", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "joblib": ("https://joblib.readthedocs.io/en/stable", None),
    "matplotlib": ("https://matplotlib.org/stable", None),
}
# Without network access every inventory fetch fails; that is a warning, not an
# error, and the build carries on. Keep the timeout short so an offline build
# does not hang on each inventory.
intersphinx_timeout = 5

# PMM_DOC_OFFLINE=1 declares a build without network access: no inventory is
# fetched, and the warnings about glossary terms and labels that only the
# external inventories could resolve (``:term:`random_state```, the
# ``:ref:`r2_score``` of inherited scikit-learn docstrings, numpydoc's
# ``array-like`` links) are silenced, so that ``-W`` can be used offline.
# Note that this also hides broken internal ``:ref:``/``:term:`` references.
_OFFLINE = os.environ.get("PMM_DOC_OFFLINE", "").strip().lower() in {
    "1",
    "true",
    "yes",
    "on",
}
if _OFFLINE:
    intersphinx_mapping = {}
    suppress_warnings = ["ref.term", "ref.ref"]

# -- HTML output -------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-pmm {release}"
html_static_path = ["_static"]
html_theme_options = {
    "show_toc_level": 1,
    "navbar_align": "left",
    "navigation_with_keys": False,
    # Add once the public repository URL is fixed:
    # "github_url": "https://github.com/<user>/sklearn-pmm",
    # "use_edit_page_button": True,
}
# Needed by "use_edit_page_button" (see above):
# html_context = {
#     "github_user": "<user>",
#     "github_repo": "sklearn-pmm",
#     "github_version": "main",
#     "doc_path": "doc",
# }
html_sidebars = {"quick_start": [], "user_guide": []}
htmlhelp_basename = "sklearn-pmm-doc"

# -- sphinx-copybutton -------------------------------------------------------

# Strip ">>> ", "... " and "$ " prompts when copying code.
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True

# -- sphinx-gallery ----------------------------------------------------------

sphinx_gallery_conf = {
    "doc_module": ("sklearn_pmm",),
    "examples_dirs": os.path.relpath(EXAMPLES_DIR, DOC_DIR),  # "../examples"
    "gallery_dirs": "auto_examples",
    "backreferences_dir": "generated",
    "reference_url": {"sklearn_pmm": None},
    "filename_pattern": "/plot_",
    "within_subsection_order": "FileNameSortKey",
    # Examples are only executed on request (see the module docstring).
    "plot_gallery": _RUN_EXAMPLES,
    "matplotlib_animations": False,
    "remove_config_comments": True,
}

# -- Build-time helpers ------------------------------------------------------

_EXAMPLES_PLACEHOLDER = """\
Examples
========

The example gallery is built from the ``examples/`` directory at the root of
the repository, which is not present (or has no gallery header) in this
checkout.
"""


def _write_examples_placeholder(app):
    """Write a stub gallery index when sphinx-gallery is disabled.

    Keeps the landing page's link to ``auto_examples/index`` valid.
    """
    index = Path(app.srcdir) / "auto_examples" / "index.rst"
    if not index.exists():
        index.parent.mkdir(parents=True, exist_ok=True)
        index.write_text(_EXAMPLES_PLACEHOLDER, encoding="utf-8")


def _touch_empty_backreferences(app, what, name, obj, options, lines):
    """Create the ``generated/<name>.examples`` files the templates include.

    sphinx-gallery does this itself; this replacement is used only when the
    gallery is disabled, so that ``.. include::`` in ``_templates/class.rst``
    and ``_templates/function.rst`` never points at a missing file.
    """
    path = Path(app.srcdir) / "generated" / f"{name}.examples"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


def setup(app):
    if not _HAS_GALLERY:
        app.connect("builder-inited", _write_examples_placeholder)
        app.connect("autodoc-process-docstring", _touch_empty_backreferences)
