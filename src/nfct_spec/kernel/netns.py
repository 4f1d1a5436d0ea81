"""Throw-away network namespaces, sysctl save/restore and signal-safe cleanup.

The oracle changes the live kernel, so it keeps three promises on every exit path (normal
return, exception, SIGINT, SIGTERM, SIGHUP):

* it only touches network namespaces it created (named ``nfctspec-<pid>-<random>``) and removes
  them;
* every sysctl it writes is restored, including the global ``nf_conntrack_max`` (only writable
  from the initial namespace, and shared by all namespaces of the host);
* runs are serialised with a host-wide lock, and the original values of global sysctls are
  journalled before they change, so that even a run killed with SIGKILL is repaired by the next
  one (namespaces whose creator died are removed at the same time).

Entering a namespace uses ``setns(2)`` through ctypes on the calling thread only (Python 3.11 has
no ``os.setns``).  Sockets and ``/proc/sys/net`` files opened inside stay bound to that namespace
after the thread has gone back.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from nfct_spec.files import ShapeError, expect_object, expect_str, load_json

PREFIX = "nfctspec-"
CLONE_NEWNET = 0x40000000
MNT_DETACH = 2
NETNS_DIR = Path("/run/netns")
STATE_DIR = Path("/run/nfctspec")
LOCK_PATH = STATE_DIR / "lock"
JOURNAL_PATH = STATE_DIR / "sysctl-journal.json"
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_COMMAND_TIMEOUT = 10.0


class KernelUnavailable(RuntimeError):
    """The live kernel cannot be used here (not root, tools or namespaces missing)."""


class CleanupError(RuntimeError):
    """Some cleanup step failed; the message lists every failed step."""


class Interrupted(KeyboardInterrupt):
    """A handled signal arrived; raised in the main thread so that cleanup code unwinds."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def unavailable_reason() -> str | None:
    """Why the live-kernel oracle cannot run here, or ``None`` if it can (cheap checks only)."""
    if not sys.platform.startswith("linux"):
        return f"needs Linux, running on {sys.platform}"
    if os.geteuid() != 0:
        return f"needs root to create network namespaces (euid is {os.geteuid()})"
    for tool, package in (("ip", "iproute2"), ("nft", "nftables")):
        if shutil.which(tool) is None:
            return f"`{tool}` not found: install the Debian package {package}"
    if not Path("/proc/thread-self/ns/net").exists():
        return "network namespaces are not available (no /proc/thread-self/ns/net)"
    if not Path("/proc/sys/net/netfilter/nf_conntrack_max").exists():
        return "conntrack is not available (no /proc/sys/net/netfilter/nf_conntrack_max)"
    if not hasattr(_libc(), "setns"):
        return "the C library has no setns()"
    return None


def probe() -> str | None:
    """Like :func:`unavailable_reason`, and also create and remove a namespace to prove it works."""
    reason = unavailable_reason()
    if reason is not None:
        return reason
    try:
        with host_lock():
            ns = NetNS.create()
            try:
                with ns.entered():
                    pass
            finally:
                ns.destroy()
    except (OSError, subprocess.SubprocessError, KernelUnavailable) as exc:
        return f"cannot create a network namespace: {exc}"
    return None


def _run(argv: list[str], stdin: str | None = None) -> None:
    """Run a helper in its own process group, so a terminal's Ctrl-C reaches only us."""
    proc = subprocess.run(
        argv,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=_COMMAND_TIMEOUT,
        process_group=0,
        check=False,
    )
    if proc.returncode != 0:
        raise OSError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")


@contextlib.contextmanager
def _setns_to(target: int | Path) -> Iterator[None]:
    """The calling thread in the namespace of `target` (a descriptor, or a namespace file that
    is opened only for the setns() itself), and back in its own on exit."""
    libc = _libc()
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if isinstance(target, int):
            _check(libc.setns(target, CLONE_NEWNET), "setns")
        else:
            fd = os.open(target, os.O_RDONLY | os.O_CLOEXEC)
            try:
                _check(libc.setns(fd, CLONE_NEWNET), "setns")
            finally:
                os.close(fd)
        try:
            yield
        finally:
            _check(libc.setns(home, CLONE_NEWNET), "setns back")
    finally:
        os.close(home)


class NetNS:
    """A named network namespace created by this process (``ip netns add``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.path = NETNS_DIR / name

    @classmethod
    def create(cls, name: str | None = None) -> NetNS:
        """Create ``nfctspec-<pid>-<random>`` (the pid lets a later run spot orphans)."""
        ns = cls(name or f"{PREFIX}{os.getpid()}-{secrets.token_hex(4)}")
        if not ns.name.startswith(PREFIX):
            raise ValueError(f"namespace names must start with {PREFIX!r}")
        _run(["ip", "netns", "add", ns.name])
        return ns

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Move the calling thread into the namespace, and back on exit.

        The namespace's file is closed as soon as the thread is in: an open descriptor of it
        would keep the namespace alive, and a scenario may make it exit while inside."""
        with _setns_to(self.path):
            yield

    def run(self, argv: list[str], stdin: str | None = None) -> None:
        """Run a command inside the namespace (``ip netns exec``)."""
        _run(["ip", "netns", "exec", self.name, *argv], stdin)

    def exists(self) -> bool:
        return self.path.exists()

    def destroy(self) -> None:
        """Remove the name; the kernel frees the namespace once its last socket is closed.

        ``ip netns del`` is tried first; if it fails (for instance because it was killed), the
        bind mount is detached and the file removed directly, which is all it does.
        """
        if not self.exists():
            return
        try:
            _run(["ip", "netns", "del", self.name])
        except (OSError, subprocess.SubprocessError):
            _check(_libc().umount2(str(self.path).encode(), MNT_DETACH), f"umount {self.path}")
            self.path.unlink(missing_ok=True)


def list_namespaces() -> list[str]:
    """Names of the oracle's namespaces currently present on the host."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(PREFIX))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _orphaned(name: str) -> bool:
    parts = name[len(PREFIX) :].split("-")
    return len(parts) == 2 and parts[0].isdigit() and not _pid_alive(int(parts[0]))


def sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


def read_sysctl(name: str) -> str:
    """Read a sysctl of the calling thread's namespace (per-netns ones differ per namespace)."""
    return sysctl_path(name).read_text().strip()


def write_sysctl(name: str, value: str) -> None:
    sysctl_path(name).write_text(f"{value}\n")


def _journal_from_json(data: Any) -> dict[str, str]:
    """Only ``net.netfilter.*`` names with integer values are ever journalled."""
    entries = expect_object(data, "the top level")
    for name, value in entries.items():
        if not name.startswith("net.netfilter."):
            raise ShapeError(f"{name}: not a net.netfilter sysctl")
        text = expect_str(value, name)
        if not text.lstrip("-").isdigit():
            raise ShapeError(f"{name}: {text!r} is not an integer")
    return dict(entries)


def _read_journal() -> dict[str, str]:
    """The journalled originals. A journal that cannot be read is an error naming it (the
    original values it holds must be restored by hand, never silently forgotten)."""
    if not JOURNAL_PATH.exists() and not JOURNAL_PATH.is_symlink():
        return {}
    return load_json(JOURNAL_PATH, "sysctl journal", _journal_from_json)


def _write_journal(entries: dict[str, str]) -> None:
    if not entries:
        JOURNAL_PATH.unlink(missing_ok=True)
        return
    tmp = JOURNAL_PATH.with_suffix(".tmp")
    tmp.write_text(json.dumps(entries, sort_keys=True))
    os.replace(tmp, JOURNAL_PATH)


def recover_stale() -> list[str]:
    """Repair what a killed run left: journalled global sysctls and orphaned namespaces.

    Must be called with the host lock held, so no live run is using either.  Returns what was
    repaired, for the caller to report.
    """
    repaired = []
    for name, value in _read_journal().items():
        write_sysctl(name, value)
        repaired.append(f"restored {name}={value}")
    _write_journal({})
    for ns_name in list_namespaces():
        if _orphaned(ns_name):
            NetNS(ns_name).destroy()
            repaired.append(f"removed orphaned namespace {ns_name}")
    return repaired


@contextlib.contextmanager
def host_lock(timeout: float = 60.0) -> Iterator[None]:
    """Serialise oracle runs on this host.

    Runs must not overlap: ``nf_conntrack_max`` is global, and in ``nf_conntrack_events`` auto
    mode a listener anywhere on the host changes which conntracks get events.
    """
    STATE_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise KernelUnavailable(
                        f"another nfct-spec kernel run holds {LOCK_PATH} (waited {timeout:.0f} s)"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


@dataclass
class _Change:
    name: str
    old: str
    netns: NetNS | None


@dataclass
class SysctlGuard:
    """Writes sysctls and remembers their old values, to restore them in reverse order.

    Per-netns sysctls are written inside ``netns``.  Global ones (``netns`` is ``None``) are
    written from the namespace behind ``home_fd`` (the initial one: in any other namespace
    ``nf_conntrack_max`` is read-only) and journalled on disk before the write, so
    :func:`recover_stale` can restore them after a SIGKILL.
    """

    home_fd: int | None = None
    changes: list[_Change] = field(default_factory=list)

    def _scope(self, netns: NetNS | None) -> contextlib.AbstractContextManager[None]:
        if netns is not None:
            return netns.entered()
        if self.home_fd is not None:
            return _setns_to(self.home_fd)
        return contextlib.nullcontext()

    def set(self, name: str, value: int | str, netns: NetNS | None = None) -> str:
        """Write ``value``; returns the value it replaced."""
        with self._scope(netns):
            old = read_sysctl(name)
            self.changes.append(_Change(name, old, netns))
            if netns is None:
                journal = _read_journal()
                journal.setdefault(name, old)
                _write_journal(journal)
            write_sysctl(name, str(value))
        return old

    def restore_one(self, name: str) -> str | None:
        """Put one sysctl back now (undoing all its changes); the value restored, if any."""
        mine = [c for c in self.changes if c.name == name]
        if not mine:
            return None
        self.changes = [c for c in self.changes if c.name != name]
        self._write_back(mine[0])
        return mine[0].old

    def restore(self) -> list[str]:
        """Restore everything, newest change first; returns the failures."""
        failures = []
        while self.changes:
            change = self.changes.pop()
            try:
                self._write_back(change)
            except OSError as exc:
                failures.append(f"restore {change.name}={change.old}: {exc}")
        return failures

    def _write_back(self, change: _Change) -> None:
        if change.netns is not None and not change.netns.exists():
            return
        with self._scope(change.netns):
            write_sysctl(change.name, change.old)
            if change.netns is None:
                journal = _read_journal()
                if journal.get(change.name) == change.old:
                    del journal[change.name]
                    _write_journal(journal)


class SignalGuard:
    """Turns SIGINT/SIGTERM/SIGHUP into :class:`Interrupted` exceptions in the main thread.

    While :meth:`deferred` is active (creation and cleanup), a signal is only remembered, so
    cleanup is never cut short half-way; it is raised when the deferred section ends, unless
    another exception is already on its way out.  Outside the main thread, where Python cannot
    install handlers, the guard does nothing and only normal unwinding cleans up.
    """

    def __init__(self) -> None:
        self._old: dict[int, Callable[[int, FrameType | None], object] | int | None] = {}
        self._deferring = 0
        self.pending: int | None = None

    def install(self) -> None:
        try:
            for signum in HANDLED_SIGNALS:
                self._old[signum] = signal.signal(signum, self._handle)
        except ValueError:
            self.uninstall()

    def uninstall(self) -> None:
        for signum, old in self._old.items():
            signal.signal(signum, old)
        self._old.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._deferring:
            self.pending = self.pending or signum
            return
        raise Interrupted(signum)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1
        self.raise_pending()

    def raise_pending(self) -> None:
        if self.pending is not None and not self._deferring:
            signum, self.pending = self.pending, None
            raise Interrupted(signum)


class Sandbox:
    """A namespace plus everything to undo; get one from :class:`sandbox`.

    Resources (sockets, descriptors) registered with :meth:`on_cleanup` are closed before the
    namespace is removed, since each open socket keeps the namespace alive.
    """

    def __init__(self, netns: NetNS, home_fd: int) -> None:
        self.netns = netns
        self.home_fd = home_fd
        self.sysctls = SysctlGuard(home_fd)
        self._closers: list[Callable[[], None]] = []
        self._others: list[NetNS] = []
        self.repaired: list[str] = []

    def other_namespace(self) -> NetNS:
        """A second namespace of this run, removed at cleanup, in which the sandbox namespace
        has an id (`ip netns set`): a NETLINK_LISTEN_ALL_NSID socket there receives the
        sandbox's broadcasts, and outlives the sandbox if a scenario deletes it."""
        other = NetNS.create()
        self._others.append(other)
        other.run(["ip", "netns", "set", self.netns.name, str(len(self._others))])
        return other

    def leave(self) -> None:
        """Move the calling thread back to the namespace it came from."""
        _check(_libc().setns(self.home_fd, CLONE_NEWNET), "setns home")

    def on_cleanup(self, closer: Callable[[], None]) -> None:
        self._closers.append(closer)

    def set_sysctl(self, name: str, value: int | str, *, per_netns: bool) -> str:
        """Write a sysctl (per-netns: in the sandbox; global: in the init namespace)."""
        return self.sysctls.set(name, value, self.netns if per_netns else None)

    def cleanup(self) -> None:
        """Go home, close resources, restore sysctls, remove the namespace; report all failures."""
        failures = []
        try:
            _check(_libc().setns(self.home_fd, CLONE_NEWNET), "setns home")
        except OSError as exc:
            failures.append(str(exc))
        while self._closers:
            try:
                self._closers.pop()()
            except Exception as exc:
                failures.append(f"close: {exc}")
        failures += self.sysctls.restore()
        for netns in (self.netns, *self._others):
            try:
                netns.destroy()
            except OSError as exc:
                failures.append(f"remove namespace {netns.name}: {exc}")
        if failures:
            raise CleanupError("; ".join(failures))


def sandbox(lock_timeout: float = 60.0) -> SandboxScope:
    """``with sandbox() as box:`` runs the block in a fresh namespace; see :class:`SandboxScope`."""
    return SandboxScope(lock_timeout)


class SandboxScope:
    """Context manager: lock the host, repair stale state, create a namespace, clean up after.

    Cleanup runs on every exit path, and starts by moving the thread back to the namespace it
    entered from, in case a signal cut a ``NetNS.entered`` block short.  A signal during the
    block is raised as :class:`Interrupted` once cleanup is done; the caller decides how to exit
    (:func:`exit_for` re-raises it the conventional way).
    """

    def __init__(self, lock_timeout: float = 60.0) -> None:
        self._lock_timeout = lock_timeout
        self._signals = SignalGuard()
        self._stack = contextlib.ExitStack()
        self._box: Sandbox | None = None

    def __enter__(self) -> Sandbox:
        reason = unavailable_reason()
        if reason is not None:
            raise KernelUnavailable(reason)
        self._signals.install()
        try:
            with self._signals.deferred():
                home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
                self._stack.callback(os.close, home)
                self._stack.enter_context(host_lock(self._lock_timeout))
                repaired = recover_stale()
                self._box = Sandbox(NetNS.create(), home)
                self._box.repaired = repaired
        except BaseException:
            self._finish(failed=True)
            raise
        return self._box

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._finish(failed=exc_type is not None)

    def _finish(self, *, failed: bool) -> None:
        try:
            with self._signals.deferred():
                try:
                    if self._box is not None:
                        self._box.cleanup()
                finally:
                    self._stack.close()
                    self._signals.uninstall()
                    if failed:
                        self._signals.pending = None
        except CleanupError as exc:
            if not failed:
                raise
            print(f"nfct-spec: cleanup failed: {exc}", file=sys.stderr)


def exit_for(exc: Interrupted) -> None:
    """Die of the signal that interrupted us, after cleanup, as a shell expects."""
    signal.signal(exc.signum, signal.SIG_DFL)
    os.kill(os.getpid(), exc.signum)
    raise SystemExit(128 + exc.signum)
