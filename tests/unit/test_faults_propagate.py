"""A fault in the model is never a disabled step: an exception raised by an action propagates
out of `registry.apply`, the explorer and the Hypothesis engine, and no code around action
calls catches TypeError or anything broader."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from helpers import new_confirmed, run
from nfct_spec.engines.explorer import explore
from nfct_spec.engines.hypothesis_engine import Profile, search
from nfct_spec.models import registry
from nfct_spec.models.config import Config
from nfct_spec.models.presets import preset
from nfct_spec.models.registry import ACTIONS, Action, Step, apply, successors
from nfct_spec.models.state import State, initial_state
from nfct_spec.spec.catalogue import BY_ID

ROOT = Path(__file__).resolve().parents[2]


def env_faulty(config: Config, state: State) -> State | None:
    """A broken action (tests only): enabled never, and a TypeError once a conntrack is
    hashed, as a model bug would raise one."""
    if state.kernel.hash:
        broken: int | None = None
        return broken + 1  # type: ignore[operator, return-value]
    return None


FAULTY = Action(
    name="env_faulty",
    fn=env_faulty,
    domain=lambda config, state: iter([{}]),
    kind="env",
    variants=registry.ALL,
    modifies=frozenset(),
)


@pytest.fixture
def faulty(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The registry with the broken action registered last."""
    monkeypatch.setattr(registry, "ACTIONS", (*ACTIONS, FAULTY))
    monkeypatch.setattr(registry, "BY_NAME", {**registry.BY_NAME, FAULTY.name: FAULTY})
    registry.actions_for.cache_clear()
    yield
    monkeypatch.undo()
    registry.actions_for.cache_clear()


CONFIG = preset("tiny", "2.6.31")


def _hashed() -> State:
    return run(CONFIG, *new_confirmed(0, 0))


@pytest.mark.usefixtures("faulty")
def test_apply_lets_the_exception_of_an_action_through() -> None:
    assert apply(CONFIG, initial_state(CONFIG), Step("env_faulty")) is None, "not enabled"
    with pytest.raises(TypeError, match="unsupported operand"):
        apply(CONFIG, _hashed(), Step("env_faulty"))


@pytest.mark.usefixtures("faulty")
def test_successors_let_the_exception_of_an_action_through() -> None:
    assert list(successors(CONFIG, initial_state(CONFIG)))
    with pytest.raises(TypeError, match="unsupported operand"):
        list(successors(CONFIG, _hashed()))


@pytest.mark.usefixtures("faulty")
def test_the_explorer_fails_loudly_on_an_exception_in_an_action() -> None:
    with pytest.raises(TypeError, match="unsupported operand"):
        explore(CONFIG, [BY_ID["count-exact"]], max_states=5_000)


@pytest.mark.usefixtures("faulty")
def test_the_hypothesis_engine_fails_loudly_on_an_exception_in_an_action() -> None:
    profile = Profile("test", max_examples=50, steps=20, derandomize=True)
    with pytest.raises(TypeError, match="unsupported operand"):
        search(CONFIG, [BY_ID["count-exact"]], profile, seed=0)


def test_without_the_broken_action_the_same_searches_pass() -> None:
    """The control: the searches above fail because of the injected fault only."""
    registry.actions_for.cache_clear()
    assert "env_faulty" not in {a.name for a in registry.actions_for(CONFIG.variant)}
    exploration = explore(CONFIG, [BY_ID["count-exact"]], max_states=2_000)
    assert not exploration.findings
    profile = Profile("test", max_examples=10, steps=10, derandomize=True)
    assert "count-exact" not in search(CONFIG, [BY_ID["count-exact"]], profile, seed=0).found


# --- source scan ------------------------------------------------------------------------------

BROAD = {"TypeError", "Exception", "BaseException"}
"""Handlers that would turn a bug in an action (a TypeError above all) into something else."""
ACTION_CALLS = {"fn", "apply", "_apply", "enabled_steps", "successors", "domain"} | {
    action.fn.__name__ for action in ACTIONS
}
"""Calls that run an action; `_action_callers` adds every function that calls one."""
SCANNED = [ROOT / "models", ROOT / "src" / "nfct_spec" / "engines"]
CALL_GRAPH = [ROOT / "models", ROOT / "spec", ROOT / "src" / "nfct_spec"]


def _called(node: ast.AST) -> set[str]:
    names = set()
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            func = call.func
            if isinstance(func, ast.Name):
                names.add(func.id)
            elif isinstance(func, ast.Attribute):
                names.add(func.attr)
    return names


def _trees(folders: list[Path]) -> Iterator[tuple[Path, ast.Module]]:
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


@cache
def _action_callers() -> frozenset[str]:
    """ACTION_CALLS closed under "a function that calls one" (by name, over the package)."""
    calls: dict[str, set[str]] = {}
    for _path, tree in _trees(CALL_GRAPH):
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                calls.setdefault(node.name, set()).update(_called(node))
    names = set(ACTION_CALLS)
    grown = True
    while grown:
        grown = False
        for name, called in calls.items():
            if name not in names and called & names:
                names.add(name)
                grown = True
    return frozenset(names)


def _caught(handler: ast.expr | None) -> set[str]:
    if handler is None:
        return {"BaseException"}
    items = handler.elts if isinstance(handler, ast.Tuple) else [handler]
    out = set()
    for item in items:
        if isinstance(item, ast.Name):
            out.add(item.id)
        elif isinstance(item, ast.Attribute):
            out.add(item.attr)
    return out


def _forwards(handler: ast.ExceptHandler) -> bool:
    """A handler that raises again, or hands the traceback on (`traceback.format_exc()`, as a
    worker process does to its parent, which raises it), hides nothing."""
    return any(
        isinstance(node, ast.Raise) or "format_exc" in _called(node)
        for stmt in handler.body
        for node in ast.walk(stmt)
    )


def broad_guards(tree: ast.Module, callers: frozenset[str]) -> list[tuple[int, str]]:
    """(line, what) of every `except` or `contextlib.suppress` catching TypeError or broader
    around a call that runs an action, unless the handler forwards the error."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            hiding = [h for h in node.handlers if not _forwards(h)]
            caught = set().union(*(_caught(h.type) for h in hiding))
            body_calls = set().union(*(_called(stmt) for stmt in node.body))
            if caught & BROAD and body_calls & callers:
                found.append((node.lineno, f"except {sorted(caught & BROAD)}"))
        if isinstance(node, ast.With):
            for item in node.items:
                expr = item.context_expr
                if not (isinstance(expr, ast.Call) and "suppress" in _called(expr)):
                    continue
                caught = set().union(*(_caught(arg) for arg in expr.args))
                body_calls = set().union(*(_called(stmt) for stmt in node.body))
                if caught & BROAD and body_calls & callers:
                    found.append((node.lineno, f"suppress {sorted(caught & BROAD)}"))
    return found


def test_no_code_around_action_calls_catches_type_error_or_broader() -> None:
    callers = _action_callers()
    assert {"explore", "search", "drain", "replay_steps"} <= callers, "the closure works"
    offences = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path, tree in _trees(SCANNED)
        for line, what in broad_guards(tree, callers)
    ]
    assert not offences, offences


@pytest.mark.parametrize(
    "source",
    [
        "try:\n    s = action.fn(config, state, **kwargs)\nexcept TypeError:\n    s = None\n",
        "try:\n    s = apply(config, state, step)\nexcept (ValueError, Exception):\n    s = None\n",
        "try:\n    s = list(successors(config, state))\nexcept:\n    s = []\n",
        "with contextlib.suppress(TypeError):\n    s = nf_conntrack_in(config, state, 0, 'new')\n",
    ],
)
def test_the_scan_finds_a_guard_that_would_hide_a_fault(source: str) -> None:
    assert broad_guards(ast.parse(source), _action_callers())


def test_the_scan_accepts_a_handler_that_forwards_the_error() -> None:
    raising = "try:\n    s = apply(config, state, step)\nexcept Exception:\n    log()\n    raise\n"
    sending = (
        "try:\n    s = apply(config, state, step)\n"
        "except Exception:\n    conn.send(('error', traceback.format_exc()))\n"
    )
    assert not broad_guards(ast.parse(raising), _action_callers())
    assert not broad_guards(ast.parse(sending), _action_callers())


def test_the_scan_leaves_guards_around_other_code_alone() -> None:
    source = (
        "try:\n    c = Config(**values)\nexcept TypeError as exc:\n    raise ConfigError(exc)\n"
    )
    assert not broad_guards(ast.parse(source), _action_callers())
