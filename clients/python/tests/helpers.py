"""Fakes for the unit tests: a clock the test moves, a transport that records and scripts answers,
a small in-process gateway on http.server."""
from __future__ import annotations

import gzip
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple, Union

from sluice_client import Clock, SendResult, Transport


def wait_until(pred: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Polls ``pred`` (real time) until true; fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.002)


class FakeClock(Clock):
    """Virtual time for the sending thread.

    ``auto=True``: every timed wait moves the clock by its whole timeout at once, so backoff
    waits take no real time and the time between two send attempts is exactly the wait.
    ``auto=False``: time stands still until the test calls :meth:`advance`.
    """

    def __init__(self, auto: bool = True) -> None:
        self.auto = auto
        self._now = 1000.0
        self._guard = threading.Lock()

    def monotonic(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        with self._guard:
            self._now += seconds

    def wait(self, cond: threading.Condition, timeout: Optional[float]) -> None:
        if timeout is not None and self.auto:
            self.advance(timeout)
            cond.wait(0.0001)  # lets other threads take the lock, as a real wait would
        else:
            cond.wait(0.002)  # callers re-check their condition and the (virtual) time


def ok(status: int = 201, duplicate: bool = False) -> SendResult:
    return SendResult(ok=True, status=status, duplicate=duplicate)


def fail(status: Optional[int] = 503, retry_after: Optional[float] = None, retryable: bool = True, error: str = "") -> SendResult:
    return SendResult(ok=False, status=status, retryable=retryable, retry_after=retry_after, error=error or ("HTTP %s" % status))


class Call:
    def __init__(self, at: float, batch_id: str, entries: List[Dict[str, Any]]) -> None:
        self.at = at
        self.batch_id = batch_id
        self.entries = entries


class FakeTransport(Transport):
    """Records every send (virtual time, batch_id, decoded entries); answers from ``script``, then ``default``.

    A script item may be a SendResult, an Exception (raised), or a callable returning either
    (called on the sending thread: it may block, e.g. on an Event).
    """

    def __init__(self, clock: Optional[Clock] = None, script: Sequence[Any] = (), default: Any = None) -> None:
        self.clock = clock or Clock()
        self.script: Deque[Any] = deque(script)
        self.default = default if default is not None else ok()
        self.calls: List[Call] = []
        self.closed = 0
        self._lock = threading.Lock()

    def send(self, batch_id: str, entries: Sequence[bytes]) -> SendResult:
        with self._lock:
            self.calls.append(Call(self.clock.monotonic(), batch_id, [json.loads(e) for e in entries]))
            answer = self.script.popleft() if self.script else self.default
        if callable(answer) and not isinstance(answer, SendResult):
            answer = answer()
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def close(self) -> None:
        self.closed += 1

    def entries(self) -> List[Dict[str, Any]]:
        return [e for c in self.calls for e in c.entries]


Answer = Union[Tuple[int, Dict[str, str], bytes], str]


class FakeGateway:
    """``POST /api/logs`` on 127.0.0.1: records each request (headers, decoded JSON body) and
    answers from ``script`` (``(status, headers, body)``, ``"drop"`` to close the connection
    without an answer, ``("sleep", s)`` to answer 201 after s seconds), then 201.
    """

    def __init__(self, script: Sequence[Any] = (), port: int = 0) -> None:
        self.script: Deque[Any] = deque(script)
        self.requests: List[Dict[str, Any]] = []
        self.stored: Dict[str, int] = {}
        gw = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
                parsed = json.loads(body)
                with gw_lock:
                    gw.requests.append({"path": self.path, "headers": dict(self.headers), "raw": raw, "body": parsed})
                    answer = gw.script.popleft() if gw.script else None
                if answer == "drop":
                    # The batch is stored, the answer lost: the client must resend the same batch_id.
                    gw._store(parsed)
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if isinstance(answer, tuple) and answer[0] == "sleep":
                    time.sleep(answer[1])
                    answer = None
                if answer is None:
                    dup = gw._store(parsed)
                    answer = (200, {}, b'{"saved":0,"duplicate":true}') if dup else (201, {}, json.dumps({"saved": len(parsed["logs"])}).encode())
                status, headers, payload = answer
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

        gw_lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def _store(self, body: Dict[str, Any]) -> bool:
        bid = body.get("batch_id")
        dup = bid in self.stored
        self.stored[bid] = self.stored.get(bid, 0) + (0 if dup else len(body["logs"]))
        return dup

    def entries(self) -> List[Dict[str, Any]]:
        """Every entry of every request (resent batches included)."""
        return [e for r in self.requests for e in r["body"]["logs"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
