"""RFC 6902 JSON Patch (add, remove, replace, move, copy, test) with RFC 6901 pointers.

Used for PATCH on NFProfile (TS 29.510 §5.2.2.3), SDM subscriptions and UDR data (TS 29.504),
whose bodies are ``PatchItem`` arrays (TS 29.571 §5.2.4.?). Errors are :class:`PatchError`.
"""

from __future__ import annotations

import copy
from typing import Any

_SCALARS = (str, int, float, bool, type(None))


def _clone(value: Any) -> Any:
    """A deep copy of a JSON document (dicts, lists, scalars): several times cheaper than
    :func:`copy.deepcopy`, which is kept for anything else a caller may have put in."""
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value if isinstance(value, _SCALARS) else copy.deepcopy(value)


class PatchError(ValueError):
    """The patch cannot be applied (bad pointer, failed test, unknown op)."""


class PatchTestFailed(PatchError):
    """A ``test`` operation did not match (RFC 6902 §4.6)."""


def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not isinstance(pointer, str) or not pointer.startswith("/"):
        raise PatchError(f"bad JSON pointer {pointer!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _parent(doc: Any, tokens: list[str]) -> tuple[Any, str]:
    if not tokens:
        raise PatchError("the whole document cannot be the target")
    cur = doc
    for t in tokens[:-1]:
        cur = _child(cur, t)
    return cur, tokens[-1]


def _child(cur: Any, t: str) -> Any:
    if isinstance(cur, dict):
        if t not in cur:
            raise PatchError(f"no member {t!r}")
        return cur[t]
    if isinstance(cur, list):
        i = _index(cur, t, allow_end=False)
        return cur[i]
    raise PatchError(f"cannot descend into {type(cur).__name__}")


def _index(lst: list[Any], t: str, allow_end: bool) -> int:
    if t == "-" and allow_end:
        return len(lst)
    if not t.isdigit() or (len(t) > 1 and t[0] == "0"):
        raise PatchError(f"bad array index {t!r}")
    i = int(t)
    if i > len(lst) or (i == len(lst) and not allow_end):
        raise PatchError(f"array index {i} out of range")
    return i


def get(doc: Any, pointer: str) -> Any:
    cur = doc
    for t in _tokens(pointer):
        cur = _child(cur, t)
    return cur


def _add(doc: Any, pointer: str, value: Any) -> None:
    parent, last = _parent(doc, _tokens(pointer))
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, allow_end=True), value)
    else:
        raise PatchError(f"cannot add into {type(parent).__name__}")


def _remove(doc: Any, pointer: str) -> Any:
    parent, last = _parent(doc, _tokens(pointer))
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"no member {last!r}")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, allow_end=False))
    raise PatchError(f"cannot remove from {type(parent).__name__}")


def apply_patch(doc: Any, ops: Any) -> Any:
    """Return a patched deep copy of ``doc``; the original is untouched (all-or-nothing)."""
    if not isinstance(ops, list):
        raise PatchError("a JSON Patch is an array of operations")
    out = _clone(doc)
    for op in ops:
        if not isinstance(op, dict) or not isinstance(op.get("op"), str) or not isinstance(op.get("path"), str):
            raise PatchError("each operation needs string members op and path")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"{kind} needs a value")
        if kind == "add":
            _add(out, path, _clone(op["value"]))
        elif kind == "remove":
            _remove(out, path)
        elif kind == "replace":
            _remove(out, path)
            _add(out, path, _clone(op["value"]))
        elif kind == "move":
            value = _remove(out, _from(op))
            _add(out, path, value)
        elif kind == "copy":
            _add(out, path, _clone(get(out, _from(op))))
        elif kind == "test":
            if get(out, path) != op["value"]:
                raise PatchTestFailed(f"test failed at {path}")
        else:
            raise PatchError(f"unknown op {kind!r}")
    return out


def _from(op: dict[str, Any]) -> str:
    f = op.get("from")
    if not isinstance(f, str):
        raise PatchError(f"{op['op']} needs a string 'from'")
    return f
