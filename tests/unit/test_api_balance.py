"""The board on which gunicorn workers keep their open connections (api.balance); the workers
taking turns on a real server are tested in tests/e2e/test_api_server.py."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys

from gunicorn.util import load_class

from api.balance import STOPPING, BalancedThreadWorker, Board
from api.server import BALANCED_WORKER, gunicorn_options
from ingest.settings import Settings


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()  # exited and reaped: no process has this pid now
    return process.pid


def test_each_worker_gets_a_slot_of_its_own_until_it_releases_it() -> None:
    board = Board(slots=3)
    me, parent, init = os.getpid(), os.getppid(), 1  # live processes, as workers are
    assert [board.claim(pid) for pid in (me, parent)] == [0, 1]
    board.publish(1, 7)
    assert board.counts() == {me: 0, parent: 7}
    board.release(1, me)  # not its holder: nothing happens
    assert board.counts() == {me: 0, parent: 7}
    board.release(1, parent)
    assert board.counts() == {me: 0}
    assert board.claim(init) == 1  # the freed slot, with no connections
    assert board.counts() == {me: 0, init: 0}


def test_a_killed_workers_slot_is_taken_over_and_a_full_board_says_so() -> None:
    board = Board(slots=2)
    gone = dead_pid()
    assert board.claim(os.getpid()) == 0
    assert board.claim(gone) == 1  # as if it had started, then been killed outright
    board.publish(1, 5)
    assert board.claim(os.getppid()) == 1  # the dead worker's slot, its count reset
    assert board.counts() == {os.getpid(): 0, os.getppid(): 0}
    assert board.claim(1) is None  # both holders alive: no slot


def test_a_worker_steps_aside_only_for_a_live_worker_with_fewer_connections() -> None:
    board = Board(slots=4)
    me = board.claim(os.getpid())
    other = board.claim(os.getppid())
    assert me is not None and other is not None
    board.publish(me, 3)
    board.publish(other, 3)
    assert not board.fewer_elsewhere(me, 3)  # equal: its turn too
    board.publish(other, 2)
    assert board.fewer_elsewhere(me, 3)
    assert not board.fewer_elsewhere(other, 2)  # it does not count itself
    board.publish(other, STOPPING)  # a stopping worker accepts nothing: nobody waits for it
    assert not board.fewer_elsewhere(me, 3)
    killed = board.claim(dead_pid())
    assert killed is not None
    board.publish(killed, 0)
    assert not board.fewer_elsewhere(me, 3)  # a dead process's count does not hold anyone up


def _publish_from_child(board: Board, slot: int) -> None:
    board.publish(slot, 42)


def test_workers_forked_after_the_board_share_it() -> None:
    board = Board(slots=2)
    slot = board.claim(os.getpid())
    assert slot is not None
    child = multiprocessing.get_context("fork").Process(
        target=_publish_from_child, args=(board, slot)
    )
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert board.counts() == {os.getpid(): 42}  # written by the child, read by the parent


def test_the_worker_class_follows_the_setting() -> None:
    assert gunicorn_options(Settings())["worker_class"] == BALANCED_WORKER
    assert load_class(BALANCED_WORKER) is BalancedThreadWorker  # the name gunicorn loads
    off = gunicorn_options(Settings(api_balance_connections=False))
    assert off["worker_class"] == "gthread"
