"""The documentation covers the public API: every name in a public module's ``__all__``
has an API reference page, every reference page is reachable, and the gallery holds
runnable examples. (CI builds the site itself with ``sphinx-build -W``.)"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# Every public module and the reference page that lists its names.
PUBLIC = {
    "longtail": "package",
    "longtail.samplers": "samplers",
    "longtail.datasets": "datasets",
    "longtail.metrics": "metrics",
    "longtail.metrics.streaming": "metrics.streaming",
    "longtail.metrics.detection": "metrics.detection",
    "longtail.cluster": "cluster",
    "longtail.losses": "losses",
    "longtail.select": "select",
    "longtail.noise": "noise",
}
NOT_PAGES = {"__version__", "streaming", "detection"}  # a constant and submodules


def _listed(page: str) -> list[str]:
    """Names in the ``autosummary`` blocks of ``docs/api/<page>.rst``."""
    text = (DOCS / "api" / f"{page}.rst").read_text()
    names, inside = [], False
    for line in text.splitlines():
        if line.startswith(".. autosummary::"):
            inside = True
        elif inside and line and not line.startswith(" "):
            inside = False
        elif inside and re.match(r"^   [A-Za-z_]\w*$", line):
            names.append(line.strip())
    return names


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_every_public_name_has_a_reference_page(module):
    mod = importlib.import_module(module)
    want = [n for n in mod.__all__ if n not in NOT_PAGES]
    listed = _listed(PUBLIC[module])
    # A name re-exported from another public module is documented on that module's page.
    elsewhere = {
        n for n in want
        if getattr(getattr(mod, n), "__module__", module) in PUBLIC
        and getattr(mod, n).__module__ != module
        and n in _listed(PUBLIC[getattr(mod, n).__module__])
    }
    want = [n for n in want if n not in elsewhere]
    missing = sorted(set(want) - set(listed))
    assert not missing, f"docs/api/{PUBLIC[module]}.rst lacks {missing}"
    extra = sorted(set(listed) - set(want))
    assert not extra, f"docs/api/{PUBLIC[module]}.rst lists names not in __all__: {extra}"


def test_every_reference_page_is_in_the_index():
    index = (DOCS / "api" / "index.md").read_text()
    for page in PUBLIC.values():
        assert re.search(rf"^{re.escape(page)}$", index, re.M), f"api/index.md lacks {page}"


def test_every_guide_page_is_in_the_toctree():
    index = (DOCS / "index.md").read_text()
    for page in sorted((DOCS / "guide").glob("*.md")):
        assert f"guide/{page.stem}" in index, f"index.md does not link guide/{page.name}"


def test_gallery_has_at_least_five_examples_with_titles():
    scripts = sorted(EXAMPLES.glob("plot_*.py"))
    assert len(scripts) >= 5, [s.name for s in scripts]
    for s in scripts:
        doc = ast.get_docstring(ast.parse(s.read_text()))
        assert doc and "\n===" in doc, f"{s.name}: needs a docstring with a title"
