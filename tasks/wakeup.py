"""The queue's doorbell: an enqueue wakes the idle consumer at once, so it need not poll.

Polling an SQLite queue costs the consumer a `begin exclusive` per thread per poll whether or
not there is work (four threads every 50 ms: 2.2 % of a core, around the clock). Instead the
enqueuing process (the API, or the consumer's own scheduler and retries) sends one datagram to
a UNIX socket in Linux's abstract namespace named after the queue file, and the consumer's
listener thread, blocked on that socket, lets one waiting worker look. A long fallback poll
(VM_API_QUEUE_FALLBACK_POLL) still finds a task whose ring was lost (the consumer was starting).

Ringing never blocks and never fails an enqueue: no consumer, or a full socket buffer (the
consumer has rings waiting anyway), is simply ignored.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import select
import socket
import threading
from pathlib import Path

log = logging.getLogger("vm_api.wakeup")


def doorbell_address(queue_file: str | Path, queue_name: str = "") -> bytes:
    """An abstract socket name (no file to clean up, no path length limit) per queue file and
    queue name (one file holds a queue per Docker host)."""
    where = (
        f"{Path(queue_file).absolute()}\0{queue_name}"
        if queue_name
        else str(Path(queue_file).absolute())
    )
    digest = hashlib.sha256(where.encode()).hexdigest()[:32]
    return b"\0vm-api-queue-" + digest.encode()


_sender: socket.socket | None = None
_sender_lock = threading.Lock()


def _sending_socket() -> socket.socket:
    """One unbound datagram socket per process, shared by every bell (sendto is thread-safe)."""
    global _sender
    with _sender_lock:
        if _sender is None:
            _sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            _sender.setblocking(False)
            atexit.register(_sender.close)  # closed, not left to the garbage collector at exit
        return _sender


class Bell:
    """The enqueuer's side: one datagram per enqueue (or per batch)."""

    def __init__(self, queue_file: str | Path, queue_name: str = "") -> None:
        self.address = doorbell_address(queue_file, queue_name)

    def ring(self) -> None:
        with contextlib.suppress(OSError):  # nobody listening, or rings already waiting
            _sending_socket().sendto(b"!", self.address)


class Doorbell:
    """The consumer's side: a listener thread and the tokens idle workers wait for.

    A ring (or the fallback timeout) gives one token, which wakes one waiting worker; a worker
    that found a task passes one on (`found_task`), so a burst wakes as many workers as it
    needs while a single task costs two dequeues. Tokens are capped at the number of workers.
    """

    def __init__(
        self, queue_file: str | Path, workers: int, fallback: float, queue_name: str = ""
    ) -> None:
        self.address = doorbell_address(queue_file, queue_name)
        self.workers = workers
        self.fallback = fallback
        self._tokens = 0
        self._stopping = False
        self._condition = threading.Condition()
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(self.address)  # raises if another consumer holds it: see start()
        self._socket.setblocking(False)
        self._thread = threading.Thread(target=self._listen, name="doorbell", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _give(self) -> None:
        with self._condition:
            if self._tokens < self.workers:
                self._tokens += 1
            self._condition.notify()

    def found_task(self) -> None:
        """A worker got a task: another worker looks too (there may be more)."""
        self._give()

    def wait(self) -> None:
        """Until a token (a ring, a fellow worker, the fallback) or the stop."""
        with self._condition:
            while self._tokens == 0 and not self._stopping:
                self._condition.wait()
            if self._tokens:
                self._tokens -= 1

    def _listen(self) -> None:
        poller = select.poll()
        poller.register(self._socket, select.POLLIN)
        while not self._stopping:
            ready = poller.poll(self.fallback * 1000)
            if ready:
                # many rings since the last look are one wake-up
                with contextlib.suppress(BlockingIOError, OSError):
                    while self._socket.recv(64):
                        pass
            if not self._stopping:
                self._give()

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        # an empty datagram wakes the listener's poll at once
        waker = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        with contextlib.suppress(OSError), waker:
            waker.sendto(b"", self.address)
        self._thread.join(timeout=2)
        self._socket.close()
