"""A small path router: ``/nudm-ueau/v1/{supiOrSuci}/security-information/generate-auth-data``.

Routes are matched segment by segment; a ``{name}`` segment captures one path segment. A handler
is either a plain function (run inline, no task: the fast path for cheap lookups such as NRF
discovery) or a coroutine function. Any exception other than :class:`HttpError` becomes a 500
ProblemDetails and a log line, never a dropped connection.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .message import HttpError, Request, Response

log = logging.getLogger("fivecore.sbi")

Handler = Callable[[Request], "Response | Awaitable[Response]"]


@dataclass(slots=True)
class Route:
    method: str
    parts: tuple[str, ...]
    handler: Handler
    is_async: bool
    #: (segment index, name) of every ``{name}`` segment
    params: tuple[tuple[int, str], ...] = ()

    def __post_init__(self) -> None:
        self.params = tuple((i, p[1:-1]) for i, p in enumerate(self.parts) if p.startswith("{"))

    def bind(self, segments: list[str]) -> dict[str, str]:
        return {name: segments[i] for i, name in self.params}


class _Node:
    """One path segment of the dynamic routes: literal children, one ``{name}`` child, and the
    routes (by method) that end here."""

    __slots__ = ("lit", "var", "routes")

    def __init__(self) -> None:
        self.lit: dict[str, _Node] = {}
        self.var: _Node | None = None
        self.routes: dict[str, Route] = {}


def _leaves(node: _Node, parts: list[str], i: int) -> Iterator[_Node]:
    """Nodes where ``parts`` ends, literal segments tried before ``{name}`` ones."""
    if i == len(parts):
        if node.routes:
            yield node
        return
    child = node.lit.get(parts[i])
    if child is not None:
        yield from _leaves(child, parts, i + 1)
    if node.var is not None:
        yield from _leaves(node.var, parts, i + 1)


class Router:
    """Method + path dispatch; the same object serves HTTP/2, HTTP/1.1 and in-process calls."""

    def __init__(self, name: str = "sbi") -> None:
        self.name = name
        self._static: dict[tuple[str, str], Route] = {}
        #: routes with ``{name}`` segments, in the order added (:meth:`mount` copies them)
        self._dynamic: list[Route] = []
        self._tree = _Node()

    def add(self, method: str, path: str, handler: Handler) -> None:
        parts = tuple(p for p in path.split("/") if p)
        route = Route(method.upper(), parts, handler, inspect.iscoroutinefunction(handler))
        if any(p.startswith("{") for p in parts):
            self._dynamic.append(route)
            node = self._tree
            for p in parts:
                if p.startswith("{"):
                    node.var = node.var or _Node()
                    node = node.var
                else:
                    node = node.lit.setdefault(p, _Node())
            node.routes.setdefault(route.method, route)
        else:
            self._static[(route.method, "/" + "/".join(parts))] = route

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`add`."""

        def deco(fn: Handler) -> Handler:
            self.add(method, path, fn)
            return fn

        return deco

    def mount(self, other: Router) -> None:
        """Add every route of ``other`` (one NF process serving several services)."""
        for r in other._static.values():
            self.add(r.method, "/" + "/".join(r.parts), r.handler)
        for r in other._dynamic:
            self.add(r.method, "/" + "/".join(r.parts), r.handler)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """Find the route; 404 for an unknown path, 405 for a known path with another method."""
        route = self._static.get((method, path))
        if route is not None:
            return route, {}
        key_path = path.rstrip("/") or "/"
        route = self._static.get((method, key_path))
        if route is not None:
            return route, {}
        trimmed = path.strip("/")
        parts = trimmed.split("/") if trimmed and "//" not in trimmed else [p for p in trimmed.split("/") if p]
        # the usual case: following literal segments first (a variable where none matches)
        # reaches the route; only an unusual path needs the backtracking search below
        node: _Node | None = self._tree
        for seg in parts:
            node = node.lit.get(seg) or node.var  # type: ignore[union-attr]
            if node is None:
                break
        else:
            cand = node.routes.get(method)
            if cand is not None:
                return cand, cand.bind(parts)
        path_known = False
        for leaf in _leaves(self._tree, parts, 0):
            cand = leaf.routes.get(method)
            if cand is not None:
                return cand, cand.bind(parts)
            path_known = True
        if not path_known:
            for (m, p) in self._static:
                if p == key_path and m != method:
                    path_known = True
                    break
        if path_known:
            raise HttpError(405, None, f"method {method} not allowed on {path}")
        raise HttpError(404, "RESOURCE_URI_STRUCTURE_NOT_FOUND", f"no resource at {path}")

    async def dispatch(self, req: Request) -> Response:
        """Run the handler for ``req``; always returns a Response (errors become ProblemDetails)."""
        try:
            route, params = self.match(req.method, req.path)
            req.path_params = params
            result: Any = route.handler(req)
            if route.is_async:
                result = await result
            return result
        except HttpError as exc:
            return exc.to_response()
        except Exception:  # a bug must not take the NF down: answer 500 and log it
            log.exception("sbi handler failed method=%s path=%s", req.method, req.path)
            return HttpError(500, "SYSTEM_FAILURE", "internal error").to_response()

    def dispatch_sync(self, req: Request) -> Response | None:
        """Run a plain-function handler inline; None when the route needs the event loop."""
        try:
            route, params = self.match(req.method, req.path)
            if route.is_async:
                return None
            req.path_params = params
            return route.handler(req)  # type: ignore[return-value]
        except HttpError as exc:
            return exc.to_response()
        except Exception:
            log.exception("sbi handler failed method=%s path=%s", req.method, req.path)
            return HttpError(500, "SYSTEM_FAILURE", "internal error").to_response()
