"""The router's one-lookup-per-shape matching finds what a segment-by-segment search does.

The reference below is the search the router used before: a trie of segments walked with
literal segments tried before ``{name}`` ones, backtracking on dead ends. Random route tables
and paths (hypothesis) must get the same route, the same path parameters, or the same 404/405.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fivecore.transport.http2 import HttpError, Request, Response, Router
from fivecore.transport.http2.message import path_segment


def _reference(routes: list[tuple[str, str]], method: str, path: str,
               segs: list[str] | None = None) -> tuple[Any, ...]:
    """(index of the route, params) or ("error", status) by a backtracking segment search.

    ``segs`` are the path's segments already percent-decoded (RFC 3986 §3.3): the search then
    runs on them, and a segment holding '/' never equals a static route's path."""
    if segs is not None:
        parts = [p for p in segs if p]
        path = "\x00" if any("/" in p for p in segs) else "/".join(segs)
    else:
        parts = [p for p in path.split("/") if p]
    static = {}
    dynamic = []
    for i, (m, p) in enumerate(routes):
        segs = tuple(s for s in p.split("/") if s)
        if any(s.startswith("{") for s in segs):
            dynamic.append((i, m, segs))
        else:
            static[("/" + "/".join(segs), m)] = i  # a static route added again replaces
    key = path.rstrip("/") or "/"
    for k in ((path, method), (key, method)):
        if k in static:
            return static[k], {}

    def _walk_group(group: list, depth: int):  # noqa: ANN202
        if depth == len(parts):
            if group:
                yield group
            return
        lit = [g for g in group if g[2][depth] == parts[depth] and not g[2][depth].startswith("{")]
        if lit:
            yield from _walk_group(lit, depth + 1)
        var = [g for g in group if g[2][depth].startswith("{")]
        if var:
            yield from _walk_group(var, depth + 1)

    known = any(k == key and m != method for (k, m) in static)
    for leaf in _walk_group([d for d in dynamic if len(d[2]) == len(parts)], 0):
        by_method = {}
        for i, m, segs in leaf:
            by_method.setdefault(m, (i, segs))
        if method in by_method:
            i, segs = by_method[method]
            return i, {s[1:-1]: parts[j] for j, s in enumerate(segs) if s.startswith("{")}
        known = True
    return ("error", 405 if known else 404)


def _answer(i: int) -> Any:
    return lambda req: Response(200, str(i).encode())


SEGS = st.sampled_from(["a", "b", "c", "{x}", "{y}"])
ROUTE = st.tuples(st.sampled_from(["GET", "PUT"]),
                  st.lists(SEGS, min_size=1, max_size=4).map(lambda s: "/" + "/".join(s)))
PATH = st.lists(st.sampled_from(["a", "b", "c", "d", ""]), min_size=0, max_size=5).map(
    lambda s: "/" + "/".join(s))


def _names_consistent(path: str) -> bool:
    names = [s for s in path.split("/") if s.startswith("{")]
    return len(names) == len(set(names))


@settings(max_examples=400, deadline=None)
@given(st.lists(ROUTE, min_size=1, max_size=8), st.sampled_from(["GET", "PUT"]), PATH)
def test_shape_lookup_matches_a_segment_search(routes: list[tuple[str, str]], method: str, path: str) -> None:
    routes = [r for r in routes if _names_consistent(r[1])]
    r = Router()
    for i, (m, p) in enumerate(routes):
        r.add(m, p, _answer(i))
    want = _reference(routes, method, path)
    try:
        route, params = r.match(method, path)
    except HttpError as exc:
        assert want == ("error", exc.status)
        return
    assert want[0] != "error", (routes, method, path)
    got = route.handler(Request(method, path)).body.decode()
    assert (int(got), params) == want, (routes, method, path)


#: decoded segments: literals of the routes, other text, and text holding '/', '?', '%'
DECODED = st.sampled_from(["a", "b", "c", "d", "", "a/b", "/", "a?b", "%", "%2F", "é", "{x}"])


def _encode(seg: str, how: int) -> str:
    """``seg`` as a client may send it: minimally encoded, or every octet as %XX."""
    if how == 0:
        return path_segment(seg)
    return "".join(f"%{o:02X}" for o in seg.encode())


@settings(max_examples=400, deadline=None)
@given(st.lists(ROUTE, min_size=1, max_size=8), st.sampled_from(["GET", "PUT"]),
       st.lists(st.tuples(DECODED, st.integers(0, 1)), min_size=0, max_size=5))
def test_shape_lookup_on_encoded_segments_matches_a_segment_search(
        routes: list[tuple[str, str]], method: str, segs: list[tuple[str, int]]) -> None:
    """The raw path is split first and each segment decoded: the result is the segment search
    on the decoded segments, a decoded '/' staying inside its segment."""
    routes = [r for r in routes if _names_consistent(r[1])]
    r = Router()
    for i, (m, p) in enumerate(routes):
        r.add(m, p, _answer(i))
    raw = "/" + "/".join(_encode(seg, how) for seg, how in segs)
    want = _reference(routes, method, raw, ["", *(seg for seg, _ in segs)])
    try:
        route, params = r.match(method, raw)
    except HttpError as exc:
        assert want == ("error", exc.status), (routes, method, raw)
        return
    assert want[0] != "error", (routes, method, raw)
    got = route.handler(Request(method, raw)).body.decode()
    assert (int(got), params) == want, (routes, method, raw)


def test_literal_segments_win_over_names_and_405_for_other_methods() -> None:
    r = Router()
    r.add("GET", "/svc/{ueId}/am-data", lambda req: Response(200, b"var"))
    r.add("GET", "/svc/subs-to-notify/am-data", lambda req: Response(200, b"lit"))
    r.add("PUT", "/svc/{ueId}/{plmn}", lambda req: Response(200, b"two"))
    assert r.match("GET", "/svc/subs-to-notify/am-data")[0].handler(Request("GET", "/")).body == b"lit"
    route, params = r.match("GET", "/svc/imsi-1/am-data")
    assert params == {"ueId": "imsi-1"}
    route, params = r.match("PUT", "/svc/subs-to-notify/am-data")  # backtracks to the names
    assert params == {"ueId": "subs-to-notify", "plmn": "am-data"}
    with pytest.raises(HttpError) as e:
        r.match("DELETE", "/svc/imsi-1/am-data")
    assert e.value.status == 405
    with pytest.raises(HttpError) as e:
        r.match("GET", "/svc/imsi-1/am-data/extra")
    assert e.value.status == 404
