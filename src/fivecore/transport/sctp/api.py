"""Backend-independent asyncio objects: association, server, messages and events."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from .association import AssociationClosedError
from .packet import SctpError

log = logging.getLogger("fivecore.transport.sctp")

NGAP_PPID = 60  # TS 38.412 §7


class SctpConnectError(SctpError, ConnectionError):
    """The association could not be established (INIT/COOKIE timeout, ABORT, refused)."""


class Message(NamedTuple):
    """One received user message; unpacks as ``stream, ppid, data``."""

    stream: int
    ppid: int
    data: bytes


class SctpEvent(NamedTuple):
    """Association notification: ``kind`` is "up", "restarted", "lost" or "closed"."""

    kind: str
    reason: str = ""


EventHandler = Callable[["SctpAssociation", SctpEvent], Any]


class SctpAssociation:
    """One SCTP association, whatever the backend. See the package docstring for the contract."""

    backend = "abstract"

    def __init__(self, local_address: tuple[str, int], peer_address: tuple[str, int]) -> None:
        self.local_address = local_address
        self.peer_address = peer_address
        self.out_streams = 0
        self.in_streams = 0
        self.events: asyncio.Queue[SctpEvent] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._rx: deque[Message] = deque()
        self._rx_waiter: asyncio.Future[None] | None = None
        self._tx_waiters: list[asyncio.Future[None]] = []
        self._handlers: list[EventHandler] = []
        self._handler: Callable[[Message], Any] | None = None
        self._closed = False
        self._close_reason = ""
        self._closed_fut: asyncio.Future[None] = self._loop.create_future()

    # --- user API ---------------------------------------------------------------------

    @property
    def stats(self) -> Counter[str]:
        return Counter()

    @property
    def paths(self) -> list[dict[str, Any]]:
        """RFC 9260 §8.2 path states of a multi-homed association (userspace backend; empty
        where the backend does not say)."""
        return []

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def close_reason(self) -> str:
        return self._close_reason

    def add_event_handler(self, handler: EventHandler) -> None:
        """Call ``handler(assoc, event)`` on up/restarted/lost/closed (coroutines become tasks)."""
        self._handlers.append(handler)

    def send_nowait(self, data: bytes, stream: int = 0, ppid: int = NGAP_PPID, unordered: bool = False) -> None:
        """Queue one message now (no back-pressure). Raises AssociationClosedError when closed."""
        raise NotImplementedError

    async def send(self, data: bytes, stream: int = 0, ppid: int = NGAP_PPID, unordered: bool = False) -> None:
        """Queue one message, waiting while more than ``send_buffer`` bytes are unacknowledged."""
        while self._send_blocked() and not self._closed:
            fut = self._loop.create_future()
            self._tx_waiters.append(fut)
            await fut
        self.send_nowait(data, stream, ppid, unordered)

    async def recv(self) -> Message:
        """Next message ``(stream, ppid, data)``; raises AssociationClosedError once closed and drained."""
        while not self._rx:
            if self._closed:
                raise AssociationClosedError(self._close_reason or "association closed")
            fut = self._loop.create_future()
            self._rx_waiter = fut
            try:
                await fut
            finally:
                self._rx_waiter = None
        msg = self._rx.popleft()
        self._consumed(len(msg.data))
        return msg

    def __aiter__(self) -> SctpAssociation:
        return self

    async def __anext__(self) -> Message:
        try:
            return await self.recv()
        except AssociationClosedError:
            raise StopAsyncIteration from None

    def close(self) -> None:
        """Graceful SHUTDOWN (RFC 9260 §9.2) after queued data is delivered."""
        raise NotImplementedError

    def abort(self, reason: str = "") -> None:
        """ABORT the association at once (RFC 9260 §9.1)."""
        raise NotImplementedError

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed_fut)

    async def probe(self, timeout: float, retransmissions: int | None = None) -> bool:
        """RFC 9260 §8.3 / §11.1 REQUESTHEARTBEAT: is the peer still there?

        A HEARTBEAT goes out now; one unanswered for an RTO is retransmitted with the RTO
        doubled (§6.3.3 E2, up to RTO.Max), at most ``retransmissions`` times (None:
        Path.Max.Retrans, §16 default 5). True as soon as the peer answers one of them;
        False once all went unanswered, after ``timeout`` seconds in all (the caller's bound
        on the whole series, whichever comes first), or when the association closes.

        The kernel backend cannot ask the kernel for this and always answers True while the
        association is open (the kernel's own heartbeats end a dead one, §8.3 / §8.1); that
        is this default implementation.
        """
        return not self._closed

    # --- for backends -------------------------------------------------------------------

    def _send_blocked(self) -> bool:
        return False

    def _consumed(self, nbytes: int) -> None:
        pass

    def set_message_handler(self, handler: Callable[[Message], Any] | None) -> None:
        """Deliver messages by calling ``handler(msg)`` instead of queueing them for recv().

        Saves one event-loop iteration per message; the handler must not block (it may call
        ``send_nowait``). Messages already queued are handed over at once.
        """
        self._handler = handler
        if handler is not None:
            while self._rx:
                msg = self._rx.popleft()
                handler(msg)
                self._consumed(len(msg.data))

    def _deliver(self, msg: Message) -> None:
        h = self._handler
        if h is not None:
            try:
                h(msg)
            except Exception:
                log.exception("sctp message handler failed; aborting the association")
                self.abort("message handler failed")
            self._consumed(len(msg.data))
            return
        self._rx.append(msg)
        w = self._rx_waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _wake_writers(self) -> None:
        ws = self._tx_waiters
        if ws:
            self._tx_waiters = []
            for f in ws:
                if not f.done():
                    f.set_result(None)

    def _emit(self, event: SctpEvent) -> None:
        self.events.put_nowait(event)
        for h in list(self._handlers):
            try:
                r = h(self, event)
                if inspect.isawaitable(r):
                    asyncio.ensure_future(r)
            except Exception:
                log.exception("sctp event handler failed event=%s", event.kind)

    def _set_closed(self, reason: str, kind: str) -> None:
        if self._closed:
            return
        self._closed = True
        self._close_reason = reason
        log.info("sctp association %s peer=%s:%d reason=%s", kind, *self.peer_address, reason)
        self._emit(SctpEvent(kind, reason))
        if not self._closed_fut.done():
            self._closed_fut.set_result(None)
        w = self._rx_waiter
        if w is not None and not w.done():
            w.set_result(None)
        self._wake_writers()

    def __repr__(self) -> str:
        la, pa = self.local_address, self.peer_address
        return f"<{type(self).__name__} {la[0]}:{la[1]} -> {pa[0]}:{pa[1]} closed={self._closed}>"


class SctpServer:
    """A listening endpoint: ``await accept()``, ``async for assoc in server`` or a callback."""

    backend = "abstract"

    def __init__(
        self,
        sockname: tuple[str, int],
        on_association: Callable[[SctpAssociation], Awaitable[Any] | Any] | None = None,
    ) -> None:
        self.sockname = sockname
        self.associations: set[SctpAssociation] = set()
        self._on_association = on_association
        self._accept_q: asyncio.Queue[SctpAssociation | None] = asyncio.Queue()
        self._closed = False
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def stats(self) -> Counter[str]:
        return Counter()

    def _incoming(self, assoc: SctpAssociation) -> None:
        self.associations.add(assoc)
        assoc.add_event_handler(self._forget_on_close)
        if self._on_association is not None:
            try:
                r = self._on_association(assoc)
                if inspect.isawaitable(r):
                    t = asyncio.ensure_future(r)
                    self._tasks.add(t)
                    t.add_done_callback(self._tasks.discard)
            except Exception:
                log.exception("sctp on_association callback failed")
        else:
            self._accept_q.put_nowait(assoc)

    def _forget_on_close(self, assoc: SctpAssociation, ev: SctpEvent) -> None:
        if ev.kind in ("lost", "closed"):
            self.associations.discard(assoc)

    async def accept(self) -> SctpAssociation:
        """Next new association (RFC 9260 §5.1: after COOKIE ECHO). Raises SctpError once closed."""
        if self._closed and self._accept_q.empty():
            raise SctpError("server closed")
        a = await self._accept_q.get()
        if a is None:
            self._accept_q.put_nowait(None)
            raise SctpError("server closed")
        return a

    def __aiter__(self) -> SctpServer:
        return self

    async def __anext__(self) -> SctpAssociation:
        try:
            return await self.accept()
        except SctpError:
            raise StopAsyncIteration from None

    def close(self, abort_associations: bool = False) -> None:
        """Stop accepting; optionally ABORT the current associations."""
        if self._closed:
            return
        self._closed = True
        self._accept_q.put_nowait(None)
        if abort_associations:
            for a in list(self.associations):
                a.abort("server closed")
        self._close_impl()

    def _close_impl(self) -> None:
        pass

    async def wait_closed(self) -> None:
        for a in list(self.associations):
            await a.wait_closed()

    async def __aenter__(self) -> SctpServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close(abort_associations=True)
