"""The Z3 builders of the CPU-level steps (granularity smp), mirroring `nfct_spec.models.smp`.

A call in progress is one entry of the per-CPU fields (`cfn`, `cslot`, `cpc`, `cport`, `cecho`,
`cheld`, `cfailed`, `cinline`; `nfct_spec.spec.vocab`), and the entries are kept sorted exactly
as the model keeps `Kernel.calls` sorted (CPUs are interchangeable): every step that changes a
call ends with a sorting network over the entries (`sort_calls`), the empty entries last. So
the encoded state of a model state is its projection, and a step's `call` argument is the same
index in both. A new call takes the last entry, which is free when a CPU is (the entries are
sorted). Each builder cites the model function it mirrors; the kernel lines are cited there.

nf_conntrack_lock is held by a flush call at `found` (inside get_next_corpse()); the steps that
take it wait while another call holds it (`lock_free_for`), and so does every atomic kernel
step of an smp config (`lock_held`, applied in `nfct_spec.proofs.actions.execute`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from nfct_spec.models.bits import IPCT_DESTROY
from nfct_spec.models.state import (
    CRASH_DOUBLE_DYING,
    CRASH_DOUBLE_UNLINK,
    CRASH_FREED_LINKED,
    CRASH_TIMER_PENDING,
    CRASH_USE_AFTER_FREE,
    NO_TIMER,
)
from nfct_spec.proofs import kernel_z3 as k
from nfct_spec.proofs.params import Flags, Params
from nfct_spec.proofs.sym import Sym
from nfct_spec.proofs.vocab import AState
from nfct_spec.spec.terms import And, If, Not, Or, Term, count
from nfct_spec.spec.vocab import BY_FIELD, fn_code, pc_code

CTNETLINK = fn_code("ctnetlink_del_conntrack")
TIMER = fn_code("death_by_timeout")
FLUSH = fn_code("nf_conntrack_flush_report")
CALL_FIELDS = ("cfn", "cslot", "cpc", "cport", "cecho", "cheld", "cfailed", "cinline")
"""The fields of a call, in the order `Call` compares them."""
EMPTY_LAST = 1 << 20
"""The sort key of an empty entry's function: after every function code."""


def lock_held(state: AState, but: Term = None) -> Term:
    """Some call (other than `but`) holds nf_conntrack_lock: it is inside get_next_corpse()."""
    found = pc_code("found")
    return Or(
        *[
            And(fn != 0, pc == found, True if but is None else but != c)
            for c, (fn, pc) in enumerate(zip(state["cfn"], state["cpc"], strict=True))
        ]
    )


def _call_at(s: Sym, call: Term, *pcs: str) -> Term:
    """Call `call` exists and is at one of `pcs`."""
    n = len(s.get("cfn"))
    if n == 0:
        return False
    at = s.at("cpc", call)
    return And(call >= 0, call < n, s.at("cfn", call) != 0, Or(*[at == pc_code(pc) for pc in pcs]))


def _lock_free_for(s: Sym, call: Term) -> Term:
    return Not(lock_held(s.v, call))


def _room(s: Sym) -> Term:
    """A CPU is free: the last entry is empty (the entries are sorted, empty ones last)."""
    fns = s.get("cfn")
    return fns[-1] == 0 if fns else False


def _write_call(s: Sym, index: Term, **values: Term) -> None:
    for name, value in values.items():
        s.put(name, value, index)


def _end_call(s: Sym, index: Term) -> None:
    """The call returns: its entry is empty again."""
    _write_call(s, index, **{name: BY_FIELD[name].default for name in CALL_FIELDS})


def _after_put(s: Sym, index: Term) -> None:
    """`smp._after_put`: a flush takes the next entry, other calls return."""
    flush = s.at("cfn", index) == FLUSH
    port, echo = s.at("cport", index), s.at("cecho", index)
    with s.when(flush):
        _end_call(s, index)
        _write_call(s, index, cfn=FLUSH, cpc=pc_code("next_corpse"), cport=port, cecho=echo)
    with s.when(Not(flush)):
        _end_call(s, index)


def _key(s: Sym, c: int) -> list[Term]:
    v = s.v
    fn = v["cfn"][c]
    key: list[Term] = [If(fn == 0, EMPTY_LAST, fn), v["cslot"][c], v["cpc"][c], v["cport"][c]]
    key += [If(v[name][c], 1, 0) for name in ("cecho", "cheld", "cfailed", "cinline")]
    return key


def _less(a: list[Term], b: list[Term]) -> Term:
    """Lexicographic a < b."""
    out: Term = False
    for x, y in reversed(list(zip(a, b, strict=True))):
        out = Or(x < y, And(x == y, out))
    return out


def sort_calls(s: Sym) -> None:
    """Sort the entries as the model sorts `Kernel.calls` (a bubble-sort network)."""
    n = len(s.get("cfn"))
    for i in range(n):
        for j in range(n - 1 - i):
            swap = _less(_key(s, j + 1), _key(s, j))
            for name in CALL_FIELDS:
                a, b = s.v[name][j], s.v[name][j + 1]
                with s.when(swap):
                    s.put(name, b, j)
                    s.put(name, a, j + 1)


def _push(s: Sym, **values: Term) -> None:
    """A new call on the free CPU (the last entry), the entries sorted again."""
    last = len(s.get("cfn")) - 1
    _end_call(s, last)
    _write_call(s, last, **values)
    sort_calls(s)


def _get_ref(s: Sym, uid: Term) -> None:
    s.put("refs", s.at("refs", uid) + 1, uid)


def _set_dying(s: Sym, uid: Term) -> None:
    s.put("dbit", True, uid)


def _smp(p: Params, s: Sym) -> bool:
    return p.era.smp and k.smp(s)


StepBody = Callable[[Sym, Params, Flags, dict[str, Any], Term], Term]
Builder = Callable[[Sym, Params, Flags, dict[str, Any]], Term]


def _call_step(*pcs: str, lock: bool = False) -> Callable[[StepBody], Builder]:
    """A builder of the step of call `a["call"]` at one of `pcs`: enabled at smp only, for a
    call at those points (and with `lock`, while no other call holds nf_conntrack_lock). The
    body rewrites the state and returns what else its step needs; the entries are sorted
    after it."""

    def wrap(body: StepBody) -> Builder:
        @wraps(body)
        def build(s: Sym, p: Params, f: Flags, a: dict[str, Any]) -> Term:
            if not _smp(p, s):
                return False
            call = a["call"]
            guard = _call_at(s, call, *pcs)
            if lock:
                guard = And(guard, _lock_free_for(s, call))
            guard = And(guard, body(s, p, f, a, call))
            sort_calls(s)
            return guard

        return build

    return wrap


# --- entries -------------------------------------------------------------------------------------


def ctnetlink_del_lookup(s: Sym, p: Params, f: Flags, a: dict[str, Any]) -> Term:
    """`smp.ctnetlink_del_lookup`: nf_conntrack_find_get() takes a reference."""
    if not _smp(p, s):
        return False
    flow, portid, uid = a["flow"], a["requester"], a["hashed"]
    guard = And(
        _room(s),
        k.requester_ok(s, p, portid),
        k.hashed_of_flow(s, uid, flow),
        flow >= 0,
        flow < p.flows,
    )
    pc = "del_timer" if p.era.delete_takes_timer else "report"
    _get_ref(s, uid)
    _push(
        s, cfn=CTNETLINK, cslot=uid, cpc=pc_code(pc), cport=portid, cecho=portid <= p.nl, cheld=True
    )
    return guard


def death_by_timeout_expire(s: Sym, p: Params, f: Flags, a: dict[str, Any]) -> Term:
    """`smp.death_by_timeout_expire`: the timer goes from pending to running."""
    if not _smp(p, s):
        return False
    uid = a["slot"]
    guard = And(
        _room(s),
        uid >= 0,
        uid < len(s.get("alloc")),
        s.at("alloc", uid),
        s.at("timer", uid) == 0,
        Not(s.at("inD", uid)),
        Not(s.at("inU", uid)),
    )
    s.put("timer", NO_TIMER, uid)
    _push(s, cfn=TIMER, cslot=uid, cpc=pc_code("test_dying"))
    return guard


def flush_start(s: Sym, p: Params, f: Flags, a: dict[str, Any]) -> Term:
    """`smp.flush_start`: nf_conntrack_flush_report() enters nf_ct_iterate_cleanup()."""
    if not _smp(p, s) or not p.era.flush:
        return False
    portid = a["requester"]
    guard = And(_room(s), k.some_hashed(s), k.requester_ok(s, p, portid))
    _push(s, cfn=FLUSH, cpc=pc_code("next_corpse"), cport=portid, cecho=portid <= p.nl)
    return guard


@_call_step("next_corpse", lock=True)
def flush_next_corpse(s: Sym, p: Params, f: Flags, a: dict[str, Any], call: Term) -> Term:
    """`smp.flush_next_corpse`: get_next_corpse() finds `slot` under nf_conntrack_lock; as
    released kill_report() reports DESTROY there, with `iterator_takes_timer` it only selects."""
    uid = a["slot"]
    hashed = k.on_list(s, uid, "inH")
    if p.era.iterator_takes_timer:
        _get_ref(s, uid)
        _write_call(s, call, cslot=uid, cpc=pc_code("del_timer"), cheld=True)
    else:
        k.note_death(s, uid)
        failed = k.eventmask_report(
            s, p, f, uid, IPCT_DESTROY, s.at("cport", call), s.at("cecho", call)
        )
        _write_call(s, call, cslot=uid, cpc=pc_code("found"), cfailed=failed)
    return hashed


@_call_step("found")
def flush_found(s: Sym, p: Params, f: Flags, a: dict[str, Any], call: Term) -> Term:
    """`smp.flush_found`: DYING if the DESTROY was delivered, a reference, the lock dropped."""
    uid = s.at("cslot", call)
    with s.when(Not(s.at("cfailed", call))):
        _set_dying(s, uid)
    _get_ref(s, uid)
    _write_call(s, call, cpc=pc_code("del_timer"), cheld=True, cfailed=False)
    return True


@_call_step("next_corpse", lock=True)
def flush_done(s: Sym, p: Params, f: Flags, a: dict[str, Any], call: Term) -> Term:
    """`smp.flush_done`: no hashed conntrack is left; 2.6.31 marks the unconfirmed DYING."""
    none_hashed = Not(k.some_hashed(s))
    if f.flush_marks_unconfirmed:
        for u in range(len(s.get("alloc"))):
            with s.when(And(s.at("alloc", u), s.at("inU", u))):
                _set_dying(s, u)
    _end_call(s, call)
    return none_hashed


# --- steps of a call in progress -----------------------------------------------------------------


@_call_step("del_timer")
def del_timer(s: Sym, p: Params, f: Flags, a: dict[str, Any], call: Term) -> Term:
    """`smp.del_timer`: del_timer(&ct->timeout), and what the caller does with its result."""
    uid = s.at("cslot", call)
    fn = s.at("cfn", call)
    on_dying = s.at("inD", uid)
    separate = on_dying if p.era.retry_timer_separate else False
    idle = Or(s.at("timer", uid) == NO_TIMER, separate)
    with s.when(idle):
        _write_call(s, call, cpc=pc_code("put"))
    with s.when(Not(idle)):
        s.put("timer", NO_TIMER, uid)
        takes = If(fn == CTNETLINK, p.era.delete_takes_timer, p.era.iterator_takes_timer)
        body = "test_dying" if p.era.delete_test_and_set_dying else "report"
        with s.when(takes):
            _write_call(s, call, cpc=pc_code(body))
        by_event = And(Not(takes), fn == CTNETLINK, on_dying)
        with s.when(by_event):
            # `smp._death_by_event_inline`: nf_ct_kill() runs death_by_event() itself.
            failed = k.death_by_event_send(s, p, f, uid)
            with s.when(Not(failed)):
                k.free_dying(s, uid)
            _write_call(s, call, cpc=pc_code("put"))
        with s.when(And(Not(takes), Not(by_event))):
            _write_call(s, call, cpc=pc_code("test_dying"), cinline=True)
    return True


@_call_step("test_dying")
def test_dying(s: Sym, p: Params, f: Flags, a: dict[str, Any], call: Term) -> Term:
    """`smp.test_dying`: death_by_timeout()'s DYING test, or with `delete_test_and_set_dying`
    nf_ct_delete()'s test_and_set_bit()."""
    uid = s.at("cslot", call)
    dying = s.at("dbit", uid)
    if p.era.delete_test_and_set_dying:
        with s.when(dying):
            held = s.at("cheld", call)
            with s.when(held):
                _write_call(s, call, cpc=pc_code("put"))
            with s.when(Not(held)):
                _end_call(s, call)
        with s.when(Not(dying)):
            _set_dying(s, uid)
            _write_call(s, call, cpc=pc_code("report"))
    else:
        _write_call(s, call, cpc=If(dying, pc_code("set_dying"), pc_code("report")))
    return True


@_call_step("report")
def report_destroy(s: Sym, p: Params, f: Flags, a: dict[str, Any], call: Term) -> Term:
    """`smp.report_destroy`: nf_conntrack_event_report(IPCT_DESTROY, ...)."""
    uid = s.at("cslot", call)
    inline = s.at("cinline", call)
    portid = If(inline, 0, s.at("cport", call))
    echo = And(Not(inline), s.at("cecho", call))
    k.note_death(s, uid)
    failed = k.eventmask_report(s, p, f, uid, IPCT_DESTROY, portid, echo)
    with s.when(failed):
        _write_call(s, call, cpc=pc_code("unlink"), cfailed=True)
    with s.when(Not(failed)):
        k.ecache_work_kick(s, p)
        after = "unlink" if p.era.delete_test_and_set_dying else "set_dying"
        _write_call(s, call, cpc=pc_code(after), cfailed=False)
    return True


@_call_step("set_dying")
def set_dying(s: Sym, p: Params, f: Flags, a: dict[str, Any], call: Term) -> Term:
    """`smp.set_dying`: set_bit(IPS_DYING_BIT); ctnetlink as released goes on to nf_ct_kill()."""
    _set_dying(s, s.at("cslot", call))
    kill: Term = False
    if not p.era.delete_takes_timer:
        kill = And(s.at("cfn", call) == CTNETLINK, Not(s.at("cinline", call)))
    _write_call(s, call, cpc=If(kill, pc_code("del_timer"), pc_code("unlink")))
    return True


@_call_step("unlink", lock=True)
def unlink(s: Sym, p: Params, f: Flags, a: dict[str, Any], call: Term) -> Term:
    """`smp.unlink`: nf_ct_delete_from_lists(); an unhashed conntrack is a double unlink."""
    uid = s.at("cslot", call)
    hashed = s.at("inH", uid)
    with s.when(Not(hashed)):
        k.crash(s, CRASH_DOUBLE_UNLINK)
    with s.when(hashed):
        s.put("inH", False, uid)
        nxt = If(s.at("cfailed", call), pc_code("insert_dying"), pc_code("put_base"))
        _write_call(s, call, cpc=nxt)
    return True


@_call_step("insert_dying", lock=True)
def insert_dying(s: Sym, p: Params, f: Flags, a: dict[str, Any], call: Term) -> Term:
    """`smp.insert_dying`: nf_ct_insert_dying_list() (the worker's list with
    `retry_by_worker`); a conntrack already there, or a pending ct->timeout, crashes."""
    uid = s.at("cslot", call)
    twice = s.at("inD", uid)
    pending = And(Not(twice), s.at("timer", uid) != NO_TIMER)
    with s.when(twice):
        k.crash(s, CRASH_DOUBLE_DYING)
    with s.when(pending):
        k.crash(s, CRASH_TIMER_PENDING)
    with s.when(And(Not(twice), Not(pending))):
        k.dying_list_add(s, p, uid)
        held = s.at("cheld", call)
        with s.when(held):
            _write_call(s, call, cpc=pc_code("put"))
        with s.when(Not(held)):
            _after_put(s, call)
    return True


@_call_step("put", "put_base")
def put(s: Sym, p: Params, f: Flags, a: dict[str, Any], call: Term) -> Term:
    """`smp.put`: nf_ct_put() (`lists.nf_ct_put`): the last reference frees the conntrack."""
    uid = s.at("cslot", call)
    refs = s.at("refs", uid)
    bad = Or(Not(s.at("alloc", uid)), refs <= 0)
    last = And(Not(bad), refs == 1)
    linked = And(last, Or(s.at("inH", uid), s.at("inD", uid), s.at("inU", uid)))
    freeing = And(last, Not(linked))
    fault = Or(bad, linked, And(freeing, k.frees_in_use(s, uid)))
    with s.when(bad):
        k.crash(s, CRASH_USE_AFTER_FREE)
    with s.when(And(Not(bad), refs > 1)):
        s.put("refs", refs - 1, uid)
    with s.when(linked):
        k.crash(s, CRASH_FREED_LINKED)
    with s.when(freeing):
        k.free(s, uid)
    with s.when(Not(fault)):
        base_held = And(s.at("cpc", call) == pc_code("put_base"), s.at("cheld", call))
        with s.when(base_held):
            _write_call(s, call, cpc=pc_code("put"))
        with s.when(Not(base_held)):
            _after_put(s, call)
    return True


def ecache_work_evict_list(s: Sym, p: Params, f: Flags, a: dict[str, Any]) -> Term:
    """`smp.ecache_work_evict_list`: the 3.17 to 4.8 ecache work walks the dying list from the
    head, skipping DYING entries (not with `ecache_destroy_state`), and stops at the first
    failure; the delivered entries are put after the walk."""
    if not _smp(p, s) or not p.era.retry_by_worker:
        return False
    guard = s.get("worker") == 0
    s.put("worker", -1)
    n = len(s.get("alloc"))
    size = count(s.get("inD"))
    walking: Term = True
    delay: Term = -1
    delivered: list[tuple[Term, Term]] = []
    for j in range(n):
        here, uid = k.dying_at(s, size - 1 - j)
        visit = And(walking, here)
        skip: Term = False if p.era.ecache_destroy_state else s.at("dbit", uid)
        send = And(visit, Not(skip))
        failed: Term = False
        with s.when(send):
            failed = k.eventmask_report(s, p, f, uid, IPCT_DESTROY, 0, False)
        ok = And(send, Not(failed))
        if not p.era.ecache_destroy_state:
            with s.when(ok):
                _set_dying(s, uid)
        delay = If(And(send, failed), p.worker_retry_delay, delay)
        delivered.append((ok, uid))
        walking = And(walking, Not(And(send, failed)))
    for ok, uid in delivered:
        with s.when(And(ok, Not(s.get("crashed")))):
            k.free_dying(s, uid)
    with s.when(Not(s.get("crashed"))):
        s.put("worker", delay)
        s.put("dwork_pending", delay > 0)
    return guard
