"""Parsing and building ctnetlink messages, checked against hand-assembled bytes (no kernel)."""

from __future__ import annotations

import socket
import struct

import pytest

from nfct_spec.kernel import netlink
from nfct_spec.kernel.netlink import NetlinkFormatError, Tuple

pytestmark = pytest.mark.kernel

NESTED = 0x8000


def attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def tuple_attr(src: str, dst: str, proto: int, sport: int, dport: int) -> bytes:
    ip = attr(1, socket.inet_aton(src)) + attr(2, socket.inet_aton(dst))
    ports = attr(1, bytes([proto])) + attr(2, struct.pack("!H", sport))
    ports += attr(3, struct.pack("!H", dport))
    return attr(1 | NESTED, attr(1 | NESTED, ip) + attr(2 | NESTED, ports))


def message(kind: int, flags: int, attrs: bytes, seq: int = 0) -> bytes:
    body = struct.pack("=BBH", socket.AF_INET, 0, 0) + attrs
    return struct.pack("=IHHII", 16 + len(body), (1 << 8) | kind, flags, seq, 0) + body


def ct_attrs(ctid: int, status: int, proto: int = 17, tcp_state: int | None = None) -> bytes:
    attrs = tuple_attr("127.0.0.1", "127.0.0.1", proto, 20007, 9)
    attrs += attr(2 | NESTED, tuple_attr("127.0.0.1", "127.0.0.1", proto, 9, 20007))
    attrs += attr(3, struct.pack("!I", status))
    if tcp_state is not None:
        attrs += attr(4 | NESTED, attr(1 | NESTED, attr(1, bytes([tcp_state]))))
    return attrs + attr(12, struct.pack("!I", ctid))


def test_a_delete_message_parses_as_a_destroy_with_id_tuple_and_status() -> None:
    (msg,) = netlink.parse_datagram(message(2, 0, ct_attrs(ctid=0xDEADBEEF, status=0x208)))
    assert msg.msg == "destroy"
    assert msg.ctid == 0xDEADBEEF
    assert msg.status == 0x208
    assert msg.tuple == Tuple("udp", "127.0.0.1", "127.0.0.1", 20007, 9)
    assert netlink.status_names(0x208) == ["CONFIRMED", "DYING"]


def test_a_new_message_with_nlm_f_create_is_new_and_without_it_is_an_update() -> None:
    create = netlink.NLM_F_CREATE | netlink.NLM_F_EXCL
    (new,) = netlink.parse_datagram(message(0, create, ct_attrs(7, 8)))
    (update,) = netlink.parse_datagram(message(0, 0, ct_attrs(7, 14)))
    assert (new.msg, update.msg) == ("new", "update")
    assert (new.ctid, update.ctid) == (7, 7)


def test_the_tcp_state_is_read_from_nested_protoinfo() -> None:
    (msg,) = netlink.parse_datagram(message(0, 0, ct_attrs(3, 14, proto=6, tcp_state=3)))
    assert msg.tcp_state == "ESTABLISHED"
    assert msg.tuple is not None and msg.tuple.proto == "tcp"


def test_several_messages_in_one_datagram_are_all_parsed_and_others_are_skipped() -> None:
    error = struct.pack("=IHHII", 20, netlink.NLMSG_ERROR, 0, 1, 0) + struct.pack("=i", 0)
    data = message(2, 0, ct_attrs(1, 8)) + error + message(2, 0, ct_attrs(2, 8))
    assert [m.ctid for m in netlink.parse_datagram(data)] == [1, 2]


def test_a_message_longer_than_its_datagram_is_rejected() -> None:
    data = message(2, 0, ct_attrs(1, 8))
    with pytest.raises(NetlinkFormatError):
        list(netlink.iter_messages(data[:-4]))


def test_an_attribute_longer_than_its_message_is_rejected() -> None:
    broken = struct.pack("=HH", 64, 12) + b"\0\0\0\1"
    with pytest.raises(NetlinkFormatError):
        netlink.parse_attrs(broken)


def test_a_flush_request_is_a_ct_delete_without_attributes() -> None:
    data = netlink.build_request(
        netlink.ctnl_type(netlink.IPCTNL_MSG_CT_DELETE), netlink.NLM_F_REQUEST, seq=5
    )
    length, kind, flags, seq, portid = struct.unpack_from("=IHHII", data)
    assert (length, kind, flags, seq, portid) == (20, 0x0102, 1, 5, 0)
    assert data[16:] == struct.pack("=BBH", socket.AF_INET, 0, 0)


def test_a_delete_by_tuple_encodes_the_original_tuple_as_nested_attributes() -> None:
    tup = Tuple("udp", "127.0.0.1", "127.0.0.2", 20001, 9)
    encoded = netlink.build_tuple_attr(netlink.CTA_TUPLE_ORIG, tup)
    assert encoded == tuple_attr("127.0.0.1", "127.0.0.2", 17, 20001, 9)


def test_a_ctnetlink_message_of_another_kind_is_ignored() -> None:
    get_reply = message(netlink.IPCTNL_MSG_CT_GET, 0, ct_attrs(1, 8))
    assert netlink.parse_datagram(get_reply) == []
