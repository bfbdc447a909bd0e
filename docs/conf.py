"""Sphinx configuration for skae's documentation.

Build with ``bash tools/docs.sh`` (warnings are errors). The gallery runs every
``examples/plot_*.py`` script on each build.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import skae  # noqa: E402

# The gallery fits small models, for which one thread is about as fast as
# several, and far faster on a busy machine, where waiting threads spin and
# slow each other down. This limits PyTorch and the BLAS and OpenMP pools of
# NumPy, SciPy and scikit-learn; set OMP_NUM_THREADS to use more.
N_THREADS = int(os.environ.get("OMP_NUM_THREADS", "1"))
torch.set_num_threads(N_THREADS)
threadpool_limits(N_THREADS)

# -- Project -----------------------------------------------------------------

project = "skae"
author = "skae developers"
copyright = "skae developers"
version = release = skae.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    # MathJax from the sphinx-mathjax-offline package (the docs extra), copied
    # into _build/html/_static/mathjax: the pages render maths without a CDN.
    "sphinx-mathjax-offline",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    # Markdown, for the pages that include CHANGELOG.md and BENCHMARKS.md.
    "myst_parser",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb"]
default_role = "literal"

# -- API reference -----------------------------------------------------------

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
# The class template lists the methods itself; numpydoc should not add a second table.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- Cross-references to other projects ---------------------------------------
#
# Intersphinx inventories are downloaded at build time, which this build must
# not need: it runs offline (CI and development machines only reach package
# registries). Links to scikit-learn, PyTorch and NumPy are therefore opt-in:
#
#     SKAE_DOCS_INTERSPHINX=1 bash tools/docs.sh
#
# Without it, references such as :class:`sklearn.decomposition.PCA` render as
# plain code (no warning: the build is not nitpicky).

intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
if os.environ.get("SKAE_DOCS_INTERSPHINX", "0") not in ("", "0"):
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable/", None),
        "sklearn": ("https://scikit-learn.org/stable/", None),
        "torch": ("https://docs.pytorch.org/docs/stable/", None),
    }

# -- Gallery -----------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("skae",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"skae": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "capture_repr": ("_repr_html_", "__repr__"),
    "image_scrapers": ("matplotlib",),
    # An example that raises fails the build.
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
}

# The examples draw off-screen.
os.environ.setdefault("MPLBACKEND", "Agg")

# -- HTML --------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skae {release}"
html_static_path = ["_static"]
# Layout fixes: long API names wrap instead of being clipped, and the header
# keeps one row at 1024 px (see the file).
html_css_files = ["skae.css"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    # Benchmarks and Changelog go under "More": with all six links the header
    # takes two rows at 1024 px (docs/_static/skae.css also narrows the search
    # field there).
    "header_links_before_dropdown": 4,
}
# The benchmark results and the changelog are pages without sub-pages, whose
# section navigation would be empty: their wide tables get its width instead.
html_sidebars = {"**": ["sidebar-nav-bs"], "benchmarks": [], "changelog": []}
html_show_sourcelink = False
# "On this page" lists a class's methods as fit(), not
# AdversarialAutoencoderTransformer.fit(), which would not fit the sidebar.
toc_object_entries_show_parents = "hide"


# -- skae.datasets, when present ----------------------------------------------
#
# skae.datasets is newer than the estimators; its section of the API page is
# added only when the module exists, so that the build works either way.

HAS_DATASETS = importlib.util.find_spec("skae.datasets") is not None

DATASETS_SECTION = """

Data sets
---------

.. automodule:: skae.datasets
   :no-members:
   :no-index:

.. currentmodule:: skae.datasets

.. autosummary::
   :nosignatures:

{names}

{functions}
"""


def _datasets_section() -> str:
    import skae.datasets as datasets

    names = [n for n in datasets.__all__ if callable(getattr(datasets, n))]
    table = "\n".join(f"   {n}" for n in names)
    functions = "\n\n".join(f".. autofunction:: skae.datasets.{n}" for n in names)
    return DATASETS_SECTION.format(names=table, functions=functions)


def _add_datasets(app, docname, source):
    if docname == "api" and HAS_DATASETS:
        source[0] += _datasets_section()


# -- Labels in docstrings inherited from scikit-learn ---------------------------
#
# set_output and get_metadata_routing come from scikit-learn, and their
# docstrings link to labels of scikit-learn's own documentation. With
# intersphinx off those cannot resolve: show the link text instead of failing.


def _sklearn_labels(app, env, node, contnode):
    source = node.source or ""
    if node.get("refdomain") == "std" and "docstring of sklearn." in source:
        return contnode
    return None


# -- Trailing underscores in parameter types ------------------------------------
#
# numpydoc writes a parameter's type as reStructuredText, where a word ending in
# an underscore is a link: "ndarray of shape (n_features_in_,)" would fail.
# Escape such words on numpydoc's field lines ("**name** : type").

_FIELD = re.compile(r"^(\s*\*\*.+?\*\* : )(.*)$")
_TRAILING_UNDERSCORE = re.compile(r"(?<![\w`\\])([A-Za-z]\w*?)_(?=[\s,.;:)\]]|$)")


def _escape_types(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        match = _FIELD.match(line)
        if match:
            lines[i] = match[1] + _TRAILING_UNDERSCORE.sub(r"\1\\_", match[2])


def setup(app):
    # sphinx-mathjax-offline 0.0.2 only sets mathjax_path and copies MathJax
    # when the build has finished, but does not say it is safe for parallel
    # reading: `tools/docs.sh -j auto` would warn, which -W makes an error.
    app.extensions["sphinx-mathjax-offline"].parallel_read_safe = True
    app.connect("source-read", _add_datasets)
    # After numpydoc (priority 500), which writes the field lines.
    app.connect("autodoc-process-docstring", _escape_types, priority=900)
    # After intersphinx (priority 500), which resolves them when it is on.
    app.connect("missing-reference", _sklearn_labels, priority=900)
