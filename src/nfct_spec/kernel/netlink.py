"""Raw ctnetlink over ``AF_NETLINK``/``NETLINK_NETFILTER`` with the standard library.

Only what the kernel oracle needs is implemented: event listeners with the socket options under
test, parsing of conntrack event messages, and a control socket that flushes, deletes and looks
up conntracks.  Everything is built with :mod:`socket` and :mod:`struct` so the oracle carries no
dependency and every byte it puts on the wire is visible here.

Socket creation binds a socket to the network namespace of the calling thread, so callers create
sockets while inside the namespace under test (see :mod:`nfct_spec.kernel.netns`).
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass

NETLINK_NETFILTER = 12
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
NETLINK_DROP_MEMBERSHIP = 2
NETLINK_BROADCAST_ERROR = 4
NETLINK_NO_ENOBUFS = 5
NETLINK_LISTEN_ALL_NSID = 8

NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400

NFNL_SUBSYS_CTNETLINK = 1
IPCTNL_MSG_CT_NEW = 0
IPCTNL_MSG_CT_GET = 1
IPCTNL_MSG_CT_DELETE = 2
NFNETLINK_V0 = 0

NFNLGRP_CONNTRACK_NEW = 1
NFNLGRP_CONNTRACK_UPDATE = 2
NFNLGRP_CONNTRACK_DESTROY = 3

GROUPS: dict[str, int] = {
    "new": NFNLGRP_CONNTRACK_NEW,
    "update": NFNLGRP_CONNTRACK_UPDATE,
    "destroy": NFNLGRP_CONNTRACK_DESTROY,
}

CTA_TUPLE_ORIG = 1
CTA_STATUS = 3
CTA_PROTOINFO = 4
CTA_ID = 12
CTA_TUPLE_IP = 1
CTA_TUPLE_PROTO = 2
CTA_IP_V4_SRC = 1
CTA_IP_V4_DST = 2
CTA_PROTO_NUM = 1
CTA_PROTO_SRC_PORT = 2
CTA_PROTO_DST_PORT = 3
CTA_PROTOINFO_TCP = 1
CTA_PROTOINFO_TCP_STATE = 1

NLA_F_NESTED = 0x8000
NLA_TYPE_MASK = 0x3FFF

_NLMSGHDR = struct.Struct("=IHHII")
_NFGENMSG = struct.Struct("=BBH")
_NLATTR = struct.Struct("=HH")
_HEADER_LEN = _NLMSGHDR.size + _NFGENMSG.size

PROTOCOLS: dict[int, str] = {socket.IPPROTO_TCP: "tcp", socket.IPPROTO_UDP: "udp"}
PROTOCOL_NUMBERS: dict[str, int] = {name: num for num, name in PROTOCOLS.items()}

STATUS_BITS: tuple[str, ...] = (
    "EXPECTED",
    "SEEN_REPLY",
    "ASSURED",
    "CONFIRMED",
    "SRC_NAT",
    "DST_NAT",
    "SEQ_ADJUST",
    "SRC_NAT_DONE",
    "DST_NAT_DONE",
    "DYING",
    "FIXED_TIMEOUT",
    "TEMPLATE",
    "NAT_CLASH",
    "HELPER",
    "OFFLOAD",
    "HW_OFFLOAD",
)

TCP_STATES: tuple[str, ...] = (
    "NONE",
    "SYN_SENT",
    "SYN_RECV",
    "ESTABLISHED",
    "FIN_WAIT",
    "CLOSE_WAIT",
    "LAST_ACK",
    "TIME_WAIT",
    "CLOSE",
    "SYN_SENT2",
)

COUNT_SYSCTL = "/proc/sys/net/netfilter/nf_conntrack_count"


class NetlinkFormatError(ValueError):
    """A netlink message is shorter or longer than its own headers say."""


@dataclass(frozen=True, slots=True)
class Tuple:
    """An IPv4 original-direction tuple, the key ctnetlink uses to find a conntrack."""

    proto: str
    src: str
    dst: str
    sport: int
    dport: int


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One netlink message: header fields and the payload after ``nlmsghdr``."""

    msg_type: int
    flags: int
    seq: int
    portid: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class CtMessage:
    """A parsed conntrack message (an event, or the answer to a GET).

    ``msg`` follows ``ctnetlink_conntrack_event``: ``IPCTNL_MSG_CT_DELETE`` is a DESTROY,
    ``IPCTNL_MSG_CT_NEW`` with ``NLM_F_CREATE`` is a NEW, any other ``IPCTNL_MSG_CT_NEW`` is an
    UPDATE.  The message type, not the group it came from, says which one it is.
    """

    msg: str
    ctid: int | None
    tuple: Tuple | None
    status: int | None
    tcp_state: str | None


def status_names(status: int) -> list[str]:
    """Name the ``IPS_*`` bits set in a ``CTA_STATUS`` value (unknown bits as ``BIT<n>``)."""
    names = []
    for bit in range(32):
        if status & (1 << bit):
            names.append(STATUS_BITS[bit] if bit < len(STATUS_BITS) else f"BIT{bit}")
    return names


def iter_messages(data: bytes) -> Iterator[RawMessage]:
    """Split one datagram into netlink messages (a datagram may carry several)."""
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, msg_type, flags, seq, portid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size or offset + length > len(data):
            raise NetlinkFormatError(f"bad nlmsg_len {length} at offset {offset}")
        yield RawMessage(
            msg_type, flags, seq, portid, data[offset + _NLMSGHDR.size : offset + length]
        )
        offset += _align(length)


def parse_attrs(data: bytes) -> dict[int, bytes]:
    """Parse a run of netlink attributes into ``{type: payload}`` (flag bits masked off)."""
    attrs: dict[int, bytes] = {}
    offset = 0
    while offset + _NLATTR.size <= len(data):
        length, attr_type = _NLATTR.unpack_from(data, offset)
        if length < _NLATTR.size or offset + length > len(data):
            raise NetlinkFormatError(f"bad nla_len {length} at offset {offset}")
        attrs[attr_type & NLA_TYPE_MASK] = data[offset + _NLATTR.size : offset + length]
        offset += _align(length)
    return attrs


def parse_ct_message(raw: RawMessage) -> CtMessage | None:
    """Parse a ctnetlink conntrack message; ``None`` for anything else (errors, other kinds)."""
    if raw.msg_type >> 8 != NFNL_SUBSYS_CTNETLINK:
        return None
    kind = raw.msg_type & 0xFF
    if kind == IPCTNL_MSG_CT_DELETE:
        msg = "destroy"
    elif kind == IPCTNL_MSG_CT_NEW:
        msg = "new" if raw.flags & NLM_F_CREATE else "update"
    else:
        return None
    if len(raw.payload) < _NFGENMSG.size:
        raise NetlinkFormatError("conntrack message without nfgenmsg")
    attrs = parse_attrs(raw.payload[_NFGENMSG.size :])
    return CtMessage(
        msg=msg,
        ctid=_be32(attrs.get(CTA_ID)),
        tuple=_parse_tuple(attrs[CTA_TUPLE_ORIG]) if CTA_TUPLE_ORIG in attrs else None,
        status=_be32(attrs.get(CTA_STATUS)),
        tcp_state=_parse_tcp_state(attrs.get(CTA_PROTOINFO)),
    )


def parse_datagram(data: bytes) -> list[CtMessage]:
    """All conntrack messages in one received datagram."""
    parsed = (parse_ct_message(raw) for raw in iter_messages(data))
    return [msg for msg in parsed if msg is not None]


def build_request(msg_type: int, flags: int, seq: int, attrs: bytes = b"") -> bytes:
    """A ctnetlink request for IPv4 (``nfgen_family`` AF_INET, version 0, res_id 0)."""
    body = _NFGENMSG.pack(socket.AF_INET, NFNETLINK_V0, 0) + attrs
    header = _NLMSGHDR.pack(_NLMSGHDR.size + len(body), msg_type, flags, seq, 0)
    return header + body


def build_tuple_attr(attr_type: int, tup: Tuple) -> bytes:
    """Encode ``CTA_TUPLE_ORIG`` (or REPLY) as nested IP and protocol attributes."""
    ip = _attr(CTA_IP_V4_SRC, socket.inet_aton(tup.src)) + _attr(
        CTA_IP_V4_DST, socket.inet_aton(tup.dst)
    )
    proto = (
        _attr(CTA_PROTO_NUM, bytes([PROTOCOL_NUMBERS[tup.proto]]))
        + _attr(CTA_PROTO_SRC_PORT, struct.pack("!H", tup.sport))
        + _attr(CTA_PROTO_DST_PORT, struct.pack("!H", tup.dport))
    )
    inner = _attr(CTA_TUPLE_IP | NLA_F_NESTED, ip) + _attr(CTA_TUPLE_PROTO | NLA_F_NESTED, proto)
    return _attr(attr_type | NLA_F_NESTED, inner)


def ctnl_type(kind: int) -> int:
    """The ``nlmsg_type`` of a ctnetlink message kind (subsystem in the high byte)."""
    return (NFNL_SUBSYS_CTNETLINK << 8) | kind


def _attr(attr_type: int, payload: bytes) -> bytes:
    length = _NLATTR.size + len(payload)
    return _NLATTR.pack(length, attr_type) + payload + b"\0" * (_align(length) - length)


def _align(length: int) -> int:
    return (length + 3) & ~3


def _be32(data: bytes | None) -> int | None:
    if data is None or len(data) < 4:
        return None
    value: int = struct.unpack("!I", data[:4])[0]
    return value


def _parse_tuple(data: bytes) -> Tuple | None:
    attrs = parse_attrs(data)
    ip = parse_attrs(attrs.get(CTA_TUPLE_IP, b""))
    proto = parse_attrs(attrs.get(CTA_TUPLE_PROTO, b""))
    if CTA_IP_V4_SRC not in ip or CTA_PROTO_NUM not in proto:
        return None
    num = proto[CTA_PROTO_NUM][0]
    return Tuple(
        proto=PROTOCOLS.get(num, str(num)),
        src=socket.inet_ntoa(ip[CTA_IP_V4_SRC]),
        dst=socket.inet_ntoa(ip.get(CTA_IP_V4_DST, b"\0\0\0\0")),
        sport=_be16(proto.get(CTA_PROTO_SRC_PORT)),
        dport=_be16(proto.get(CTA_PROTO_DST_PORT)),
    )


def _be16(data: bytes | None) -> int:
    if data is None or len(data) < 2:
        return 0
    value: int = struct.unpack("!H", data[:2])[0]
    return value


def _parse_tcp_state(data: bytes | None) -> str | None:
    if data is None:
        return None
    tcp = parse_attrs(data).get(CTA_PROTOINFO_TCP)
    if tcp is None:
        return None
    state = parse_attrs(tcp).get(CTA_PROTOINFO_TCP_STATE)
    if not state:
        return None
    return TCP_STATES[state[0]] if state[0] < len(TCP_STATES) else str(state[0])


@dataclass(frozen=True, slots=True)
class ListenerOptions:
    """The socket options of an event listener, as conntrackd or ulogd2 would set them."""

    groups: tuple[str, ...]
    broadcast_error: bool
    no_enobufs: bool
    rcvbuf: int


class Listener:
    """A ctnetlink event socket subscribed to some of the NEW/UPDATE/DESTROY groups.

    ``NETLINK_BROADCAST_ERROR`` makes ``netlink_broadcast_filtered`` report an overrun of this
    socket back to the sender (``ctnetlink_conntrack_event``), which is what turns a full buffer
    into a failed DESTROY and a redelivery.  ``NETLINK_NO_ENOBUFS`` keeps ``netlink_overrun``
    from marking the socket congested, so one overrun does not block all later messages.
    """

    def __init__(self, name: str, options: ListenerOptions) -> None:
        unknown = set(options.groups) - set(GROUPS)
        if unknown:
            raise ValueError(f"unknown conntrack groups {sorted(unknown)}")
        self.name = name
        self.options = options
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, options.rcvbuf)
            self.sock.setsockopt(SOL_NETLINK, NETLINK_BROADCAST_ERROR, int(options.broadcast_error))
            self.sock.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, int(options.no_enobufs))
            self.sock.bind((0, 0))
            for group in options.groups:
                self.sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, GROUPS[group])
            self.sock.setblocking(False)
        except BaseException:
            self.sock.close()
            raise

    @property
    def rcvbuf_effective(self) -> int:
        """The buffer size the kernel actually uses (``sock_setsockopt`` doubles and clamps it)."""
        value: int = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        return value

    def fileno(self) -> int:
        return self.sock.fileno()

    def recv(self) -> list[CtMessage] | None:
        """Read one datagram without blocking; ``None`` if the queue is empty.

        An overrun socket without ``NETLINK_NO_ENOBUFS`` reports ``ENOBUFS`` here once (the
        error set by ``netlink_overrun``); it is raised as :class:`OSError` for the caller to
        record.
        """
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return None
        return parse_datagram(data)

    def listen_all_nsid(self) -> None:
        """NETLINK_LISTEN_ALL_NSID: also receive the broadcasts of other namespaces, those that
        have a namespace id in this socket's (netlink_broadcast_filtered() skips the rest)."""
        self.sock.setsockopt(SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, 1)

    def set_broadcast_error(self, enabled: bool) -> None:
        self.sock.setsockopt(SOL_NETLINK, NETLINK_BROADCAST_ERROR, int(enabled))

    def leave_group(self, group: str) -> None:
        self.sock.setsockopt(SOL_NETLINK, NETLINK_DROP_MEMBERSHIP, GROUPS[group])

    def close(self) -> None:
        self.sock.close()


class CtnlError(OSError):
    """A ctnetlink request was answered with an error code."""


class CtnlClient:
    """A control socket (no group membership) for requests answered with an ACK.

    Deletions sent here do not ask for an echo (no ``NLM_F_ECHO``), so the only copies of the
    resulting DESTROY events are the multicast ones that the listeners under test receive.
    """

    def __init__(self, timeout: float = 2.0) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.bind((0, 0))
        self.sock.settimeout(timeout)
        self._seq = 0

    def flush(self) -> None:
        """Delete every IPv4 conntrack: ``IPCTNL_MSG_CT_DELETE`` without a tuple.

        ``ctnetlink_del_conntrack`` then calls ``ctnetlink_flush_conntrack``, which walks the
        hash table and deletes each entry with ``nf_ct_delete``.
        """
        self._request(ctnl_type(IPCTNL_MSG_CT_DELETE), b"")

    def delete(self, tup: Tuple) -> str:
        """Delete one conntrack by its original tuple; the errno name, or ``"ok"``."""
        try:
            self._request(ctnl_type(IPCTNL_MSG_CT_DELETE), build_tuple_attr(CTA_TUPLE_ORIG, tup))
        except CtnlError as exc:
            return errno.errorcode.get(exc.errno or 0, str(exc.errno))
        return "ok"

    def get(self, tup: Tuple) -> CtMessage | None:
        """Look a conntrack up by tuple (``ctnetlink_get_conntrack``); ``None`` if absent."""
        try:
            replies = self._request(
                ctnl_type(IPCTNL_MSG_CT_GET), build_tuple_attr(CTA_TUPLE_ORIG, tup)
            )
        except CtnlError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise
        for raw in replies:
            parsed = parse_ct_message(raw)
            if parsed is not None:
                return parsed
        return None

    def dump(self) -> list[CtMessage]:
        """List the table (``ctnetlink_dump_table``).

        Besides listing, the dump deletes the expired entries it walks over, which makes expiry
        happen now instead of whenever the garbage collector next visits them.
        """
        replies = self._request(ctnl_type(IPCTNL_MSG_CT_GET), b"", NLM_F_REQUEST | NLM_F_DUMP)
        parsed = (parse_ct_message(raw) for raw in replies)
        return [msg for msg in parsed if msg is not None]

    def close(self) -> None:
        self.sock.close()

    def _request(
        self, msg_type: int, attrs: bytes, flags: int = NLM_F_REQUEST | NLM_F_ACK
    ) -> list[RawMessage]:
        self._seq += 1
        seq = self._seq
        self.sock.send(build_request(msg_type, flags, seq, attrs))
        replies: list[RawMessage] = []
        while True:
            for raw in iter_messages(self.sock.recv(65536)):
                if raw.seq != seq:
                    continue
                if raw.msg_type == NLMSG_ERROR:
                    code = struct.unpack_from("=i", raw.payload)[0]
                    if code:
                        raise CtnlError(-code, os.strerror(-code))
                    return replies
                if raw.msg_type == NLMSG_DONE:
                    return replies
                replies.append(raw)


class CountReader:
    """Reads ``nf_conntrack_count`` of the namespace that was current when it was opened.

    The sysctl file is bound to its namespace at open time, so one descriptor keeps reading the
    namespace under test wherever the caller is later.  The value is ``net->ct.count``: every
    allocated conntrack, including those waiting on the redelivery list.
    """

    def __init__(self) -> None:
        self.fd = os.open(COUNT_SYSCTL, os.O_RDONLY | os.O_CLOEXEC)

    def read(self) -> int:
        return int(os.pread(self.fd, 64, 0))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
