"""The waiting room: accepted plain-HTTP connections whose first request head has not arrived.

A connection waiting here is a socket, the bytes it sent so far and a deadline, watched in a
selector of its own (one file descriptor in the event loop for all of them) and closed by one
timer for all of them, in order of arrival. No task, transport, stream or timer is built per
connection: that is what lets the loop take a flood of connections that send half a request and
stall at the rate they arrive, and so keep the kernel's accept queue short for the scrape that
arrives behind them. A connection leaves the room when its head is complete (or longer than any
head may be), to be served, or when it is closed: at its deadline, when the client goes away,
or to make room (``close``).
"""

from __future__ import annotations

import asyncio
import selectors
import socket
from collections.abc import Callable

_HEAD_END = b"\r\n\r\n"
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)  # reads that never block, on a blocking socket
_SWEEP_SLACK = 0.01  # deadlines this close together are closed by one turn of the timer


def complete_head(sock: socket.socket) -> bytes | None:
    """What ``sock`` sent so far, read without waiting, if it holds a whole request head."""
    try:
        data = sock.recv(65536, _DONTWAIT)
    except OSError:
        return None
    return data if _HEAD_END in data else None


class Waiter:
    """One connection in the room. Never busy: a waiter has no request being answered."""

    __slots__ = ("data", "deadline", "sock")
    busy = False

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.data = b""
        self.deadline = deadline


class WaitingRoom:
    """Holds waiters for ``timeout`` seconds each. ``on_head(waiter)`` is called when a waiter's
    head is complete or longer than ``max_head`` (the waiter has left the room, its socket is
    the caller's); ``on_gone(waiter)`` when the room closed it (deadline, or the client left)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        timeout: float,
        max_head: int,
        on_head: Callable[[Waiter], None],
        on_gone: Callable[[Waiter], None],
    ) -> None:
        self._loop = loop
        self._timeout = timeout
        self._max_head = max_head
        self._on_head = on_head
        self._on_gone = on_gone
        self._selector = selectors.DefaultSelector()
        self._waiters: dict[Waiter, None] = {}  # in order of arrival, so of deadline
        self._sweep: asyncio.TimerHandle | None = None
        loop.add_reader(self._selector.fileno(), self._read)

    def __len__(self) -> int:
        return len(self._waiters)

    def add(self, sock: socket.socket) -> Waiter:
        """Start waiting for ``sock``'s request head."""
        if not _DONTWAIT:
            sock.setblocking(False)
        waiter = Waiter(sock, self._loop.time() + self._timeout)
        self._selector.register(sock, selectors.EVENT_READ, waiter)
        self._waiters[waiter] = None
        if self._sweep is None:
            self._sweep = self._loop.call_at(waiter.deadline, self._expire)
        return waiter

    def close(self, waiter: Waiter) -> None:
        """Close ``waiter``'s connection now (without calling ``on_gone``)."""
        self._leave(waiter)
        waiter.sock.close()

    def close_all(self) -> None:
        """Close every waiter (calling ``on_gone``) and stop watching: the room is done."""
        for waiter in list(self._waiters):
            self.close(waiter)
            self._on_gone(waiter)
        if self._sweep is not None:
            self._sweep.cancel()
        self._loop.remove_reader(self._selector.fileno())
        self._selector.close()

    def _leave(self, waiter: Waiter) -> None:
        if waiter in self._waiters:  # not closed already
            del self._waiters[waiter]
            self._selector.unregister(waiter.sock)

    def _read(self) -> None:
        for key, _ in self._selector.select(0):
            waiter: Waiter = key.data
            try:
                chunk = waiter.sock.recv(65536, _DONTWAIT)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                chunk = b""
            if not chunk:  # the client went away before its request was complete
                self.close(waiter)
                self._on_gone(waiter)
                continue
            start = max(0, len(waiter.data) - len(_HEAD_END) + 1)
            waiter.data += chunk
            # past max_head + 3 bytes without the end of a head, the stream that reads it next
            # answers 431, as it would have had it read them itself
            too_long = len(waiter.data) > self._max_head + len(_HEAD_END)
            if too_long or waiter.data.find(_HEAD_END, start) >= 0:
                self._leave(waiter)
                self._on_head(waiter)

    def _expire(self) -> None:
        self._sweep = None
        now = self._loop.time()
        while self._waiters:  # oldest first: stop at the first still in time
            waiter = next(iter(self._waiters))
            if waiter.deadline > now:
                when = max(waiter.deadline, now + _SWEEP_SLACK)
                self._sweep = self._loop.call_at(when, self._expire)
                return
            self.close(waiter)
            self._on_gone(waiter)
