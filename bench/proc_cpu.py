"""CPU time from /proc: a process tree's, and the PostgreSQL backends of a database.

Pure Python (Linux only), so that a benchmark and an ``odoo-bin shell`` script
measure the same way. A process tree is read at the start and the end only:
a worker that exits in between is counted through its parent's reaped
children (``cutime``/``cstime``), exactly once. PostgreSQL backends are
children of the postmaster, not of the tree: they are sampled while the
meter runs, so that one that ends in between is still counted up to its last
sample (``vanished`` says how many did).
"""

import contextlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
TICK_SECONDS = 1 / os.sysconf("SC_CLK_TCK")
SAMPLE_SECONDS = 0.2


@dataclass(frozen=True)
class Stat:
    pid: int
    name: str
    ppid: int
    start: int  # clock ticks after boot: with the pid, one process for ever
    own: int  # utime + stime, every thread
    reaped: int  # cutime + cstime: the children it waited for


def parse_stat(text):
    """A ``/proc/<pid>/stat`` line; the name may hold spaces and parentheses."""
    pid, _, rest = text.partition(" (")
    name, _, rest = rest.rpartition(") ")
    fields = rest.split()  # fields[0] is the state, field 3 of proc(5)
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return Stat(
        pid=int(pid),
        name=name,
        ppid=int(fields[1]),
        start=int(fields[19]),
        own=utime + stime,
        reaped=cutime + cstime,
    )


def backend_database(title):
    """The database a PostgreSQL backend serves, from its process title
    (``postgres: [cluster: ]user database host(port) state``), or None."""
    words = title.replace("\0", " ").split()
    if not words or words[0] != "postgres:":
        return None
    if len(words) > 1 and words[1].endswith(":"):  # cluster_name, e.g. "15/main:"
        words = words[1:]
    if len(words) < 4 or not (words[3].endswith(")") or words[3] == "[local]"):
        return None  # checkpointer, walwriter, autovacuum...: no client
    return words[2]


def read_stats():
    """Every process readable now, by pid."""
    stats = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):  # gone
                stats[int(entry.name)] = parse_stat((entry / "stat").read_text())
    return stats


def tree_ticks(stats, root):
    """Ticks of ``root`` and its descendants, their reaped children included."""
    children = {}
    for stat in stats.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid].own + stats[pid].reaped
            todo.extend(children.get(pid, ()))
    return total


def backends(stats, database):
    """``{(pid, start): ticks}`` of the PostgreSQL backends serving ``database``."""
    found = {}
    for stat in stats.values():
        if stat.name != "postgres":
            continue
        try:
            title = (PROC / str(stat.pid) / "cmdline").read_text()
        except OSError:
            continue
        if backend_database(title) == database:
            found[(stat.pid, stat.start)] = stat.own
    return found


def backend_ticks(first, samples):
    """Ticks the backends spent since ``first``, from the samples taken after
    it (each ``{(pid, start): ticks}``): a backend born later counts from 0,
    one that ended counts up to its last sample. Returns (ticks, vanished)."""
    last = {}
    for sample in samples:
        last.update(sample)
    ticks = sum(value - first.get(key, 0) for key, value in last.items())
    vanished = len(set(last) - set(samples[-1])) if samples else 0
    return ticks, vanished


@dataclass
class Meter:
    """CPU seconds of a process tree and of a database's backends, between
    ``start()`` and ``stop()``."""

    root: int
    database: str
    tree: float = 0.0
    postgres: float = 0.0
    vanished: int = 0
    _samples: list = field(default_factory=list)

    def start(self):
        stats = read_stats()
        self._tree = tree_ticks(stats, self.root)
        self._first = backends(stats, self.database)
        self._samples, self._stop = [], threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(SAMPLE_SECONDS):
            self._samples.append(backends(read_stats(), self.database))

    def stop(self):
        self._stop.set()
        self._thread.join()
        stats = read_stats()
        self._samples.append(backends(stats, self.database))
        self.tree = (tree_ticks(stats, self.root) - self._tree) * TICK_SECONDS
        ticks, self.vanished = backend_ticks(self._first, self._samples)
        self.postgres = ticks * TICK_SECONDS
        return self

    @property
    def total(self):
        return self.tree + self.postgres
