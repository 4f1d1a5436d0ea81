"""The files module: what it reads is named precisely when it cannot be used, and what it
writes replaces only nfct-spec's own files, atomically."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from nfct_spec.files import (
    InputError,
    ShapeError,
    check_output,
    expect_int,
    expect_object,
    load_json,
    read_json,
    write_text,
)

SIGNATURE = "written-by-us"


def test_the_error_is_one_line_naming_what_the_file_and_the_problem(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        read_json(tmp_path / "absent.json", "config")
    assert str(info.value) == f"config {tmp_path / 'absent.json'}: no such file"
    assert (info.value.what, info.value.problem) == ("config", "no such file")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"a": 1,\n "b": }', "invalid JSON at line 2 column 7"),
        ('{"a": [1, 2', "JSON ends early"),
        ('{"a": "unterminated', "JSON ends early"),
        ("   \n", "empty"),
        ('{"a": Infinity}', "Infinity is not a JSON number"),
        ('{"a": 1, "a": 1}', "duplicate key 'a'"),
        ("1" * 4301, "more than 4300 digits"),
        ("[" * 65 + "]" * 65, "more than 64 levels"),
    ],
)
def test_every_kind_of_bad_json_is_named(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "f.json"
    path.write_text(text)
    with pytest.raises(InputError, match=problem):
        read_json(path, "trace")


def test_a_byte_order_mark_is_accepted_and_other_encodings_are_not(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(b"\xef\xbb\xbf{}")
    assert read_json(path, "config") == {}
    path.write_bytes(b'{"a": "\xe9"}')
    with pytest.raises(InputError, match=re.escape("not UTF-8 text (byte 0xe9 at offset 7)")):
        read_json(path, "config")


def test_a_decoder_names_the_field_and_the_loader_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text('{"flows": "two"}')

    def decode(data: object) -> int:
        return expect_int(expect_object(data, "the top level").get("flows"), "flows")

    with pytest.raises(InputError) as info:
        load_json(path, "config", decode)
    assert str(info.value) == f"config {path}: flows: expected an integer, got a string"
    assert issubclass(InputError, ValueError) and issubclass(ShapeError, ValueError)


def test_a_file_of_ours_is_replaced_and_a_file_of_the_users_is_not(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours.txt", tmp_path / "theirs.txt"
    ours.write_text(f"old {SIGNATURE}")
    theirs.write_text("mine")
    write_text(ours, f"new {SIGNATURE}", "page", SIGNATURE)
    assert ours.read_text() == f"new {SIGNATURE}"
    with pytest.raises(InputError, match="was not written by nfct-spec"):
        write_text(theirs, f"new {SIGNATURE}", "page", SIGNATURE)
    assert theirs.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ours.txt", "theirs.txt"]


def test_a_write_through_a_link_replaces_the_file_it_names_and_keeps_the_link(
    tmp_path: Path,
) -> None:
    target = tmp_path / "target.txt"
    target.write_text(SIGNATURE)
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    write_text(link, f"new {SIGNATURE}", "page", SIGNATURE)
    assert link.is_symlink() and target.read_text() == f"new {SIGNATURE}"


def test_a_failed_write_leaves_neither_the_file_changed_nor_a_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f.txt"
    path.write_text(SIGNATURE)

    def interrupted(src: object, dst: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_text(path, "half", "page", SIGNATURE)
    assert path.read_text() == SIGNATURE
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_checking_an_output_leaves_nothing_behind_and_the_write_makes_its_folders(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a" / "b" / "page.html"
    check_output(path, "page", SIGNATURE)
    assert list(tmp_path.iterdir()) == []
    write_text(path, SIGNATURE, "page", SIGNATURE)
    assert path.read_text() == SIGNATURE
