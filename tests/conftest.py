"""Root of the test tree: its presence is what makes the shared helper modules beside it
(``tests/tsharkjson.py``, ...) importable from ``tests/unit``, ``tests/conformance`` and
``tests/e2e`` alike.

``tests/`` is not a package (no ``__init__.py`` anywhere below it, see
``tests/unit/test_test_layout.py``), so pytest's default ``prepend`` import mode inserts this
file's directory at the front of ``sys.path`` when it loads this conftest, and it loads it
before collecting any test module below it: for ``pytest`` from the repo root (``make test``),
for a single folder and for a single file alike.
"""
