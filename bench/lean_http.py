"""A lean HTTP/1.1 client for driving load (压测客户端): keep-alive connections to one server,
a pool per device group, nothing else. httpx spent 2-3 ms of a core on each request, as much
as a tenth of what the server spends; on a machine that runs the clients beside the server, that
time is taken from the server being measured. This one parses a response with two reads and a
split, for the plain HTTP of a server on this machine (no TLS, no redirects, no cookies).

    pool = Pool("http://127.0.0.1:8000", connections=8)
    r = await pool.request("POST", "/api/v1/scans", {"Authorization": "Bearer ..."}, json={...})
    r.status_code, r.headers["content-type"], r.json()
    await pool.close()
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

IDLE = 3.0  # seconds: a connection idle longer is closed, not reused (the server ends it at 5)


class HTTPError(Exception):
    """The request got no answer: refused, cut, malformed, or none within the timeout."""


@dataclass
class Response:
    status_code: int
    headers: dict[str, str]  # names in lower case
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self):
        return jsonlib.loads(self.content)


class Pool:
    """Up to `connections` keep-alive connections to the server at `base`; a request waits for
    one when all are busy."""

    def __init__(self, base: str, connections: int = 8, timeout: float = 30.0) -> None:
        url = urlsplit(base)
        if url.scheme != "http":
            raise ValueError("plain http only")
        self.host, self.port = url.hostname, url.port or 80
        self.timeout = timeout
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self._slots = asyncio.Semaphore(connections)

    async def request(self, method: str, path: str, headers: dict | None = None, json=None) -> Response:
        body = b"" if json is None else jsonlib.dumps(json).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if json is not None or method in ("POST", "PUT", "PATCH"):
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        message = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        async with self._slots:
            conn = self._take()
            try:
                if conn is None:
                    conn = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self.timeout)
                response, keep = await asyncio.wait_for(self._exchange(*conn, message), self.timeout)
            except (
                TimeoutError,
                OSError,
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                ValueError,
            ) as exc:
                if conn is not None:
                    conn[1].close()
                raise HTTPError(type(exc).__name__) from exc
            if keep:
                self._idle.append((conn[0], conn[1], time.monotonic()))
            else:
                conn[1].close()
            return response

    def _take(self):
        while self._idle:
            reader, writer, since = self._idle.pop()
            if time.monotonic() - since < IDLE and not reader.at_eof():
                return reader, writer
            writer.close()
        return None

    @staticmethod
    async def _exchange(reader, writer, message: bytes) -> tuple[Response, bool]:
        writer.write(message)
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            content = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            await reader.readuntil(b"\r\n")  # no trailers are sent
            content = b"".join(parts)
        elif status in (204, 304) or status < 200:
            content = b""
        else:
            return Response(status, headers, await reader.read()), False  # until the server closes
        return Response(status, headers, content), headers.get("connection", "").lower() != "close"

    async def close(self) -> None:
        for _, writer, _ in self._idle:
            writer.close()
        self._idle.clear()

    async def __aenter__(self) -> Pool:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()
