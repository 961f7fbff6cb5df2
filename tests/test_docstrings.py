"""Every docstring example in the installed package runs and gives what it shows."""

import doctest
import importlib
import pkgutil

import pytest

import longtail

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(longtail.__path__, prefix="longtail.")
    if m.name not in {"longtail.__main__"}
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
