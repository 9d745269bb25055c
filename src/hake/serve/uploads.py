"""What a client uploads: the body-size limit (an ASGI middleware), content sniffing, safe temp files.

A client's file name is only ever shown, never used as a path: uploads are written under the
server's own temp folder with a random name and a suffix chosen from the sniffed content.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: (magic test, kind, suffix) in the order they are tried on the first bytes of an upload.
_SIGNATURES: tuple[tuple[Callable[[bytes], bool], str, str], ...] = (
    (lambda b: b.startswith(b"\xff\xd8\xff"), "image", ".jpg"),
    (lambda b: b.startswith(b"\x89PNG\r\n\x1a\n"), "image", ".png"),
    (lambda b: b.startswith(b"BM"), "image", ".bmp"),
    (lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP", "image", ".webp"),
    (lambda b: b[:4] in (b"II*\x00", b"MM\x00*"), "image", ".tif"),
    (lambda b: b[:4] == b"RIFF" and b[8:12] == b"AVI ", "video", ".avi"),
    (lambda b: b[4:8] == b"ftyp", "video", ".mp4"),
    (lambda b: b.startswith(b"\x1a\x45\xdf\xa3"), "video", ".mkv"),
    (lambda b: b.startswith(b"\x00\x00\x01\xba"), "video", ".mpg"),
)


class UploadError(Exception):
    """A request the server refuses: HTTP ``status`` and the message shown to the client."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def sniff(head: bytes) -> tuple[str, str] | None:
    """``(kind, suffix)`` of an upload from its first bytes (at least 12), or None when neither image nor video."""
    for test, kind, suffix in _SIGNATURES:
        if test(head):
            return kind, suffix
    return None


def display_name(name: str | None) -> str:
    """A client's file name reduced to a safe label (last path part, printable, at most 100 characters)."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[^\w.\- ()+]", "_", base)[:100].strip(". ")
    return base or "upload"


def temp_upload(folder: Path, suffix: str) -> Path:
    """A fresh random file name inside ``folder`` (the server's temp folder) with ``suffix``."""
    return folder / f"upload-{secrets.token_hex(8)}{suffix}"


class BodyLimit:
    """ASGI middleware answering 413 to a request body over ``max_bytes``.

    A declared ``Content-Length`` over the limit is refused before any byte is read; a chunked
    body is counted as it arrives and refused as soon as it passes the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        try:
            too_big = declared is not None and int(declared) > self.max_bytes
        except ValueError:
            too_big = False
        if too_big:
            await self._refuse(send)
            return
        seen = 0
        started = exceeded = False

        async def counted() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if exceeded:  # the app answered a body cut short (e.g. 400 of the form parser): say why, once
                if not started and message["type"] == "http.response.start":
                    started = True
                    await self._refuse(send)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            pass
        if exceeded and not started:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": f"upload larger than the {self.max_bytes:,} bytes allowed"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
