"""``pytest --nbval-lax book/...``: nbval with the tolerances each checked cell declares.

The plugin lives beside the other notebook tools (``tests/nbval_tolerance.py``).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from nbval_tolerance import pytest_collection_modifyitems, pytest_configure  # noqa: E402,F401

# not collected as modules under --doctest-modules: this file (tests/conftest.py shares its module
# name) and the figure scripts, which compute their figures when imported
collect_ignore = ["conftest.py", "figures"]
