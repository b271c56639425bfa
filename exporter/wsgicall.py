"""Running a WSGI app on a worker thread, and sending what it answers down an asyncio stream.

Only the loop touches the stream and only workers run the app: the app's answer, and then each
piece of its body, are pulled on a worker, so a /metrics body is never joined whole nor rendered
on the loop.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from exporter.httpwire import Request, environ, response_head

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


async def respond(
    app: WsgiApp,
    request: Request,
    body: bytes,
    writer: asyncio.StreamWriter,
    https: bool,
    pool: Executor,
    write_timeout: float,
) -> bool:
    """Answer one request; False when the connection must close. A body whose length the
    app declared is streamed piece by piece as the app yields it (the /metrics body is
    never copied whole), each piece pulled on a worker, never on the loop, unless the body is
    bytes already in memory."""
    env = environ(request, body, peer(writer), local(writer), https)
    keep = request.keep_alive
    loop = asyncio.get_running_loop()
    answer = None
    try:
        answer = await loop.run_in_executor(pool, call_app, app, env)
        log.debug("%s %s %s: %s", env["REMOTE_ADDR"], request.method, env["PATH_INFO"],
                  answer.status)  # fmt: skip
        http10 = request.version == b"HTTP/1.0"
        head = response_head(answer.status, answer.headers, answer.length, not keep, http10)

        # A body already in memory (the gzip /metrics body: a tuple of pieces) is written
        # straight from the loop. Pulling each piece on a worker costs two thread hand-offs,
        # and with the interpreter busy with background syncs each hand-off can wait several
        # milliseconds: seconds for a 19 MB body.
        async def pull() -> bytes | None:
            if answer.ready:
                return next_piece(answer.body)
            return await loop.run_in_executor(pool, next_piece, answer.body)

        piece = None
        if request.method != "HEAD":  # the head goes out with the first piece, not alone
            piece = await pull()
        writer.write(head + (piece or b""))
        while piece is not None:
            await asyncio.wait_for(writer.drain(), write_timeout)
            piece = await pull()
            if piece is not None:
                writer.write(piece)
        await asyncio.wait_for(writer.drain(), write_timeout)
    except BodyError:
        return False  # the head is out: all that is left is to close the connection
    finally:
        if answer is not None:
            await loop.run_in_executor(pool, answer.close)
    return keep


class BodyError(Exception):
    """The app failed while its body was being sent."""


@dataclass
class Answer:
    status: str
    headers: list[tuple[str, str]]
    body: Iterator[bytes]
    length: int
    close: Callable[[], None] = lambda: None
    ready: bool = False  # the body is a sequence of bytes already in memory


def next_piece(body: Iterator[bytes]) -> bytes | None:
    """The next non-empty piece of a body, None at its end; BodyError if the app fails."""
    try:
        for piece in body:
            if piece:
                return piece
    except Exception as error:
        log.exception("error while sending a body")
        raise BodyError from error
    return None


def call_app(app: WsgiApp, env: dict[str, Any]) -> Answer:
    """Run the WSGI app in a worker thread. A body whose Content-Length the app gave stays an
    iterator, to be streamed; any other is joined here (small: errors, pages). Never raises."""
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
        started[:] = [(status, headers)]

    try:
        result = app(env, start_response)
        body = iter(result)
        first = b"" if started else next(body, b"")  # a generator app starts on its first piece
        status, headers = started[0]
        close = getattr(result, "close", None) or (lambda: None)
        declared = [v for k, v in headers if k.lower() == "content-length"]
        if declared:
            pieces = itertools.chain([first], body)
            ready = isinstance(result, (list, tuple)) and all(isinstance(p, bytes) for p in result)
            return Answer(status, headers, pieces, int(declared[0]), close, ready)
        try:
            data = first + b"".join(body)
        finally:
            close()
        return Answer(status, headers, iter([data]), len(data))
    except Exception:
        log.exception("error answering %s %s", env.get("REQUEST_METHOD"), env.get("PATH_INFO"))
        data = b"500 error\n"
        return Answer("500 Internal Server Error", [("Content-Type", "text/plain")],
                       iter([data]), len(data))  # fmt: skip


def peer(writer: asyncio.StreamWriter) -> tuple[str, int]:
    peer = writer.get_extra_info("peername") or ("?", 0)
    return str(peer[0]), int(peer[1])


def local(writer: asyncio.StreamWriter) -> tuple[str, int]:
    local = writer.get_extra_info("sockname") or ("", 0)
    return str(local[0]), int(local[1])
