"""Imports go one way: a module may import its own layer and the layers below it, never one
above.

From the bottom: the model (`models/`); the specification over it (`spec/`); the Z3 encoding
and its proof procedures (`proofs/`); the support modules every engine shares (the top-level
modules of `nfct_spec`: loading and writing files, evaluating properties on states, traces,
replay, minimisation, results, output folders); the tools (the engines, the viewer, the live
kernel runs and the document); and the command line. So the proofs never turn Z3 results
into traces or Result records (the Z3 engine in `engines/` does), and the specification never
depends on how it is checked. Every import counts, including those inside functions and under
`TYPE_CHECKING`. No command runs another command either: what two commands share is a library
function.

The catalogue, the auxiliary invariants and the terms load without z3 installed: the engines
that do not prove anything must not need it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("model", ("nfct_spec.models",)),
    ("spec", ("nfct_spec.spec",)),
    ("proofs", ("nfct_spec.proofs",)),
    (
        "support",
        (
            "nfct_spec",
            "nfct_spec.files",
            "nfct_spec.checking",
            "nfct_spec.traces",
            "nfct_spec.replay",
            "nfct_spec.minimize",
            "nfct_spec.results",
            "nfct_spec.outdir",
        ),
    ),
    ("tools", ("nfct_spec.engines", "nfct_spec.viewer", "nfct_spec.kernel", "nfct_spec.docs")),
    ("commands", ("nfct_spec.commands", "nfct_spec.cli", "nfct_spec.__main__")),
)
"""Each layer with its modules and packages (a package stands for every module in it), from
the bottom. `nfct_spec` itself is its `__init__` only."""

COMMANDS = "nfct_spec.commands"
SHARED_BY_COMMANDS = ("nfct_spec.commands", "nfct_spec.commands.common")
"""The registry of commands and what they share: not commands themselves."""


def layer_of(module: str) -> int | None:
    """The index of the layer of `module` (the longest name that covers it), or None."""
    best: tuple[int, int] | None = None
    for index, (_, names) in enumerate(LAYERS):
        for name in names:
            covers = module == name or (name != "nfct_spec" and module.startswith(name + "."))
            if covers and (best is None or len(name) > best[0]):
                best = (len(name), index)
    return None if best is None else best[1]


def package_modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the installed package, by name, from the `package-dir` map of
    pyproject.toml."""
    config = tomllib.loads((root / "pyproject.toml").read_text())
    dirs: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    modules: dict[str, Path] = {}
    for package, folder in dirs.items():
        base = root / folder
        for path in sorted(base.rglob("*.py")):
            parts = path.relative_to(base).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join((package, *parts))] = path
    return modules


@dataclass(frozen=True)
class Import:
    """One import of a package module by another, with its line."""

    importer: str
    imported: str
    line: int
    names: tuple[str, ...] = ()


def _resolve(importer: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = importer.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(
    importer: str, source: str, known: set[str], is_package: bool = False
) -> list[Import]:
    """The package modules that `source` (the text of module `importer`) imports anywhere in
    it: `from X import name` counts as an import of `X.name` where that is a module."""
    found: list[Import] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("nfct_spec"):
                    found.append(Import(importer, alias.name, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(importer, node, is_package)
            if not module.startswith("nfct_spec"):
                continue
            targets: dict[str, list[str]] = {}
            for alias in node.names:
                name = f"{module}.{alias.name}"
                targets.setdefault(name if name in known else module, []).append(alias.name)
            for target, names in targets.items():
                found.append(Import(importer, target, node.lineno, tuple(names)))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and node.args[0].value.startswith("nfct_spec")
        ):
            found.append(Import(importer, node.args[0].value, node.lineno))
    return found


def upward(importer: str, source: str, known: set[str], is_package: bool = False) -> list[str]:
    """Every import of `source` that goes up a layer, or to a module in no layer, as
    `importer:line imports X (layer A imports layer B)`."""
    problems: list[str] = []
    mine = layer_of(importer)
    if mine is None:
        return [f"{importer} is in no layer (add it to LAYERS)"]
    for imp in imports_of(importer, source, known, is_package):
        theirs = layer_of(imp.imported)
        if theirs is None:
            problems.append(f"{importer}:{imp.line} imports {imp.imported}, which is in no layer")
        elif theirs > mine:
            problems.append(
                f"{importer}:{imp.line} imports {imp.imported} "
                f"(layer {LAYERS[mine][0]} imports layer {LAYERS[theirs][0]})"
            )
    return problems


def commands_run(importer: str, source: str, known: set[str]) -> list[str]:
    """Where a command module imports or calls another command's `run`."""
    if not importer.startswith(COMMANDS + ".") or importer in SHARED_BY_COMMANDS:
        return []
    others = {m for m in known if m.startswith(COMMANDS + ".") and m not in SHARED_BY_COMMANDS}
    others.discard(importer)
    aliases: dict[str, str] = {}
    problems: list[str] = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                target = f"{node.module}.{alias.name}"
                if target in others:
                    aliases[alias.asname or alias.name] = target
                elif node.module in others and alias.name == "run":
                    problems.append(f"{importer}:{node.lineno} imports {node.module}.run")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in others:
                    aliases[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "run"
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            problems.append(f"{importer}:{node.lineno} uses {aliases[node.value.id]}.run")
    return problems


MODULES = package_modules()
KNOWN = set(MODULES)


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def test_every_module_is_in_a_layer_and_imports_only_its_own_and_lower_layers() -> None:
    assert len(MODULES) > 50 and "nfct_spec.proofs.bmc" in MODULES
    problems = [
        problem
        for name, path in sorted(MODULES.items())
        for problem in upward(name, path.read_text(), KNOWN, _is_package(path))
    ]
    assert not problems, "\n".join(problems)


def test_no_command_runs_another_command() -> None:
    problems = [
        problem
        for name, path in sorted(MODULES.items())
        for problem in commands_run(name, path.read_text(), KNOWN)
    ]
    assert not problems, "\n".join(problems)


PLANTED = '''
"""A proof that reaches up for a trace."""

import z3


def concretise(model):
    from nfct_spec.engines.z3_bmc import run_bmc
    from nfct_spec.spec.terms import Term

    return run_bmc
'''


def test_the_checker_names_a_planted_upward_import_inside_a_function() -> None:
    problems = upward("nfct_spec.proofs.planted", PLANTED, KNOWN)
    assert problems == [
        "nfct_spec.proofs.planted:8 imports nfct_spec.engines.z3_bmc "
        "(layer proofs imports layer tools)"
    ]


@pytest.mark.parametrize(
    ("importer", "source", "imported"),
    [
        ("nfct_spec.models.core", "import nfct_spec.spec.catalogue\n", "nfct_spec.spec.catalogue"),
        ("nfct_spec.spec.vocab", "from nfct_spec import results\n", "nfct_spec.results"),
        ("nfct_spec.proofs.plans", "from .. import traces\n", "nfct_spec.traces"),
        (
            "nfct_spec.traces",
            "import importlib\nimportlib.import_module('nfct_spec.engines.lasso')\n",
            "nfct_spec.engines.lasso",
        ),
        (
            "nfct_spec.results",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from nfct_spec.commands.common import UsageError\n",
            "nfct_spec.commands.common",
        ),
    ],
)
def test_the_checker_reads_every_form_of_import(importer: str, source: str, imported: str) -> None:
    [problem] = upward(importer, source, KNOWN)
    assert f"imports {imported} " in problem


def test_the_checker_allows_imports_of_the_same_and_lower_layers() -> None:
    source = (
        "from nfct_spec.models.config import Config\n"
        "from nfct_spec.proofs.guard import check_encoding\n"
        "from nfct_spec.engines.z3_runner import run_all\n"
    )
    assert upward("nfct_spec.engines.z3_engine", source, KNOWN) == []


def test_a_new_top_level_module_must_be_placed_in_a_layer() -> None:
    assert upward("nfct_spec.helpers", "", KNOWN) == [
        "nfct_spec.helpers is in no layer (add it to LAYERS)"
    ]


def test_the_checker_names_a_command_that_runs_another() -> None:
    known = KNOWN | {"nfct_spec.commands.prove", "nfct_spec.commands.explore"}
    source = (
        "from nfct_spec.commands import prove\n"
        "from nfct_spec.commands.explore import run as explore_run\n"
        "def run(args, console):\n"
        "    return prove.run(args, console)\n"
    )
    assert commands_run("nfct_spec.commands.check", source, known) == [
        "nfct_spec.commands.check:2 imports nfct_spec.commands.explore.run",
        "nfct_spec.commands.check:4 uses nfct_spec.commands.prove.run",
    ]


def test_the_catalogue_auxiliary_invariants_and_terms_load_without_z3() -> None:
    script = (
        "import sys\n"
        "sys.modules['z3'] = None\n"
        "import nfct_spec.spec.catalogue, nfct_spec.spec.auxiliary, nfct_spec.spec.terms\n"
        "import nfct_spec.checking, nfct_spec.replay, nfct_spec.results\n"
        "from nfct_spec.spec.catalogue import CATALOGUE\n"
        "print(len(CATALOGUE))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 0
