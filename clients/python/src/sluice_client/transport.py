"""The HTTP transport: one JSON batch to ``POST /api/logs``, gzip above 1 KiB, over one kept-alive
:mod:`http.client` connection (no dependency; one batch is in flight at a time, so one
connection is all a logger needs)."""
from __future__ import annotations

import gzip
import http.client
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Optional, Sequence
from urllib.parse import urlsplit

from .backoff import parse_retry_after

GZIP_ABOVE_BYTES = 1024
#: zlib level 1, as the Node library: log batches repeat their keys, which the fast level finds
#: too, for a body a few percent larger at a fraction of the CPU.
GZIP_LEVEL = 1
#: An idle connection is closed after this long (as Node's agent, 5 s) rather than reused: servers
#: drop idle connections on their own schedule, and a request on a half-closed one fails.
IDLE_CLOSE_SECONDS = 4.0


@dataclass
class SendResult:
    """What one send attempt came to.

    ``ok``: delivered (``status`` 201, or 200 with ``duplicate`` for a batch_id already stored).
    Otherwise ``retryable`` says whether the same batch may be sent again, ``retry_after`` is
    the gateway's ``Retry-After`` in seconds (None without one) and ``error`` says what happened.
    """

    ok: bool
    status: Optional[int] = None
    duplicate: bool = False
    retryable: bool = False
    retry_after: Optional[float] = None
    error: str = ""


class Transport:
    """How batches reach the gateway. ``send`` is called with one batch at a time."""

    def send(self, batch_id: str, entries: Sequence[bytes]) -> SendResult:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        """Releases the connection (called by ``stop()``)."""


def ingest_url(endpoint: str) -> str:
    """``http://host:9000``, ``http://host:9000/`` and ``http://host:9000/api/logs`` all give the ingest URL."""
    trimmed = endpoint.rstrip("/")
    return trimmed if trimmed.endswith("/api/logs") else trimmed + "/api/logs"


def is_retryable_status(status: int) -> bool:
    """Timeouts, rate limits and server errors are worth another try; other 4xx are permanent."""
    return status == 408 or status == 429 or status >= 500


def encode_batch(batch_id: str, entries: Sequence[bytes]) -> bytes:
    """``{"batch_id": …, "logs": [...]}`` from entries already serialised."""
    return b'{"batch_id":' + json.dumps(batch_id).encode() + b',"logs":[' + b",".join(entries) + b"]}"


class HttpTransport(Transport):
    """``POST /api/logs`` over one kept-alive connection, ``timeout`` seconds per request."""

    def __init__(self, endpoint: str, api_key: Optional[str], timeout: float, user_agent: str) -> None:
        url = urlsplit(ingest_url(endpoint))
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError("endpoint must be an http:// or https:// URL, got %r" % endpoint)
        self._secure = url.scheme == "https"
        self._host = url.hostname
        self._port = url.port
        self.path = url.path or "/api/logs"
        self._timeout = timeout
        self._headers = {"Content-Type": "application/json", "User-Agent": user_agent}
        if api_key:
            self._headers["Authorization"] = "Bearer " + api_key
        self._conn: Optional[http.client.HTTPConnection] = None
        self._last_used = 0.0
        # Held during I/O, by the sending thread only: never by a log call. It keeps a sender of
        # an earlier start() that is still finishing a request off the connection.
        self._io_lock = threading.Lock()
        # The encoded body of the batch being retried: a retry sends the same bytes again.
        self._encoded_id: Optional[str] = None
        self._encoded: Optional[bytes] = None
        self._encoded_gzip = False

    def _connect(self) -> http.client.HTTPConnection:
        if self._secure:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout, context=ssl.create_default_context())
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)

    def _body(self, batch_id: str, entries: Sequence[bytes]) -> "tuple[bytes, bool]":
        if self._encoded_id != batch_id or self._encoded is None:
            plain = encode_batch(batch_id, entries)
            if len(plain) > GZIP_ABOVE_BYTES:
                self._encoded, self._encoded_gzip = gzip.compress(plain, GZIP_LEVEL), True
            else:
                self._encoded, self._encoded_gzip = plain, False
            self._encoded_id = batch_id
        return self._encoded, self._encoded_gzip

    def send(self, batch_id: str, entries: Sequence[bytes]) -> SendResult:
        with self._io_lock:
            body, gzipped = self._body(batch_id, entries)
            headers = dict(self._headers)
            headers["Content-Length"] = str(len(body))
            if gzipped:
                headers["Content-Encoding"] = "gzip"
            conn = self._conn
            if conn is not None and time.monotonic() - self._last_used > IDLE_CLOSE_SECONDS:
                conn.close()
                conn = None
            try:
                if conn is None:
                    conn = self._conn = self._connect()
                conn.request("POST", self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                status = resp.status
                retry_after = resp.getheader("Retry-After")
                if resp.will_close:
                    conn.close()
                    self._conn = None
                self._last_used = time.monotonic()
            except Exception as err:  # connection refused/reset, timeout, TLS, a close() from stop()
                try:
                    if conn is not None:
                        conn.close()
                except Exception:
                    pass
                self._conn = None
                return SendResult(ok=False, retryable=True, error=_describe(err))
        if 200 <= status < 300:
            self._encoded_id = self._encoded = None
            duplicate = False
            # 201 is a first store and echoes every entry: not worth parsing. A repeated
            # batch_id is answered 200 `duplicate: true`.
            if status != 201:
                try:
                    duplicate = json.loads(data.decode("utf-8")).get("duplicate") is True
                except Exception:
                    pass  # a 2xx without a JSON body is still a delivery
            return SendResult(ok=True, status=status, duplicate=duplicate)
        error = "HTTP %d" % status
        try:
            b = json.loads(data.decode("utf-8"))
            if b.get("error"):
                error += " " + str(b["error"])
            if b.get("message"):
                error += ": " + str(b["message"])
        except Exception:
            pass  # no JSON error body
        retryable = is_retryable_status(status)
        if not retryable:
            self._encoded_id = self._encoded = None
        return SendResult(ok=False, status=status, retryable=retryable, retry_after=parse_retry_after(retry_after), error=error)

    def close(self) -> None:
        # Not under _io_lock: closing the socket is how stop() cuts a request it stopped waiting for.
        conn = self._conn
        self._conn = None
        self._encoded_id = self._encoded = None
        if conn is not None:
            try:
                # shutdown() wakes a recv() blocked in another thread; close() alone would not
                # (the response's file object keeps the socket open).
                if conn.sock is not None:
                    conn.sock.shutdown(socket.SHUT_RDWR)
            except Exception:
                pass
            try:
                conn.close()
            except Exception:
                pass


def _describe(err: BaseException) -> str:
    if isinstance(err, (socket.timeout, TimeoutError)):
        return "timeout"
    name = type(err).__name__
    msg = str(err)
    return "%s: %s" % (name, msg) if msg else name
