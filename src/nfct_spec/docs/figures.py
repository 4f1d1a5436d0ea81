"""Measured figures that cannot drift: one machine-readable record (`docs/figures.json` in the
repository), written by the scripts that measure (`scripts/bench_*.py`, `scripts/pin_counts.py`),
rendered into the README's `<!-- BEGIN GENERATED: figures:NAME -->` blocks by `nfct-spec doc
--update-readme README.md`, and read by the tests that pin the same figures. A test fails when
a block of the README differs from what the record renders to, so a figure changes in one
place: the script that measures it writes the record, and the README follows.

A block of the record is either a table (`columns`: [key, label] pairs, or [key, label,
"code"] for a column shown as code; `rows`: objects; and an optional `after`: a sentence
formatted with `values`) or an inline phrase (`inline`,
formatted with `values`). Every block names the `command` that produced its figures; a row
may name its own (`command` in the row) when it came from another run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from nfct_spec.files import (
    InputError,
    ShapeError,
    expect_list,
    expect_object,
    expect_str,
    field,
    load_json,
    no_extra,
    write_text,
)

RECORD = Path("docs") / "figures.json"
"""The record, relative to the repository's root (where README.md is)."""
WHAT = "figures record"
PREFIX = "figures:"
BLOCK_FIELDS = ("about", "command", "columns", "rows", "after", "inline", "values")

Block = dict[str, Any]


def _block(data: object, name: str) -> Block:
    block = expect_object(data, name)
    no_extra(block, BLOCK_FIELDS, name)
    expect_str(field(block, "command", name), f"{name}.command")
    values = expect_object(block.get("values", {}), f"{name}.values")
    if "inline" in block:
        _format(expect_str(block["inline"], f"{name}.inline"), values, f"{name}.inline")
        return block
    columns = expect_list(field(block, "columns", name), f"{name}.columns")
    for i, column in enumerate(columns):
        spec = expect_list(column, f"{name}.columns[{i}]")
        if len(spec) not in (2, 3) or not all(isinstance(part, str) for part in spec):
            raise ShapeError(f"{name}.columns[{i}]: expected [key, label] or [key, label, kind]")
        if spec[2:] not in ([], ["code"]):
            raise ShapeError(f"{name}.columns[{i}]: the only kind is 'code'")
    for i, row in enumerate(expect_list(field(block, "rows", name), f"{name}.rows")):
        expect_object(row, f"{name}.rows[{i}]")
    if "after" in block:
        _format(expect_str(block["after"], f"{name}.after"), values, f"{name}.after")
    return block


def _format(template: str, values: dict[str, Any], where: str) -> str:
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        raise ShapeError(f"{where}: cannot fill in {template!r} ({exc!r})") from None


def figures_from_json(data: object) -> dict[str, Block]:
    """The record, every block checked (ShapeError names the block and field)."""
    record = expect_object(data, "the top level")
    return {name: _block(block, name) for name, block in record.items()}


def load_figures(path: Path) -> dict[str, Block]:
    """Read the record; InputError names the file and the field."""
    return load_json(path, WHAT, figures_from_json)


def record_argument(value: str) -> Path:
    """The `--record` of a measuring script (an argparse `type`): a figures record that exists
    and reads, checked before the measurement starts, so that a wrong path is a one-line usage
    error at once rather than a traceback after hours of measuring."""
    path = Path(value)
    try:
        load_figures(path)
    except (InputError, ShapeError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return path


def cell(value: object) -> str:
    """A value as the README shows it: integers with thousands separators, other numbers
    with one decimal, nothing for a figure the record does not have."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


def _cell_in(row: dict[str, Any], column: list[str]) -> str:
    text = cell(row.get(column[0]))
    return f"`{text}`" if text and column[2:] == ["code"] else text


def render(block: Block) -> str:
    """The Markdown of one block: a table (and its closing sentence) or an inline phrase."""
    values = block.get("values", {})
    if "inline" in block:
        return str(block["inline"]).format(**values)
    columns = block["columns"]
    lines = [
        "| " + " | ".join(column[1] for column in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for row in block["rows"]:
        cells = [_cell_in(row, column) for column in columns]
        lines.append("| " + " | ".join(cells) + " |")
    if "after" in block:
        lines += ["", str(block["after"]).format(**values)]
    return "\n".join(lines)


def record_block(path: Path, name: str, block: Block) -> None:
    """Replace (or add) one block of the record: what a measuring script calls. The block is
    checked first, so a script never writes a record the README cannot be rendered from."""
    _block(block, name)
    record = load_figures(path) if path.exists() else {}
    record[name] = block
    write_text(path, json.dumps(record, indent=1, ensure_ascii=False) + "\n", WHAT, None)


def record_row(path: Path, name: str, key: str, row: dict[str, Any]) -> None:
    """Replace the row of block `name` whose `key` equals the new row's (or add it): what a
    script that measures one row of a shared table calls."""
    block = load_figures(path)[name]
    rows = [r for r in block["rows"] if r.get(key) != row[key]]
    if len(rows) == len(block["rows"]):
        rows.append(row)
    else:
        at = next(i for i, r in enumerate(block["rows"]) if r.get(key) == row[key])
        rows.insert(at, row)
    record_block(path, name, {**block, "rows": rows})
