"""A raw HTTP/1.1 engine on 127.0.0.1 that answers with exactly the bytes, framing and splits a test asks for.

Every request gets the current ``Answer``: a status, a body, how it is framed (Content-Length or
chunked), where it is cut into separate writes (each write is flushed, so the pieces reach the
client as separate reads), and an optional pause before the body. The server counts the bytes it
managed to hand to the kernel, so a test can see back-pressure reach the engine.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Answer:
    """What the raw engine sends for each request."""

    body: bytes = b"{}"
    status: int = 200
    framing: str = "length"  # "length" | "chunked"
    splits: Sequence[int] = ()  # offsets into the body where a new write starts
    content_type: str = "application/json"
    extra_headers: Sequence[tuple[str, str]] = ()
    pause_before_body_s: float = 0.0
    pause_between_s: float = 0.0
    stall_after: int | None = None  # stop sending (but keep the connection) after this many body bytes


def pieces(body: bytes, splits: Sequence[int]) -> list[bytes]:
    """``body`` cut at the given offsets (out-of-range and repeated offsets are ignored)."""
    cuts = sorted({s for s in splits if 0 < s < len(body)})
    bounds = [0, *cuts, len(body)]
    return [body[a:b] for a, b in itertools.pairwise(bounds) if b > a]


@dataclass
class RawUpstream:
    """The server; ``answer`` may be changed between requests."""

    answer: Answer = field(default_factory=Answer)
    requests: int = 0
    sent_body_bytes: int = 0
    last_request: bytes = b""
    url: str = ""
    _server: asyncio.Server | None = None
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=2)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                self.last_request = head + await reader.readexactly(length)
                self.requests += 1
                await self._answer(writer, self.answer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, answer: Answer) -> None:
        head = [f"HTTP/1.1 {answer.status} X", f"Content-Type: {answer.content_type}"]
        head += [f"{name}: {value}" for name, value in answer.extra_headers]
        if answer.framing == "chunked":
            head.append("Transfer-Encoding: chunked")
        else:
            head.append(f"Content-Length: {len(answer.body)}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        await writer.drain()
        if answer.pause_before_body_s:
            await asyncio.sleep(answer.pause_before_body_s)
        sent = 0
        for piece in pieces(answer.body, answer.splits):
            if answer.stall_after is not None and sent + len(piece) > answer.stall_after:
                piece = piece[: answer.stall_after - sent]
                if piece:
                    await self._write(writer, piece, answer.framing)
                await asyncio.sleep(3600)
            await self._write(writer, piece, answer.framing)
            sent += len(piece)
            if answer.pause_between_s:
                await asyncio.sleep(answer.pause_between_s)
        if answer.framing == "chunked":
            writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def _write(self, writer: asyncio.StreamWriter, piece: bytes, framing: str) -> None:
        if framing == "chunked":
            writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        else:
            writer.write(piece)
        await writer.drain()
        self.sent_body_bytes += len(piece)
