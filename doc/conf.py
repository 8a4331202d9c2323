"""Sphinx configuration for the sklearn-pmm documentation.

Build with ``make html`` from this directory (``make.bat html`` on Windows), or
as CI does (``.ci/run``)::

    sphinx-build -W --keep-going -b html . _build/html

The build needs no network:

* MathJax is shipped by the ``sphinx-mathjax-offline`` package and copied into
  ``_build/html/_static/mathjax``, so formulas render from a local copy;
* no intersphinx inventory is downloaded (see ``PMM_DOC_INTERSPHINX`` below).

The example gallery (``../examples``) is **executed** by default, so every
figure and printed number in it comes from the current code. Environment
variables:

``PMM_DOC_RUN_EXAMPLES=0``
    Render the examples without running them (a quick build for proof-reading
    text; the example pages then have no figures or output).
``PMM_DOC_INTERSPHINX=1``
    Download the Python, NumPy, SciPy, scikit-learn, joblib and Matplotlib
    inventories and link to their documentation (needs network access).
    Without it, references that only those inventories could resolve (the
    ``:term:`` and ``:ref:`` roles in docstrings, many inherited from
    scikit-learn) are rendered as plain text on the API pages; anywhere else an
    unresolved ``:ref:``/``:term:`` is still a warning.
"""

import os
import re
import sys
from importlib import metadata, util
from pathlib import Path

from sphinx.util import logging

# -- Paths -------------------------------------------------------------------

DOC_DIR = Path(__file__).resolve().parent
REPO_ROOT = DOC_DIR.parent
EXAMPLES_DIR = REPO_ROOT / "examples"

# Prefer an installed sklearn_pmm (``pip install .`` or ``pip install -e .``);
# otherwise fall back to the source checkout next to ``doc/``.
if util.find_spec("sklearn_pmm") is None and (REPO_ROOT / "sklearn_pmm").is_dir():
    sys.path.insert(0, str(REPO_ROOT))

# The executed examples fit many small models. On matrices this small, BLAS
# threads only contend with each other (the estimators hold BLAS at one
# thread themselves), and on a busy two-core machine a multi-threaded BLAS made
# scikit-learn's MLP and GP fits in the examples several times slower. Set
# before any example imports NumPy; an explicit setting in the environment wins.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

# Local extensions (``sphinxext/``): the ``results-table`` directive.
sys.path.insert(0, str(DOC_DIR / "sphinxext"))

logger = logging.getLogger(__name__)


def _env_flag(name, default):
    """``"1"``, ``"true"``, ``"yes"``, ``"on"`` (any case) are true."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


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

_RUN_EXAMPLES = _env_flag("PMM_DOC_RUN_EXAMPLES", True)
_INTERSPHINX = _env_flag("PMM_DOC_INTERSPHINX", False)

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    # Ships MathJax 3 and copies it to _static/mathjax: math renders offline.
    "sphinx-mathjax-offline",
    "numpydoc",
    "sphinx_design",
    "sphinx_copybutton",
    "sphinx_gallery.gen_gallery",
    # Tables of benchmarks/results/*.md, read at build time.
    "results_table",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "_templates", "Thumbs.db", ".DS_Store"]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"

# `single backticks` render as inline code rather than as an error-prone role.
default_role = "literal"

# -- MathJax -----------------------------------------------------------------

# The copy shipped by sphinx-mathjax-offline (MathJax 3, TeX input, CommonHTML
# output with its own web fonts), relative to _static. Set here as well as by
# the extension, so that the local path wins whatever the extension order.
mathjax_path = "mathjax/tex-chtml.js"

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

intersphinx_mapping = {}
if _INTERSPHINX:
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "scipy": ("https://docs.scipy.org/doc/scipy", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "joblib": ("https://joblib.readthedocs.io/en/stable", None),
        "matplotlib": ("https://matplotlib.org/stable", None),
    }
    intersphinx_timeout = 10

# -- HTML output -------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-pmm {release}"
html_static_path = ["_static"]
html_css_files = ["pmm.css"]
html_theme_options = {
    "show_toc_level": 1,
    "navbar_align": "left",
    "navigation_with_keys": False,
    # The pages with wide benchmark tables use the full width.
    "secondary_sidebar_items": {
        "**": ["page-toc", "sourcelink"],
        "user_guide/benchmarks": [],
        "user_guide/performance": [],
    },
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
html_sidebars = {"quick_start": []}
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
    "plot_gallery": str(_RUN_EXAMPLES),
    # Re-run every example on every build, even if its file is unchanged: the
    # package it calls may have changed, and the pages must show its output.
    "run_stale_examples": True,
    # An example that raises fails the build (it is not just reported).
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "matplotlib_animations": False,
    "remove_config_comments": True,
    "show_memory": False,
}

# -- Build-time helpers ------------------------------------------------------


def _external_reference_as_text(app, env, node, contnode):
    """Render unresolved ``:term:``/``:ref:`` of API docstrings as text.

    Without intersphinx the glossary terms and labels of scikit-learn (used in
    our docstrings, ``:term:`random_state```, and in the docstrings of the
    methods inherited from scikit-learn, ``:ref:`r2_score```) cannot be
    resolved. On the pages autosummary generates from docstrings they become
    plain text; anywhere else Sphinx's warning is kept, so a broken internal
    reference in the hand-written pages still fails a ``-W`` build.
    """
    if _INTERSPHINX:
        return None
    if (
        node.get("refdomain") == "std"
        and node.get("reftype") in {"term", "ref"}
        and node.get("refdoc", "").startswith("generated/")
    ):
        return contnode
    return None


def _public_names():
    """``module.name`` for every name the package exports."""
    import sklearn_pmm
    import sklearn_pmm.datasets

    names = []
    for module in (sklearn_pmm, sklearn_pmm.datasets):
        for name in getattr(module, "__all__", ()):
            if not name.startswith("_"):
                names.append((module.__name__, name))
    return names


_RST_EXPLICIT_MARKUP = re.compile(r"\.\.(\s|$)")
_RST_NOT_A_COMMENT = re.compile(r"\.\. ([\w:-]+::|_|\||\[)")


def _strip_rst_comments(text):
    """``text`` without its RST comments (``..`` blocks that are not markup)."""
    kept = []
    in_comment = False
    for line in text.splitlines():
        if in_comment and (not line.strip() or line[:1].isspace()):
            continue
        in_comment = bool(
            _RST_EXPLICIT_MARKUP.match(line) and not _RST_NOT_A_COMMENT.match(line)
        )
        if not in_comment:
            kept.append(line)
    return "\n".join(kept)


def _documented_names(text):
    """Names listed in autosummary blocks or in data/function/class directives."""
    directive = r"^\.\. (?:py:|auto)?(?:data|function|class):: +([\w.]+)"
    names = set(re.findall(directive, text, re.M))
    # Autosummary entries: indented lines holding one (dotted) name.
    names.update(re.findall(r"^ +~?([\w.]+) *$", text, re.M))
    return {name.rsplit(".", 1)[-1] for name in names}


def _check_api_reference(app):
    """Warn about every exported name that ``api.rst`` does not document.

    With ``-W`` (as in CI) this fails the build, so a new public class or
    function cannot be released without a reference page. Names in RST
    comments (such as the placeholder for an estimator being built) do not
    count.
    """
    text = (Path(app.srcdir) / "api.rst").read_text(encoding="utf-8")
    listed = _documented_names(_strip_rst_comments(text))
    for module, name in _public_names():
        if name not in listed:
            logger.warning(
                "%s.%s is public (in %s.__all__) but has no entry in doc/api.rst; "
                "add it to the matching autosummary block",
                module,
                name,
                module,
            )


def setup(app):
    app.connect("missing-reference", _external_reference_as_text)
    app.connect("builder-inited", _check_api_reference)
