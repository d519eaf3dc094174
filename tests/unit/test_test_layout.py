"""The test tree has no packages (no ``__init__.py``), so pytest imports every test file by its
basename: two files with one basename anywhere under ``tests/`` stop the whole run at
collection. Checked here so a clash shows as one failing test with the names."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_test_file_basenames_are_unique() -> None:
    seen: dict[str, list[str]] = defaultdict(list)
    for f in TESTS.rglob("*.py"):
        if "__pycache__" not in f.parts:
            seen[f.name].append(str(f.relative_to(TESTS)))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1 and name != "conftest.py"}
    assert clashes == {}
