"""The JSON info API, like Open5GS's (``/gnb-info`` and ``/ue-info`` on the AMF, ``/pdu-info`` on
the SMF), served by :class:`fivecore.obs.metrics.MetricsServer` on the metrics port.

An NF registers a provider per path — a callable returning the list of items (plain dicts) —
and the API pages them as Open5GS does: ``?page=N`` (from 0) and ``?page_size=M`` (default and
maximum 100); ``page=-1`` returns everything. The answer is::

    {"items": [...], "pager": {"page": 0, "page_size": 100, "count": 3, "total": 3}}

Items carry no permanent identity by default: a provider should mask SUPIs with
:func:`fivecore.obs.logging.mask_supi` unless the operator asked for them (``metrics.info_supi``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("fivecore.obs.info")

PATHS = ("gnb-info", "ue-info", "pdu-info")
MAX_PAGE_SIZE = 100

Provider = Callable[[], list[dict[str, Any]]]


class InfoApi:
    """Providers by path (see module docstring)."""

    def __init__(self) -> None:
        self._providers: dict[str, list[Provider]] = {}

    def register(self, path: str, provider: Provider) -> None:
        """Add a provider for ``path`` (several providers' items are concatenated)."""
        path = path.strip("/")
        if not path or "/" in path:
            raise ValueError(f"invalid info path {path!r}")
        self._providers.setdefault(path, []).append(provider)

    def paths(self) -> list[str]:
        return sorted(self._providers)

    def items(self, path: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for p in self._providers.get(path.strip("/"), []):
            try:
                out.extend(p())
            except Exception:  # a broken provider must not break the others
                log.exception("event=info_provider_failed path=%s", path)
        return out

    def render(self, path: str, query: dict[str, str] | None = None) -> dict[str, Any]:
        """One page of ``path``; ValueError on a bad ``page``/``page_size``."""
        query = query or {}
        try:
            page = int(query.get("page", "0"))
            size = int(query.get("page_size", str(MAX_PAGE_SIZE)))
        except ValueError:
            raise ValueError("page and page_size must be integers") from None
        if page < -1 or size < 1:
            raise ValueError("page must be >= -1 and page_size >= 1")
        size = min(size, MAX_PAGE_SIZE)
        items = self.items(path)
        total = len(items)
        if page >= 0:
            items = items[page * size:(page + 1) * size]
        return {"items": items, "pager": {"page": page, "page_size": size if page >= 0 else total,
                                          "count": len(items), "total": total}}
