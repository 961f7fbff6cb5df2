"""Sphinx configuration of the longtail documentation.

Build: ``pip install ".[docs]" && sphinx-build -W -b html docs docs/_build/html``
(``-W``: every warning is an error, as in CI).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import longtail

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))

project = "longtail"
author = "the longtail developers"
copyright = "2026, the longtail developers"
release = longtail.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
root_doc = "index"

# One page per public name, generated from the lists in api/*.rst.
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "inherited-members": False, "show-inheritance": False}
autodoc_typehints = "signature"
autodoc_member_order = "bysource"
add_module_names = False
# Docstrings use ``x`` for code and keep their doctest examples as they run.
default_role = "code"

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "torch": ("https://pytorch.org/docs/stable", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
}
# No network in CI: intersphinx inventories are optional (missing ones are not warnings
# when the cache is empty because we do not reference them by role).
intersphinx_disabled_reftypes = ["*"]
if os.environ.get("LONGTAIL_DOCS_OFFLINE", "1") == "1":
    intersphinx_mapping = {}

html_theme = "pydata_sphinx_theme"
html_title = f"longtail {release}"
html_static_path = ["_static"]
html_css_files = ["longtail.css"]
html_theme_options = {
    "navigation_depth": 3,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
}

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "show_memory": False,
    "min_reported_time": 10**6,
    "backreferences_dir": None,
}

# numpy-style "Parameters" and Google-style "Args:" / "Returns" / "Raises" sections in docstrings.
napoleon_google_docstring = True
napoleon_numpy_docstring = True
napoleon_use_rtype = False

# Guide pages have no sub-pages: no empty left sidebar, more room for their tables.
html_sidebars = {"guide/*": [], "index": []}
