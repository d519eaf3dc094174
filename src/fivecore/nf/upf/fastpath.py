"""Learned request shapes: the SMF's Session Establishment / Modification without a decode.

An SMF sends every PDU session the same two requests (TS 29.244 §7.5.2 Session Establishment,
§7.5.4 Session Modification pointing the downlink FAR at the gNB's tunnel). Between sessions
they differ only in a few values that sit in fixed places: the sequence number, the SEID in
the header, the CP F-SEID (§8.2.37), the UE IP Address of each PDR (§8.2.62), an explicit
F-TEID (§8.2.3) and the Outer Header Creation of a FAR (§8.2.56). Everything else — PDRs,
FARs, QERs, URRs, interfaces, network instance, QoS — is the same octets every time.

The first such request of a shape goes the generic way (decode, IEs -> rule model). From the
decoded message this module then makes an :class:`~fivecore.wire.template.OctetTemplate`
with the generic *encoder* as the reference (the request re-encoded with other values at
those leaves), keeps it only if it reproduces the received octets exactly, and remembers the
rule model the generic path made of it (:class:`~fivecore.nf.upf.procedures.SessionChanges`,
before any procedure touched it). A later request whose constant octets equal the template's
is the same message with other values in the places: its rules are a copy of the remembered
ones with those values written in — what decoding it would have produced, at a fraction of
the cost. Anything else (another shape, a malformed message, a retransmission) takes the
generic path, so the answers to bad input are exactly the generic ones.

Responses are written into encoder-verified templates the same way (:class:`ResponseTemplates`).
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from fivecore.nf.upf import procedures as P
from fivecore.nf.upf.context import Far, Pdr, Qer, Urr
from fivecore.wire import pfcp
from fivecore.wire.pfcp import Ies, PfcpMessage
from fivecore.wire.template import OctetTemplate, octet_template

MSG_ESTABLISHMENT = 50
MSG_MODIFICATION = 52
#: shapes kept per (length, message type); a new one pushes the oldest out
SHAPES_PER_KEY = 8
#: learning costs a few encodes: at most this many attempts in a burst, then one per
#: LEARN_EVERY generic requests (a stream of one-off shapes must not triple their cost);
#: every attempt that gives no shape doubles the interval, up to LEARN_EVERY_MAX
LEARN_BURST = 8
LEARN_EVERY = 16
LEARN_EVERY_MAX = 4096

_N = pfcp.IE_NAMES
_T_CREATE_PDR, _T_CREATE_FAR, _T_UPDATE_FAR = _N["create_pdr"], _N["create_far"], _N["update_far"]
_T_PDI, _T_FTEID, _T_UEIP = _N["pdi"], _N["f_teid"], _N["ue_ip_address"]
_T_FP, _T_UFP, _T_OHC = (_N["forwarding_parameters"], _N["update_forwarding_parameters"],
                         _N["outer_header_creation"])
_T_FSEID = _N["f_seid"]

_inet_ntoa = socket.inet_ntoa
_from_bytes = int.from_bytes

_PDR_FIELDS = tuple(f.name for f in dataclasses.fields(Pdr))
_FAR_FIELDS = tuple(f.name for f in dataclasses.fields(Far))
_QER_FIELDS = tuple(f.name for f in dataclasses.fields(Qer))
_URR_SLOTS = Urr.__slots__


def _first(ies: Ies, t: int) -> int | None:
    """Index of the first item of type ``t`` (the one the rule model reads, as ``_view``)."""
    for i, (k, _) in enumerate(ies.items):
        if k == t:
            return i
    return None


def _with(ies: Ies, path: tuple[int, ...], leaf: Any) -> Ies:
    """A copy of ``ies`` with the item at ``path`` (item indices, outermost first) replaced."""
    items = list(ies.items)
    i = path[0]
    t, old = items[i]
    items[i] = (t, leaf if len(path) == 1 else _with(old, path[1:], leaf))
    out = Ies()
    out.items = items
    return out


def _at(ies: Ies, path: tuple[int, ...]) -> Any:
    v: Any = ies
    for i in path:
        v = v.items[i][1]
    return v


@dataclasses.dataclass(slots=True)
class _Leaf:
    """One per-session value in the request: where it is and what rule field it feeds."""

    path: tuple[int, ...]
    kind: str  # "fseid" | "ueip" | "fteid" | "ohc_create" | "ohc_update"
    index: int  # which create_pdrs / create_fars / update_fars entry it feeds
    names: tuple[str, ...]  # template field names


class RequestShape:
    """One learned request shape: its constant octets, its value places and its rules."""

    __slots__ = ("msg_type", "segments", "places", "leaves", "node_key", "header_seid",
                 "pdrs", "fars", "qers", "urrs", "updates", "removes", "query_urrs",
                 "query_all_urrs", "send_end_marker", "has_fseid", "lean", "_consts",
                 "_get_consts", "_names", "_get_values", "_repeated", "_plain_far_updates")

    def __init__(self, msg_type: int, template: OctetTemplate, leaves: list[_Leaf],
                 proto: P.SessionChanges, node_key: str | None, header_seid: bool,
                 has_fseid: bool) -> None:
        self.msg_type = msg_type
        segs = []
        pos = 0
        parts = template.parts
        for (off, width, _), part in zip(template.places, parts, strict=False):
            if part:
                segs.append((pos, off, part))
            pos = off + width
        if parts[-1]:
            segs.append((pos, pos + len(parts[-1]), parts[-1]))
        #: (start, end, octets) that must equal the received message
        self.segments = tuple(segs)
        #: field name -> (offset, width); a field in several places must agree in all
        places: dict[str, list[tuple[int, int]]] = {}
        for off, width, name in template.places:
            places.setdefault(name, []).append((off, width))
        self.places = {n: tuple(p) for n, p in places.items()}
        # one C call each: the constant octets as a tuple, and the values' octets (an empty
        # slice at the end keeps itemgetter's result a tuple even for one item)
        self._consts = (*[part for _, _, part in segs], b"")
        self._get_consts = itemgetter(*[slice(a, b) for a, b, _ in segs], slice(0, 0))
        self._names = tuple(self.places)
        self._get_values = itemgetter(*[slice(p[0][0], p[0][0] + p[0][1])
                                        for p in self.places.values()], slice(0, 0))
        self._repeated = any(len(p) > 1 for p in self.places.values())
        self.leaves = tuple(leaves)
        self.node_key = node_key
        self.header_seid = header_seid
        self.has_fseid = has_fseid
        # the rules as plain constructor arguments: a copy per request is one call each
        self.pdrs = tuple(tuple(getattr(p, f) for f in _PDR_FIELDS) for p in proto.create_pdrs)
        self.fars = tuple(tuple(getattr(f, n) for n in _FAR_FIELDS) for f in proto.create_fars)
        self.qers = tuple(tuple(getattr(q, n) for n in _QER_FIELDS) for q in proto.create_qers)
        self.urrs = tuple((u.urr_id, u.start_time, u.measurement_method, u.reporting_triggers,
                           u.threshold_total, u.threshold_ul, u.threshold_dl)
                          for u in proto.create_urrs)
        self.updates = (tuple(proto.update_pdrs), tuple(proto.update_fars),
                        tuple(proto.update_qers), tuple(proto.update_urrs))
        self.removes = (tuple(proto.remove_pdrs), tuple(proto.remove_fars),
                        tuple(proto.remove_qers), tuple(proto.remove_urrs))
        self.query_urrs = tuple(proto.query_urrs)
        self.query_all_urrs = proto.query_all_urrs
        self.send_end_marker = frozenset(proto.send_end_marker)
        #: the rules need none of the generic checks (see :meth:`ShapeBook._lean`)
        self.lean = False
        self._plain_far_updates = not any(type(v) is list for _, d in proto.update_fars
                                          for v in d.values())

    def match(self, data: bytes) -> dict[str, bytes] | None:
        """The octets of each value when ``data`` is this shape, else None."""
        if self._get_consts(data) != self._consts:
            return None
        if self._repeated:
            for places in self.places.values():
                off, width = places[0]
                raw = data[off:off + width]
                for off2, width2 in places[1:]:
                    if data[off2:off2 + width2] != raw:
                        return None
        return dict(zip(self._names, self._get_values(data), strict=False))  # the b"" is left

    def rules(self, raw: dict[str, bytes]) -> tuple[list[Pdr], list[Far], list[Qer], list[Urr],
                                                    int, str]:
        """The created rules of a matched request (fresh objects), its CP SEID and F-SEID
        address (0 and "" for a modification)."""
        pdrs = []
        for a in self.pdrs:
            p = Pdr(*a)
            p.qer_ids = list(p.qer_ids)
            p.urr_ids = list(p.urr_ids)
            p.sdf_filters = list(p.sdf_filters)
            pdrs.append(p)
        fars = [Far(*a) for a in self.fars]
        qers = [Qer(*a) for a in self.qers]
        urrs = []
        for urr_id, start, method, triggers, total, ul, dl in self.urrs:
            # as the generic conversion makes it: counters at zero, not armed
            u = Urr(urr_id, start)
            u.measurement_method = method
            u.reporting_triggers = triggers
            u.threshold_total, u.threshold_ul, u.threshold_dl = total, ul, dl
            urrs.append(u)
        cp_seid, cp_ip = 0, ""
        for leaf in self.leaves:
            kind = leaf.kind
            if kind == "ueip":
                pdrs[leaf.index].ue_ipv4 = _from_bytes(raw[leaf.names[0]], "big")
            elif kind == "fteid":
                p = pdrs[leaf.index]
                p.teid = _from_bytes(raw[leaf.names[0]], "big")
                p.local_ipv4 = _inet_ntoa(raw[leaf.names[1]])
            elif kind == "ohc_create":
                f = fars[leaf.index]
                f.ohc_teid = _from_bytes(raw[leaf.names[0]], "big")
                f.ohc_ipv4 = _inet_ntoa(raw[leaf.names[1]])
            elif kind == "fseid":
                cp_seid = _from_bytes(raw[leaf.names[0]], "big")
                cp_ip = _inet_ntoa(raw[leaf.names[1]])
        return pdrs, fars, qers, urrs, cp_seid, cp_ip

    def far_updates(self, raw: dict[str, bytes]) -> list[tuple[int, dict[str, Any]]]:
        """The Update FARs of a matched request, as the generic conversion makes them."""
        if self._plain_far_updates:
            ups = [(i, dict(d)) for i, d in self.updates[1]]
        else:
            ups = [(i, _copy_update(d)) for i, d in self.updates[1]]
        for leaf in self.leaves:
            if leaf.kind == "ohc_update":
                d = ups[leaf.index][1]
                d["ohc_teid"] = _from_bytes(raw[leaf.names[0]], "big")
                d["ohc_ipv4"] = _inet_ntoa(raw[leaf.names[1]])
        return ups

    def changes(self, raw: dict[str, bytes]) -> tuple[P.SessionChanges, int, str]:
        """The whole SessionChanges of a matched request, its CP SEID and F-SEID address.

        The procedures only read a SessionChanges, so the kinds of change the shape does not
        carry share one empty tuple instead of a new list each."""
        pdrs, fars, qers, urrs, cp_seid, cp_ip = self.rules(raw)
        ch = _new(P.SessionChanges)
        ch.__dict__ = dict(_NO_CHANGES)
        ch.create_pdrs, ch.create_fars, ch.create_qers, ch.create_urrs = pdrs, fars, qers, urrs
        up, uf, uq, uu = self.updates
        if up:
            ch.update_pdrs = [(i, _copy_update(d)) for i, d in up]
        if uf:
            ch.update_fars = self.far_updates(raw)
        if uq:
            ch.update_qers = [(i, dict(d)) for i, d in uq]
        if uu:
            ch.update_urrs = [(i, dict(d)) for i, d in uu]
        rp, rf, rq, ru = self.removes
        if rp or rf or rq or ru:
            ch.remove_pdrs, ch.remove_fars = list(rp), list(rf)
            ch.remove_qers, ch.remove_urrs = list(rq), list(ru)
        if self.query_urrs:
            ch.query_urrs = list(self.query_urrs)
        ch.query_all_urrs = self.query_all_urrs
        if self.send_end_marker:
            ch.send_end_marker = set(self.send_end_marker)
        return ch, cp_seid, cp_ip


def _copy_update(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if type(v) is list else v) for k, v in d.items()}


_new = object.__new__
_NO_CHANGES: dict[str, Any] = {
    f.name: () for f in dataclasses.fields(P.SessionChanges)
    if f.name not in ("query_all_urrs", "send_end_marker")}
_NO_CHANGES["query_all_urrs"] = False
_NO_CHANGES["send_end_marker"] = frozenset()


def same_changes(a: P.SessionChanges, b: P.SessionChanges) -> bool:
    """Equal rules (URRs compared by their fields: the class has no ``__eq__``; a sequence
    or set compared by its items, whatever its type)."""
    ua = [tuple(getattr(u, n) for n in _URR_SLOTS) for u in a.create_urrs]
    ub = [tuple(getattr(u, n) for n in _URR_SLOTS) for u in b.create_urrs]
    if ua != ub or a.query_all_urrs != b.query_all_urrs:
        return False
    if set(a.send_end_marker) != set(b.send_end_marker):
        return False
    return all(list(getattr(a, f.name)) == list(getattr(b, f.name))
               for f in dataclasses.fields(P.SessionChanges)
               if f.name not in ("create_urrs", "query_all_urrs", "send_end_marker"))


class ShapeBook:
    """The learned request shapes of one UPF, found by (length, message type)."""

    def __init__(self, changes_of: Callable[[Ies, bool], P.SessionChanges]) -> None:
        #: the generic IEs -> rules conversion (PfcpNode._changes), the reference
        self._changes_of = changes_of
        self.shapes: dict[tuple[int, int], list[RequestShape]] = {}
        self._tokens = LEARN_BURST
        self._misses = 0
        self._every = LEARN_EVERY
        #: shapes learned and requests answered from one, for tests and diagnostics
        self.learned = 0
        self.hits = 0

    def find(self, data: bytes) -> tuple[RequestShape, dict[str, bytes]] | None:
        if len(data) < 16:
            return None
        shapes = self.shapes.get((len(data), data[1]))
        if shapes is None:
            return None
        for shape in shapes:
            raw = shape.match(data)
            if raw is not None:
                self.hits += 1
                return shape, raw
        return None

    def consider(self, msg: PfcpMessage, data: bytes) -> None:
        """After the generic path handled ``msg``: learn its shape when the budget allows."""
        self._misses += 1
        if self._misses >= self._every:
            self._misses = 0
            self._tokens = min(LEARN_BURST, self._tokens + 1)
        if self._tokens <= 0:
            return
        self._tokens -= 1
        try:
            shape = self._learn(msg, data)
        except Exception:  # learning is an optimisation: any surprise means "not this shape"
            shape = None
        if shape is None:
            self._every = min(LEARN_EVERY_MAX, 2 * self._every)
            return
        self._every = LEARN_EVERY
        lst = self.shapes.setdefault((len(data), data[1]), [])
        if len(lst) >= SHAPES_PER_KEY:
            del lst[0]
        lst.append(shape)
        self.learned += 1

    def _learn(self, msg: PfcpMessage, data: bytes) -> RequestShape | None:
        code = data[1]
        ies = msg.ies
        est = code == MSG_ESTABLISHMENT
        if not est and code != MSG_MODIFICATION:
            return None
        node_key = None
        leaves: list[_Leaf] = []
        fields: dict[str, tuple[str, int]] = {"seq": ("int", 3)}
        has_fseid = False
        if est:
            node = ies.get("node_id")
            fseid = ies.get("f_seid")
            # the preconditions the generic handler checks before it converts the rules
            if (node is None or type(fseid) is not pfcp.FSeid or not fseid.ipv4
                    or not ies.all("create_pdr") or not ies.all("create_far")):
                return None
            node_key = node.value
            i = _first(ies, _T_FSEID)
            assert i is not None
            leaves.append(_Leaf((i,), "fseid", 0, ("cp_seid", "cp_ip")))
            fields["cp_seid"] = ("int", 8)
            fields["cp_ip"] = ("ipv4", 4)
        else:
            if ies.get("f_seid") is not None:
                return None  # a CP F-SEID change is rare: the generic path handles it
            fields["seid"] = ("int", 8)
        proto = self._changes_of(ies, est)
        k_pdr = k_far = k_upd = 0
        for i, (t, g) in enumerate(ies.items):
            if type(g) is not Ies:
                continue
            if t == _T_CREATE_PDR:
                j = _first(g, _T_PDI)
                pdi = g.items[j][1] if j is not None else None
                if type(pdi) is Ies:
                    u = _first(pdi, _T_UEIP)
                    if u is not None:
                        ue = pdi.items[u][1]
                        if type(ue) is pfcp.UeIpAddress and ue.ipv6:
                            # an IPv6 prefix is no template field: each session's would sit
                            # in the constant octets and the shape never match another
                            return None
                        if type(ue) is pfcp.UeIpAddress and ue.ipv4:
                            name = f"ue{k_pdr}"
                            leaves.append(_Leaf((i, j, u), "ueip", k_pdr, (name,)))
                            fields[name] = ("ipv4", 4)
                    f = _first(pdi, _T_FTEID)
                    if f is not None:
                        ft = pdi.items[f][1]
                        if type(ft) is pfcp.FTeid and not ft.ch and ft.ipv4:
                            names = (f"teid{k_pdr}", f"lip{k_pdr}")
                            leaves.append(_Leaf((i, j, f), "fteid", k_pdr, names))
                            fields[names[0]] = ("int", 4)
                            fields[names[1]] = ("ipv4", 4)
                k_pdr += 1
            elif t == _T_CREATE_FAR:
                self._ohc_leaf(g, (i,), _first(g, _T_FP), "ohc_create", k_far, leaves, fields)
                k_far += 1
            elif t == _T_UPDATE_FAR and not est:
                # as the generic path: Update Forwarding Parameters, or (when absent or
                # empty) Forwarding Parameters
                j = _first(g, _T_UFP)
                if j is None or not g.items[j][1]:
                    j = _first(g, _T_FP)
                self._ohc_leaf(g, (i,), j, "ohc_update", k_upd, leaves, fields)
                k_upd += 1
        if (len(proto.create_pdrs) != k_pdr or len(proto.create_fars) != k_far
                or (not est and len(proto.update_fars) != k_upd)):
            return None
        header_seid = not est

        def build(v: dict[str, Any]) -> bytes:
            root = ies
            for leaf in leaves:
                old = _at(root, leaf.path)
                if leaf.kind == "fseid":
                    new: Any = pfcp.FSeid(v["cp_seid"], v["cp_ip"], old.ipv6)
                elif leaf.kind == "ueip":
                    new = dataclasses.replace(old, ipv4=v[leaf.names[0]])
                elif leaf.kind == "fteid":
                    new = dataclasses.replace(old, teid=v[leaf.names[0]], ipv4=v[leaf.names[1]])
                else:
                    new = dataclasses.replace(old, teid=v[leaf.names[0]], ipv4=v[leaf.names[1]])
                root = _with(root, leaf.path, new)
            seid = v["seid"] if header_seid else msg.seid
            return pfcp.encode(PfcpMessage(msg.msg_type, v["seq"], seid, root, msg.priority))

        template = octet_template(build, fields)
        if template is None:
            return None
        shape = RequestShape(code, template, leaves, proto, node_key, header_seid, has_fseid)
        # the template must give back exactly the octets received, and the copy of the
        # rules made from them must equal what the generic conversion made
        raw = shape.match(data)
        if raw is None or template.fill(_values(shape, raw, fields)) != data:
            return None
        copy, cp_seid, cp_ip = shape.changes(raw)
        if not same_changes(copy, proto):
            return None
        if est and (cp_seid, cp_ip) != (ies.get("f_seid").seid, ies.get("f_seid").ipv4):
            return None
        shape.lean = self._lean(shape, raw)
        return shape

    @staticmethod
    def _lean(shape: RequestShape, raw: dict[str, bytes]) -> bool:
        """Whether requests of ``shape`` may skip the rule checks of the generic procedure
        (:func:`~fivecore.nf.upf.procedures.establish_checked`, ``modify_fars``).

        An establishment's rules refer only to each other, so whether every PDR's FAR, QERs
        and URRs exist is the same for every request of the shape: checked here once, on a
        copy, against an empty context. A modification qualifies when it only updates FARs.
        """
        ch = shape.changes(raw)[0]
        if shape.msg_type == MSG_ESTABLISHMENT:
            from fivecore.nf.upf.context import Session, UpfContext

            try:
                P._apply_changes(UpfContext("0.0.0.0"), Session(1, 0, "0.0.0.0", ""), ch, 0.0)
            except P.ProcedureError:
                return False
            return True
        return bool(ch.update_fars) and not (
            ch.create_pdrs or ch.create_fars or ch.create_qers or ch.create_urrs
            or ch.update_pdrs or ch.update_qers or ch.update_urrs or ch.remove_pdrs
            or ch.remove_fars or ch.remove_qers or ch.remove_urrs or ch.query_urrs
            or ch.query_all_urrs)

    @staticmethod
    def _ohc_leaf(g: Ies, path: tuple[int, ...], j: int | None, kind: str, k: int,
                  leaves: list[_Leaf], fields: dict[str, tuple[str, int]]) -> None:
        if j is None:
            return
        fp = g.items[j][1]
        if type(fp) is not Ies:
            return
        o = _first(fp, _T_OHC)
        if o is None:
            return
        ohc = fp.items[o][1]
        # GTP-U/UDP/IPv4 only (what the UPF accepts); any other description stays constant
        if (type(ohc) is pfcp.OuterHeaderCreation and ohc.description == pfcp.OHC_GTPU_UDP_IPV4
                and ohc.ipv4):
            names = (f"{kind}_teid{k}", f"{kind}_ip{k}")
            leaves.append(_Leaf(path + (j, o), kind, k, names))
            fields[names[0]] = ("int", 4)
            fields[names[1]] = ("ipv4", 4)


def _values(shape: RequestShape, raw: dict[str, bytes],
            fields: dict[str, tuple[str, int]]) -> dict[str, Any]:
    return {n: (_inet_ntoa(raw[n]) if fields[n][0] == "ipv4" else _from_bytes(raw[n], "big"))
            for n in fields}


class _Joiner:
    """Writes values into an :class:`OctetTemplate` whose every field has one place: the
    octets between the places are kept as a list, so a response is one ``bytes.join``."""

    __slots__ = ("head", "steps")

    def __init__(self, t: OctetTemplate, names: tuple[str, ...]) -> None:
        parts = t.parts
        self.head = parts[0]
        self.steps = tuple((names.index(n), p) for (_, _, n), p in zip(t.places, parts[1:],
                                                                          strict=True))

    def __call__(self, values: tuple[bytes, ...]) -> bytes:
        out = [self.head]
        for i, part in self.steps:
            out.append(values[i])
            out.append(part)
        return b"".join(out)


def _joiner(t: OctetTemplate | None, names: tuple[str, ...]) -> _Joiner | None:
    if t is None or len(t.places) != len(names):
        return None  # no template, or a field in several places: use the encoder
    return _Joiner(t, names)


class ResponseTemplates:
    """Session Establishment / Modification Responses (TS 29.244 §7.5.3, §7.5.5) from
    encoder-verified octet templates (:mod:`fivecore.wire.template`); None when a response
    has no template (then use the encoder)."""

    def __init__(self) -> None:
        self._est: dict[tuple[Any, ...], _Joiner | None] = {}
        self._mod: _Joiner | None | bool = False

    def establishment(self, seq: int, cp_seid: int, node_id: pfcp.NodeId, up_seid: int,
                      created: list[P.CreatedPdr]) -> bytes | None:
        key = (node_id, *[(c.pdr_id, c.ipv4) for c in created])
        j = self._est.get(key, _NONE)
        if j is _NONE:
            if len(self._est) >= 64:
                self._est.clear()
            j = self._est[key] = self._establishment_template(node_id, key[1:])
        if j is None:
            return None
        try:
            return j((seq.to_bytes(3, "big"), cp_seid.to_bytes(8, "big"),
                      up_seid.to_bytes(8, "big"), *[c.teid.to_bytes(4, "big") for c in created]))
        except (OverflowError, AttributeError):
            return None

    def _establishment_template(self, node_id: pfcp.NodeId,
                                shape: tuple[tuple[int, str], ...]) -> _Joiner | None:
        fields: dict[str, tuple[str, int]] = {"seq": ("int", 3), "seid": ("int", 8),
                                              "up": ("int", 8)}
        for i in range(len(shape)):
            fields[f"t{i}"] = ("int", 4)

        def build(v: dict[str, Any]) -> bytes:
            return pfcp.encode(establishment_response(
                v["seq"], v["seid"], node_id, v["up"],
                [P.CreatedPdr(pid, v[f"t{i}"], ip) for i, (pid, ip) in enumerate(shape)]))

        return _joiner(octet_template(build, fields), tuple(fields))

    def modification(self, seq: int, cp_seid: int) -> bytes | None:
        """The plain accept: no Created PDR, no usage report."""
        j = self._mod
        if j is False:
            j = self._mod = _joiner(octet_template(
                lambda v: pfcp.encode(modification_response(v["seq"], v["seid"])),
                {"seq": ("int", 3), "seid": ("int", 8)}), ("seq", "seid"))
        if not isinstance(j, _Joiner):
            return None
        try:
            return j((seq.to_bytes(3, "big"), cp_seid.to_bytes(8, "big")))
        except OverflowError:
            return None


_NONE: Any = object()


def establishment_response(seq: int, cp_seid: int, node_id: pfcp.NodeId, up_seid: int,
                           created: list[P.CreatedPdr]) -> PfcpMessage:
    """TS 29.244 §7.5.3 — Session Establishment Response, request accepted."""
    return PfcpMessage.build(
        "SessionEstablishmentResponse", seq=seq, seid=cp_seid, node_id=node_id,
        cause=P.CAUSE_ACCEPTED, f_seid=pfcp.FSeid(up_seid, node_id.value),
        created_pdr=[Ies(pdr_id=c.pdr_id, f_teid=pfcp.FTeid(c.teid, c.ipv4)) for c in created])


def modification_response(seq: int, cp_seid: int, created: list[P.CreatedPdr] | None = None,
                          usage: list[Ies] | None = None) -> PfcpMessage:
    """TS 29.244 §7.5.5 — Session Modification Response, request accepted."""
    return PfcpMessage.build(
        "SessionModificationResponse", seq=seq, seid=cp_seid, cause=P.CAUSE_ACCEPTED,
        created_pdr=[Ies(pdr_id=c.pdr_id, f_teid=pfcp.FTeid(c.teid, c.ipv4))
                     for c in created or ()],
        usage_report_modification=usage or [])
