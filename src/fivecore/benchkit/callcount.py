"""Count the SBI requests and subscriber-store calls the core makes, per attach.

    FIVECORE_CALLCOUNT_OUT=/tmp/c.json python -m fivecore.benchkit.callcount up --config FILE

runs ``fivecore`` (here: ``up``) with two counting wrappers installed first: every
:meth:`fivecore.nf.common.client.SbiClient.call` (method + path with the UE and resource ids
folded) and every public :class:`fivecore.store.SubscriberStore` method (count and the calling
thread's CPU time). The totals are written as JSON when the process exits. A diagnostic for
benchmarks (``fivecore bench attach --calls``), not something a deployment runs: the wrappers
cost a little CPU themselves.
"""

from __future__ import annotations

import atexit
import collections
import functools
import json
import os
import re
import runpy
import sys
import time
from typing import Any

STORE_METHODS = ("get", "auth_data", "next_sqn", "cas_sqn", "set_sqn", "put_context", "get_context",
                 "list_context", "delete_context", "effective", "sections", "get_profile", "update", "exists")


def fold(path: str) -> str:
    """A request path with UE identities and resource ids replaced by placeholders."""
    p = path.split("?", 1)[0]
    p = re.sub(r"(imsi|suci|nai|gli|gci)-[^/]+", "{ue}", p)
    return re.sub(r"/[0-9a-fA-F-]{16,}", "/{id}", p)


def install(counts: collections.Counter[str], cpu: collections.Counter[str]) -> None:
    import fivecore.nf.common.client as client
    import fivecore.store.repository as repo

    orig = client.SbiClient.call

    @functools.wraps(orig)
    async def call(self: Any, method: str, path: str, *a: Any, **kw: Any) -> Any:
        counts[f"SBI {method.upper()} {fold(path)}"] += 1
        return await orig(self, method, path, *a, **kw)

    client.SbiClient.call = call  # type: ignore[method-assign]
    for name in STORE_METHODS:
        f = getattr(repo.SubscriberStore, name, None)
        if f is None:
            continue

        def wrap(f: Any, key: str) -> Any:
            @functools.wraps(f)
            def w(self: Any, *a: Any, **kw: Any) -> Any:
                t = time.thread_time()
                try:
                    return f(self, *a, **kw)
                finally:
                    counts[key] += 1
                    cpu[key] += time.thread_time() - t
            return w

        setattr(repo.SubscriberStore, name, wrap(f, f"store {name}"))


#: synchronous functions whose calls and CPU are counted too (``module:qualname``); nested ones
#: count inside their callers as well, so the rows overlap (read them one by one, not summed)
SYNC_TARGETS = (
    "fivecore.wire.ngap.codec:encode", "fivecore.wire.ngap.codec:decode",
    "fivecore.wire.ngap.codec:decode_ie", "fivecore.wire.ngap.codec:encode_ie",
    "fivecore.wire.pfcp.codec:encode", "fivecore.wire.pfcp.codec:decode",
    "fivecore.wire.nas.codec:encode", "fivecore.wire.nas.codec:decode",
    "fivecore.security.nas_context:NasSecurityContext.protect",
    "fivecore.security.nas_context:NasSecurityContext.unprotect",
    "fivecore.transport.sctp.userspace:_RawIO._on_readable",
    "fivecore.transport.sctp.userspace:UserspaceAssociation._service_inner",
    "fivecore.transport.sctp.userspace:_RawIO.transmit",
    "fivecore.nf.amf.ngap_handler:AmfNgap.on_message",
    "fivecore.nf.amf.ngap_handler:AmfNgap.translate",
    "fivecore.nf.amf.app:AmfApp._execute",
    "fivecore.transport.http2.message:Response.json",
    "fivecore.transport.http2.message:Request.json",
    "fivecore.transport.http2.message:Request.model",
    "fivecore.transport.http2.message:Response.model",
    "fivecore.transport.http2.router:Router.match",
    "fivecore.security.suci:deconceal",
    "fivecore.security.milenage:milenage",
    "fivecore.nf.smf.sbi:SmfService.setup_request_transfer",
    "fivecore.nf.smf.gsm:establishment_accept",
    "fivecore.wire.sbi.multipart:decode",
    "fivecore.wire.sbi.multipart:encode",
    "fivecore.nf.amf.gmm:Gmm.sbi_result",
    "fivecore.transport.http2.message:dumps",
)


def install_sync(counts: collections.Counter[str], cpu: collections.Counter[str]) -> None:
    """Wrap :data:`SYNC_TARGETS` (the attribute the callers look up at call time)."""
    import importlib

    for target in SYNC_TARGETS:
        mod_name, qual = target.split(":")
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:
            continue
        owner: Any = mod
        *path, attr = qual.split(".")
        for part in path:
            owner = getattr(owner, part, None)
        if owner is None:
            continue
        f = getattr(owner, attr, None)
        if f is None:
            continue
        key = f"cpu {'.'.join(mod_name.split('.')[-2:])}:{qual}"

        def wrap(f: Any, key: str) -> Any:
            @functools.wraps(f)
            def w(*a: Any, **kw: Any) -> Any:
                t = time.thread_time()
                try:
                    return f(*a, **kw)
                finally:
                    counts[key] += 1
                    cpu[key] += time.thread_time() - t
            return w

        setattr(owner, attr, wrap(f, key))
        if owner is mod:  # re-exported by the package (``from .codec import encode``)
            pkg = importlib.import_module(mod_name.rsplit(".", 1)[0])
            if getattr(pkg, attr, None) is f:
                setattr(pkg, attr, getattr(owner, attr))


def per_attach(doc: dict[str, Any], attaches: int, min_per_attach: float = 0.5) -> list[dict[str, Any]]:
    """Rows ``{"call", "per_attach", "cpu_ms_per_attach"}`` for calls made at least
    ``min_per_attach`` times per attach (NRF heartbeats and the like drop out)."""
    rows = []
    for k, v in doc.get("counts", {}).items():
        if attaches and v / attaches >= min_per_attach:
            c = doc.get("cpu", {}).get(k)
            rows.append({"call": k, "per_attach": round(v / attaches, 2),
                         "cpu_ms_per_attach": round(1000 * c / attaches, 3) if c is not None else None})
    return sorted(rows, key=lambda r: (not r["call"].startswith("store"), -r["per_attach"], r["call"]))


def main() -> None:
    out = os.environ.get("FIVECORE_CALLCOUNT_OUT", "fivecore-calls.json")
    counts: collections.Counter[str] = collections.Counter()
    cpu: collections.Counter[str] = collections.Counter()
    install(counts, cpu)
    if os.environ.get("FIVECORE_CALLCOUNT_SYNC"):
        install_sync(counts, cpu)

    def dump() -> None:
        with open(out, "w") as fh:
            json.dump({"counts": counts, "cpu": cpu}, fh)

    atexit.register(dump)
    sys.argv = ["fivecore", *sys.argv[1:]]
    runpy.run_module("fivecore.cli.main", run_name="__main__")


if __name__ == "__main__":
    main()
