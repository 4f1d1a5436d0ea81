"""Shrinking a finding: drop steps while the run still replays and still shows the finding.

A path "shows" a finding for a property when, replayed from the initial state, every step is
enabled and some step is a finding (the path is then cut right after the first one). For
liveness the path is a prefix: it shows the finding when the bounded fair drain that follows it
leaves an obligation unmet. Removal is greedy by halving chunks (delta debugging), so the
result is 1-minimal: no single remaining step can be dropped.

Steps name conntracks by their memory slot. Dropping a step can leave a later conntrack's
slot in use, or the slot a later step names holding another conntrack; a removal that fails as
written is tried again with each conntrack's slot arguments following it (`follow_slots`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from nfct_spec.checking import finding_in_state, finding_on_step
from nfct_spec.models.config import Config
from nfct_spec.models.registry import ArgValue, Step, apply
from nfct_spec.models.state import State, initial_state
from nfct_spec.spec.catalogue import Property
from nfct_spec.spec.fairness import assumptions_hold, drain, unmet

Path = list[tuple[Step, State]]
Check = Callable[[Sequence[Step]], Path | None]
"""What a shrunk run must still show: the (cut) path if it does, else None."""


def replay_steps(config: Config, steps: Sequence[Step]) -> Path | None:
    """The path the steps take from the initial state, or None if one is not enabled."""
    state = initial_state(config)
    path: Path = []
    for step in steps:
        successor = apply(config, state, step)
        if successor is None:
            return None
        path.append((step, successor))
        state = successor
    return path


def first_finding(config: Config, prop: Property, path: Path) -> int | None:
    """The number of steps after which the finding first shows (0: the initial state)."""
    state = initial_state(config)
    if finding_in_state(prop, config, state):
        return 0
    for i, (step, successor) in enumerate(path, start=1):
        if finding_on_step(prop, config, state, step, successor):
            return i
        state = successor
    return None


def liveness_tail(config: Config, path: Path, prop_id: str) -> Path | None:
    """The drain after `path` if the run with it leaves an obligation of the liveness
    property `prop_id` unmet (the finding), else None."""
    tail = _drained(config, path)
    if tail is None:
        return None
    return tail if unmet(config, initial_state(config), [*path, *tail], prop_id) else None


def liveness_findings(config: Config, path: Path, prop_ids: Sequence[str]) -> list[str]:
    """The liveness properties of `prop_ids` whose obligations the run along `path` and the
    fair drain after it leave unmet (as `liveness_tail`, draining once for all of them)."""
    tail = _drained(config, path)
    if tail is None:
        return []
    run = [*path, *tail]
    return [p for p in prop_ids if unmet(config, initial_state(config), run, p)]


def _drained(config: Config, path: Path) -> Path | None:
    """The bounded fair drain after `path`, or None when the run breaks an assumption."""
    end = path[-1][1] if path else initial_state(config)
    if not assumptions_hold(config, end):
        return None
    return drain(config, end)


def shows(config: Config, prop: Property) -> Check:
    """A predicate on step lists: the (cut) path if it shows the finding, else None."""

    def check(steps: Sequence[Step]) -> Path | None:
        path = replay_steps(config, steps)
        if path is None:
            return None
        if prop.kind == "liveness":
            tail = liveness_tail(config, path, prop.id)
            return None if tail is None else path
        at = first_finding(config, prop, path)
        return None if at is None else path[:at]

    return check


SLOT_ARGS = ("slot", "victim")
"""Arguments that name a memory slot (besides the flush `order`, a list of slots)."""

Refs = dict[str, int | tuple[int, ...]]
"""The conntracks one step's slot arguments name, as observer uids (-1: no conntrack)."""


def allocates(step: Step) -> bool:
    """Whether a step allocates a conntrack in its `slot` (now, or at the early_drop after)."""
    return step.action == "nf_conntrack_in" and step.kwargs.get("packet") == "new"


def _uid_in(state: State, slot: int) -> int:
    record = state.record(slot)
    return record.uid if record is not None else -1


def slot_refs(config: Config, path: Path) -> list[Refs]:
    """Per step of `path`, the conntracks its slot arguments name: an allocation names the
    conntrack it creates (the next uid), any other slot argument the conntrack living there."""
    out: list[Refs] = []
    pre = initial_state(config)
    for step, post in path:
        refs: Refs = {}
        if allocates(step):
            refs["slot"] = pre.ghost.next_uid
        else:
            for name, value in step.args:
                if name in SLOT_ARGS and isinstance(value, int):
                    refs[name] = _uid_in(pre, value) if value >= 0 else -1
                elif name == "order" and isinstance(value, tuple):
                    refs[name] = tuple(_uid_in(pre, v) for v in value)
        out.append(refs)
        pre = post
    return out


def _with_args(step: Step, **changes: ArgValue) -> Step:
    return Step(step.action, tuple((k, changes.get(k, v)) for k, v in step.args))


def follow_slots(
    config: Config,
    path: Path,
    keep: Sequence[int],
    replace: Mapping[int, Step] | None = None,
    compact: bool = False,
) -> list[Step] | None:
    """The steps `keep` of `path` (those in `replace` replaced as given), with every slot
    argument following the conntrack it named in `path`; None if a step is then not enabled.

    Dropping steps can leave a later allocation's slot in use (by a conntrack that is now
    never freed), and moving an allocation moves its conntrack: each kept allocation takes its
    recorded slot if it can (with `compact`, the lowest slot it can), and every later argument
    naming that conntrack names its new slot. A step naming a conntrack whose allocation is not
    kept gives None.
    """
    refs = slot_refs(config, path)
    replace = replace or {}
    slot_of: dict[int, int] = {}

    def moved(uid: int, value: int) -> int:
        if uid < 0:
            return value
        if uid not in slot_of:
            raise LookupError(uid)
        return slot_of[uid]

    state = initial_state(config)
    out: list[Step] = []
    for k in keep:
        step = replace.get(k, path[k][0])
        if k in replace:
            candidates = [step]
        elif allocates(step):
            recorded = step.kwargs["slot"]
            assert isinstance(recorded, int)
            order = sorted(range(config.slots), key=lambda s: (not compact and s != recorded, s))
            candidates = [_with_args(step, slot=slot) for slot in order]
        else:
            changes: dict[str, ArgValue] = {}
            try:
                for name, uid in refs[k].items():
                    value = step.kwargs[name]
                    if isinstance(uid, int) and isinstance(value, int):
                        changes[name] = moved(uid, value)
                    elif isinstance(uid, tuple) and isinstance(value, tuple):
                        changes[name] = tuple(moved(u, v) for u, v in zip(uid, value, strict=True))
            except LookupError:
                return None  # it names a conntrack whose allocation was dropped
            candidates = [_with_args(step, **changes)]
        for candidate in candidates:
            successor = apply(config, state, candidate)
            if successor is not None:
                break
        else:
            return None
        created = refs[k].get("slot")
        if allocates(path[k][0]) and allocates(candidate) and isinstance(created, int):
            slot = candidate.kwargs["slot"]
            assert isinstance(slot, int)
            slot_of[created] = slot
        out.append(candidate)
        state = successor
    return out


def attempt(
    config: Config,
    check: Check,
    path: Path,
    keep: Sequence[int],
    replace: Mapping[int, Step] | None = None,
) -> Path | None:
    """The run of the steps `keep` of `path` (some replaced) if it still shows what `check`
    wants: tried as written, then with slot arguments following their conntracks."""
    replace = replace or {}
    steps = [replace.get(k, path[k][0]) for k in keep]
    found = check(steps)
    if found is not None:
        return found
    followed = follow_slots(config, path, keep, replace)
    if followed is None or followed == steps:
        return None
    return check(followed)


def _conntracks_named(config: Config, path: Path, refs: Sequence[Refs]) -> list[set[int]]:
    """Per step of `path`, the conntracks (uids) it acts on: those its slot arguments name
    (`refs`), and for a `flow` argument of a step that allocates nothing, the flow's hashed
    conntrack."""
    out: list[set[int]] = []
    pre = initial_state(config)
    for (step, post), step_refs in zip(path, refs, strict=True):
        named: set[int] = set()
        if not allocates(step):
            for value in step_refs.values():
                named.update(value if isinstance(value, tuple) else (value,))
            flow = step.kwargs.get("flow")
            if isinstance(flow, int):
                named.add(_uid_in(pre, pre.hashed_slot_of_flow(flow)))
        out.append(named - {-1})
        pre = post
    return out


def drop_conntracks(config: Config, check: Check, path: Path) -> Path:
    """Try to drop each conntrack with every step that acts on it (its allocation, confirm,
    packets, deletion...), which single removals cannot when those steps are apart: without
    the allocation the others are not enabled, without its free the slot stays in use."""
    current = path
    k = 0
    while k < len(current):
        if allocates(current[k][0]):
            refs = slot_refs(config, current)
            uid = refs[k]["slot"]
            named = _conntracks_named(config, current, refs)
            keep = [j for j in range(len(current)) if j != k and uid not in named[j]]
            result = attempt(config, check, current, keep)
            if result is not None:
                current = result
                continue
        k += 1
    return current


def compact_slots(config: Config, check: Check, path: Path) -> Path:
    """`path` with every conntrack allocated in the lowest slot it can take, if the run still
    shows what `check` wants (slots then number conntracks in allocation order)."""
    followed = follow_slots(config, path, range(len(path)), compact=True)
    if followed is None or followed == [step for step, _ in path]:
        return path
    return check(followed) or path


def minimize(config: Config, prop: Property, steps: Sequence[Step]) -> Path:
    """A 1-minimal sub-sequence of `steps` that still shows the finding; ValueError if the
    original does not show it.

    A removal is tried as is and, if that fails, with the slot arguments of the later steps
    following their conntracks (`follow_slots`); once no window of steps can go, each
    conntrack is tried away with the steps that name it (`drop_conntracks`); at the end the
    slots are compacted.
    """
    check = shows(config, prop)
    best = check(steps)
    if best is None:
        raise ValueError(f"the steps do not show a finding for {prop.id}")
    chunk = max(1, len(best) // 2)
    while True:
        best, removed = _removal_pass(config, check, best, chunk, slide=chunk <= 3)
        if removed:
            continue
        if chunk > 1:
            chunk //= 2
            continue
        for width in (2, 3):
            best, removed = _removal_pass(config, check, best, width, slide=True)
            if removed:
                break
        else:
            smaller = drop_conntracks(config, check, best)
            if len(smaller) == len(best):
                return compact_slots(config, check, best)
            best = smaller


def _removal_pass(
    config: Config,
    check: Check,
    best: Path,
    chunk: int,
    slide: bool,
) -> tuple[Path, bool]:
    """Try to drop every window of `chunk` steps (aligned, or at every offset when `slide`)."""
    removed = False
    start = 0
    while start < len(best):
        keep = [*range(start), *range(start + chunk, len(best))]
        path = attempt(config, check, best, keep)
        if path is not None:
            best = path
            removed = True
        else:
            start += 1 if slide else chunk
    return best, removed
