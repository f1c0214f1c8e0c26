"""The queue's doorbell: an enqueue wakes a waiting worker at once; stop releases them all."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from tasks.wakeup import Bell, Doorbell


def _waiter(doorbell: Doorbell, woken: list[float]) -> threading.Thread:
    thread = threading.Thread(target=lambda: (doorbell.wait(), woken.append(time.monotonic())))
    thread.start()
    return thread


def test_a_ring_wakes_a_waiting_worker_long_before_the_fallback(tmp_path: Path) -> None:
    doorbell = Doorbell(tmp_path / "queue.db", workers=2, fallback=60)
    doorbell.start()
    try:
        woken: list[float] = []
        thread = _waiter(doorbell, woken)
        time.sleep(0.2)
        assert woken == []  # nothing rang: it waits
        rung = time.monotonic()
        Bell(tmp_path / "queue.db").ring()
        thread.join(timeout=5)
        assert woken and woken[0] - rung < 0.5
    finally:
        doorbell.stop()


def test_another_queue_file_rings_another_bell(tmp_path: Path) -> None:
    doorbell = Doorbell(tmp_path / "queue.db", workers=1, fallback=60)
    doorbell.start()
    try:
        woken: list[float] = []
        thread = _waiter(doorbell, woken)
        Bell(tmp_path / "other.db").ring()
        thread.join(timeout=0.5)
        assert woken == []
    finally:
        doorbell.stop()
        thread.join(timeout=5)
    assert not thread.is_alive()  # stop released it


def test_the_fallback_poll_wakes_a_worker_without_a_ring(tmp_path: Path) -> None:
    doorbell = Doorbell(tmp_path / "queue.db", workers=1, fallback=0.2)
    doorbell.start()
    try:
        began = time.monotonic()
        doorbell.wait()
        assert 0.1 < time.monotonic() - began < 2
    finally:
        doorbell.stop()


def test_ringing_without_a_consumer_is_harmless(tmp_path: Path) -> None:
    Bell(tmp_path / "nobody.db").ring()


def test_a_host_queue_in_the_same_file_has_its_own_bell(tmp_path: Path) -> None:
    shared = Doorbell(tmp_path / "queue.db", workers=1, fallback=60)
    host = Doorbell(tmp_path / "queue.db", workers=1, fallback=60, queue_name="a")
    shared.start()
    host.start()
    try:
        woken: list[float] = []
        on_shared = _waiter(shared, woken)
        on_host = _waiter(host, [])
        Bell(tmp_path / "queue.db", "a").ring()
        on_host.join(timeout=5)
        assert not on_host.is_alive()  # the host's consumer woke
        on_shared.join(timeout=0.3)
        assert woken == []  # the shared queue's did not
    finally:
        shared.stop()
        host.stop()
        on_shared.join(timeout=5)
