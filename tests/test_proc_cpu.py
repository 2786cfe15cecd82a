"""bench/proc_cpu.py reads /proc as proc(5) writes it: the CPU per quotation
of bench_cpu.py counts the right processes, each tick once."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import proc_cpu

# a command name with spaces and parentheses, as a process may set it
STAT = (
    "4242 (odoo: worker (http) 1) S 4200 4242 4200 0 -1 4194560 1 0 0 0 "
    "170 30 9 3 20 0 1 0 88123 1000 100 18446744073709551615"
)


def test_a_stat_line_gives_the_own_and_the_reaped_ticks():
    stat = proc_cpu.parse_stat(STAT)
    assert (stat.pid, stat.name, stat.ppid) == (4242, "odoo: worker (http) 1", 4200)
    assert (stat.own, stat.reaped, stat.start) == (200, 12, 88123)


def test_this_process_is_read_from_proc_with_its_parent():
    stats = proc_cpu.read_stats()
    assert stats[os.getpid()].ppid == os.getppid()


def test_a_tree_counts_descendants_and_not_strangers():
    def stat(pid, ppid, own, reaped=0):
        return proc_cpu.Stat(pid, "python3", ppid, 1, own, reaped)

    stats = {
        10: stat(10, 1, 5, reaped=7),  # the master, and the workers it reaped
        11: stat(11, 10, 100),
        12: stat(12, 11, 20),  # a grandchild
        13: stat(13, 1, 1000),  # another helper's process
    }
    assert proc_cpu.tree_ticks(stats, 10) == 5 + 7 + 100 + 20


def test_only_the_backends_of_the_database_are_theirs():
    database = proc_cpu.backend_database
    title = "postgres: 15/main: odoo_mcp omq_it_1 127.0.0.1(37692) idle"
    assert database(title) == "omq_it_1"
    assert database("postgres: odoo omq_it_2 [local] SELECT") == "omq_it_2"
    assert database("postgres: 15/main: checkpointer ") is None
    assert database("postgres: autovacuum launcher") is None
    assert database("/usr/lib/postgresql/15/bin/postgres\0-D\0/data") is None


def test_backends_born_or_ended_in_the_window_count_once():
    first = {(1, 100): 50, (2, 100): 10}
    samples = [
        {(1, 100): 60, (2, 100): 15},
        {(1, 100): 70, (3, 200): 4},  # 2 ended after 5 ticks; 3 was born
        {(1, 100): 75, (3, 200): 9},
    ]
    assert proc_cpu.backend_ticks(first, samples) == (25 + 5 + 9, 1)
