"""DistributedLogger: the seed 001 client in Python's conventions.

A log call serialises the entry, appends it to a bounded deque (the lock is held for the append
only) and returns: no I/O, never an exception. One daemon thread per logger sends batches of
``batch_size`` entries, or what waited ``flush_interval``, retries with backoff and reports what
it could not deliver. The behaviour is the Node library's (clients/node/src/logger.ts).
"""
from __future__ import annotations

import atexit
import dataclasses
import platform
import random as _random
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from typing import Any, Callable, Deque, Dict, Iterable, List, Mapping, Optional

from .backoff import backoff_delay
from .config import LogConfig
from .entry import LEVEL_RANK, format_exception, serialize_entry, timestamp_micros, to_level
from .transport import HttpTransport, SendResult, Transport, _describe

VERSION = "0.1.0"
#: What every request says it is, e.g. ``sluice-python/0.1.0 (Python 3.11.7)``.
USER_AGENT = "sluice-python/%s (Python %s)" % (VERSION, platform.python_version())

#: The seed's states, as the Node library names them.
STATES = ("stopped", "starting", "batching", "sending", "error", "retrying", "failed", "stopping")
#: Events a listener can subscribe to with :meth:`DistributedLogger.on`.
EVENTS = ("state", "batch_sent", "batch_failed", "dropped", "error")

_COMPLAIN_EVERY = 60.0


class Clock:
    """Time as the sending thread sees it (batch deadlines, backoff waits). Tests replace it."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, cond: threading.Condition, timeout: Optional[float]) -> None:
        """Waits on ``cond`` (held) for a notify or ``timeout`` seconds (None: no limit)."""
        cond.wait(timeout)


class _Batch:
    __slots__ = ("id", "items", "bytes", "attempts", "gave_up")

    def __init__(self, items: List[bytes]) -> None:
        self.id = str(uuid.uuid4())
        self.items = items
        self.bytes = sum(len(i) for i in items)
        self.attempts = 0
        self.gave_up = False  # batch_failed (permanent False) was emitted for it


class DistributedLogger:
    """Sends log entries to the Sluice gateway in batches, from a background thread.

    ``DistributedLogger(LogConfig(...))``, or the options as keywords
    (``DistributedLogger(service_name="my-app", api_key=...)``), which are applied on top of
    ``config`` when both are given. ``transport``, ``clock`` and ``random`` are for tests.

    Log calls (:meth:`info`, :meth:`error`, …) never block on the network and never raise.
    Entries logged before :meth:`start` wait in the buffer. :meth:`stop` delivers what is left
    for up to ``stop_timeout`` seconds; with ``handle_exit`` (default) it also runs at exit.
    """

    def __init__(
        self,
        config: Optional[LogConfig] = None,
        *,
        transport: Optional[Transport] = None,
        clock: Optional[Clock] = None,
        random: Optional[Callable[[], float]] = None,
        **options: Any,
    ) -> None:
        if config is None:
            config = LogConfig(**options)
        elif options:
            config = dataclasses.replace(config, **options)
        self.config = config
        self.endpoint: str = config.endpoint  # type: ignore[assignment]
        self.service_name: Optional[str] = config.service_name
        self.component_name: Optional[str] = config.component_name
        self._batch_size: int = config.batch_size  # type: ignore[assignment]
        self._flush_interval: float = config.flush_interval  # type: ignore[assignment]
        self._max_retries: int = config.max_retries  # type: ignore[assignment]
        self._max_entries: int = config.max_buffer_entries  # type: ignore[assignment]
        self._max_bytes: int = config.max_buffer_bytes  # type: ignore[assignment]
        self._stop_timeout: float = config.stop_timeout  # type: ignore[assignment]
        self._sample_rate: float = config.sample_rate  # type: ignore[assignment]
        self._handle_exit = bool(config.handle_exit)
        min_level = to_level(config.min_level) if config.min_level else None
        self._min_rank = LEVEL_RANK[min_level] if min_level else 0
        self._random = random or _random.random
        self._clock = clock or Clock()
        self._transport: Transport = transport or HttpTransport(
            self.endpoint, config.api_key, config.request_timeout, USER_AGENT  # type: ignore[arg-type]
        )

        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)  # the sender waits here
        self._drained = threading.Condition(self._lock)  # flush() and stop() wait here
        self._stop_lock = threading.Lock()  # one start()/stop() at a time; never taken by a log call
        self._queue: Deque[bytes] = deque()
        self._queued_bytes = 0
        self._report: Optional[bytes] = None  # the loss report, first in the next batch
        self._inflight: Optional[_Batch] = None
        self._state = "stopped"
        self._draining = False
        self._kick = False
        self._giveups = 0
        self._gen = 0
        self._thread: Optional[threading.Thread] = None
        self._lost_count = 0
        self._lost_since: Optional[str] = None
        self._sent = self._failed = self._dropped = self._retries = self._sampled = 0
        self._listeners: Dict[str, List[Callable[[Dict[str, Any]], None]]] = {e: [] for e in EVENTS}
        self._last_complaint = -_COMPLAIN_EVERY
        self._atexit_registered = False

    # ------------------------------------------------------------------------------------------
    # Observing
    # ------------------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """The current state: one of :data:`STATES`."""
        return self._state

    def stats(self) -> Dict[str, Any]:
        """``{sent, failed, dropped, buffered, retries, sampled, state}``."""
        with self._lock:
            inflight = len(self._inflight.items) if self._inflight else 0
            return {
                "sent": self._sent,
                "failed": self._failed,
                "dropped": self._dropped,
                "buffered": len(self._queue) + (1 if self._report is not None else 0) + inflight,
                "retries": self._retries,
                "sampled": self._sampled,
                "state": self._state,
            }

    def on(self, event: str, callback: Callable[[Dict[str, Any]], None]) -> Callable[[Dict[str, Any]], None]:
        """Calls ``callback(payload)`` on ``event``; returns ``callback`` (usable as a decorator factory's result).

        - ``state``: ``{from, to}``
        - ``batch_sent``: ``{batch_id, count, status, duplicate, attempts}``
        - ``batch_failed``: ``{batch_id, count, status, error, permanent}`` (permanent False: the
          batch is kept and retried, the logger is ``failed``)
        - ``dropped``: ``{count, reason}``, reason ``overflow`` or ``stop``
        - ``error``: every failed send attempt, ``{batch_id, count, status, error, attempt, retry_in}``

        Callbacks run on the sending thread (``dropped`` for an overflow: on the logging
        thread), outside the logger's lock; an exception in one is reported, never raised.
        """
        if event not in self._listeners:
            raise ValueError("unknown event %r (one of %s)" % (event, ", ".join(EVENTS)))
        self._listeners[event].append(callback)
        return callback

    def off(self, event: str, callback: Callable[[Dict[str, Any]], None]) -> None:
        """Removes a callback added with :meth:`on`."""
        try:
            self._listeners[event].remove(callback)
        except (KeyError, ValueError):
            pass

    # ------------------------------------------------------------------------------------------
    # Life cycle
    # ------------------------------------------------------------------------------------------

    def start(self) -> "DistributedLogger":
        """stopped → starting → batching: starts the sending thread. Returns the logger."""
        with self._stop_lock:
            with self._lock:
                if self._state != "stopped":
                    return self
            self._set_state("starting")
            if self._handle_exit and not self._atexit_registered:
                atexit.register(self._at_exit)
                self._atexit_registered = True
            # batching before the thread exists, so its first `sending` always follows it.
            self._set_state("batching")
            self._spawn()
        return self

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Sends everything buffered now, waiting until it is delivered, the logger fails, or ``timeout`` seconds.

        Returns True when the buffer is empty. On a stopped logger nothing can be sent: it returns at once.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            if self._idle_locked():
                return True
            if self._state == "stopped":
                return False
            giveups = self._giveups
            self._draining = True
            self._wake.notify_all()
            while not self._idle_locked() and self._giveups == giveups and self._state != "stopped":
                if deadline is None:
                    self._drained.wait()
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._drained.wait(remaining)
            return self._idle_locked()

    def stop(self, timeout: Optional[float] = None) -> bool:
        """From any state → stopping → stopped.

        Delivers what is buffered for up to ``timeout`` seconds (default ``stop_timeout``), even
        from ``failed``, then counts what is left as failed (``batch_failed``, ``dropped`` with
        reason ``stop``). Returns True when everything was delivered. Entries logged after stop
        wait in the buffer for the next :meth:`start`.
        """
        limit = self._stop_timeout if timeout is None else max(0.0, float(timeout))
        with self._stop_lock:
            with self._lock:
                if self._state == "stopped" and self._idle_locked():
                    self._unregister_exit()
                    return True
                running = self._thread is not None
                self._draining = True
                self._kick = True  # a retry wait is cut short: stopping is the last chance to deliver
            self._set_state("stopping")
            if not running:
                self._spawn()  # entries logged before start() are delivered by stop() too
            deadline = time.monotonic() + limit
            with self._lock:
                self._wake.notify_all()
                while not self._idle_locked():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._drained.wait(remaining)
                abandoned = self._abandon_locked()
                # The sender of this run sees the generation change and exits; one still inside
                # a request finds its batch abandoned and drops the answer.
                self._gen += 1
                self._thread = None
                self._draining = False
                self._kick = False
                self._wake.notify_all()
            for payload in abandoned:
                self._emit("batch_failed", payload)
            lost = sum(p["count"] for p in abandoned)
            if lost:
                self._emit("dropped", {"count": lost, "reason": "stop"})
                self._complain("%d entries not delivered: stop timed out before delivery" % lost)
            try:
                self._transport.close()
            except Exception:
                pass  # a transport that cannot close cleanly has nothing left to deliver
            self._unregister_exit()
            self._set_state("stopped")
            with self._lock:
                self._drained.notify_all()
            return lost == 0

    def close(self) -> None:
        """Same as :meth:`stop` (so the logger fits ``contextlib.closing``)."""
        self.stop()

    def __enter__(self) -> "DistributedLogger":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _spawn(self) -> None:
        with self._lock:
            gen = self._gen
            t = threading.Thread(target=self._run, args=(gen,), name="sluice-sender", daemon=True)
            self._thread = t
        t.start()

    def _at_exit(self) -> None:
        # Daemon threads die with the interpreter: without this, whatever is buffered is lost.
        try:
            self._atexit_registered = False
            self.stop()
        except Exception:
            pass

    def _unregister_exit(self) -> None:
        if self._atexit_registered:
            self._atexit_registered = False
            try:
                atexit.unregister(self._at_exit)
            except Exception:
                pass

    # ------------------------------------------------------------------------------------------
    # Log calls: never raise, never wait
    # ------------------------------------------------------------------------------------------

    def debug(self, message: Any, metadata: Any = None, *, exc_info: Any = None, tags: Optional[Iterable[Any]] = None) -> None:
        """A DEBUG entry. ``metadata`` (a dict) becomes the entry's context."""
        self.log("DEBUG", message, metadata, exc_info=exc_info, tags=tags)

    def info(self, message: Any, metadata: Any = None, *, exc_info: Any = None, tags: Optional[Iterable[Any]] = None) -> None:
        """An INFO entry."""
        self.log("INFO", message, metadata, exc_info=exc_info, tags=tags)

    def warning(self, message: Any, metadata: Any = None, *, exc_info: Any = None, tags: Optional[Iterable[Any]] = None) -> None:
        """A WARN entry."""
        self.log("WARN", message, metadata, exc_info=exc_info, tags=tags)

    warn = warning

    def error(self, message: Any, metadata: Any = None, *, exc_info: Any = None, tags: Optional[Iterable[Any]] = None) -> None:
        """An ERROR entry; an exception under ``error``/``exc`` or ``exc_info=True`` gives ``stack_trace``."""
        self.log("ERROR", message, metadata, exc_info=exc_info, tags=tags)

    def exception(self, message: Any, metadata: Any = None, *, exc_info: Any = True, tags: Optional[Iterable[Any]] = None) -> None:
        """An ERROR entry with the exception being handled (call it inside ``except``)."""
        self.log("ERROR", message, metadata, exc_info=exc_info, tags=tags)

    def critical(self, message: Any, metadata: Any = None, *, exc_info: Any = None, tags: Optional[Iterable[Any]] = None) -> None:
        """A FATAL entry (Python's critical)."""
        self.log("FATAL", message, metadata, exc_info=exc_info, tags=tags)

    fatal = critical

    def custom(self, event: Any, data: Any = None) -> None:
        """A business event: an INFO entry with ``category: "event"``, tag ``custom``, the name as message, ``data`` as context."""
        self.log("INFO", event, data, fields={"category": "event", "tags": ["custom"]})

    def log(
        self,
        level: Any,
        message: Any,
        metadata: Any = None,
        *,
        exc_info: Any = None,
        tags: Optional[Iterable[Any]] = None,
        timestamp: Optional[str] = None,
        fields: Optional[Mapping[str, Any]] = None,
    ) -> None:
        """One entry at ``level`` (a Sluice or :mod:`logging` level name, or a logging level number).

        ``exc_info``: True (the exception being handled), an exception, or a ``sys.exc_info()``
        tuple gives ``stack_trace``. ``tags`` are added to those under ``metadata["tags"]``.
        ``timestamp`` (``YYYY-MM-DDTHH:MM:SS.ffffffZ``) replaces the time of the call, ``fields``
        sets top-level entry fields (``category``, …). Never raises.
        """
        try:
            lv = to_level(level) or "INFO"
            rank = LEVEL_RANK[lv]
            if rank < self._min_rank:
                return
            if self._sample_rate < 1 and rank < LEVEL_RANK["ERROR"] and self._random() >= self._sample_rate:
                with self._lock:
                    self._sampled += 1
                return
            stack = _exception_text(exc_info) if exc_info else None
            data = serialize_entry(
                self.service_name,
                self.component_name,
                lv,
                message,
                metadata,
                stack_trace=stack,
                tags=tags,
                timestamp=timestamp,
                fields=fields,
            )
            self._enqueue(data)
        except Exception as err:
            self._complain("log call failed", err)

    # ------------------------------------------------------------------------------------------
    # The buffer
    # ------------------------------------------------------------------------------------------

    def _enqueue(self, data: bytes) -> None:
        dropped = 0
        with self._lock:
            q = self._queue
            was_empty = not q and self._report is None
            q.append(data)
            self._queued_bytes += len(data)
            inflight = self._inflight
            in_n = len(inflight.items) if inflight else 0
            in_b = inflight.bytes if inflight else 0
            if len(q) + in_n > self._max_entries or self._queued_bytes + in_b > self._max_bytes:
                dropped = self._enforce_bounds_locked(in_n, in_b)
            # The sender sleeps without a deadline while the buffer is empty, and towards the
            # batch's deadline otherwise: it only needs waking for a first entry or a full batch.
            if was_empty or len(q) == self._batch_size:
                self._wake.notify()
        if dropped:
            self._emit("dropped", {"count": dropped, "reason": "overflow"})
            self._complain("buffer full, %d oldest entries dropped" % dropped)

    def _enforce_bounds_locked(self, in_n: int, in_b: int) -> int:
        """Drops the oldest waiting entries until waiting + in flight fit the bounds. The batch in
        flight and the loss report (kept apart from the queue) are never cut."""
        q = self._queue
        dropped = 0
        while q and (len(q) + in_n > self._max_entries or self._queued_bytes + in_b > self._max_bytes):
            self._queued_bytes -= len(q.popleft())
            dropped += 1
        if dropped:
            if self._lost_count == 0:
                self._lost_since = timestamp_micros()
            self._lost_count += dropped
            self._dropped += dropped
        return dropped

    def _idle_locked(self) -> bool:
        return not self._queue and self._report is None and self._inflight is None

    def _take_locked(self) -> _Batch:
        items: List[bytes] = []
        if self._report is not None:
            items.append(self._report)
            self._report = None
        q = self._queue
        n = min(self._batch_size - len(items), len(q))
        taken = 0
        for _ in range(n):
            item = q.popleft()
            taken += len(item)
            items.append(item)
        self._queued_bytes -= taken
        return _Batch(items)

    def _report_loss_locked(self) -> None:
        """After a delivery, one WARN entry says how many entries the full buffer cost and since when."""
        if self._lost_count == 0:
            return
        count, since = self._lost_count, self._lost_since
        self._lost_count, self._lost_since = 0, None
        self._report = serialize_entry(
            self.service_name,
            self.component_name,
            "WARN",
            "sluice client: buffer overflow, %d entries dropped since %s" % (count, since),
            {"dropped": count, "since": since},
            fields={"category": "sluice.client", "tags": ["sluice-client", "dropped"]},
        )

    def _abandon_locked(self) -> List[Dict[str, Any]]:
        """What stop() gives up on: counted as failed; the batch_failed payloads to emit."""
        out: List[Dict[str, Any]] = []
        if self._inflight is not None:
            b = self._inflight
            self._inflight = None
            self._failed += len(b.items)
            out.append({"batch_id": b.id, "count": len(b.items), "status": None, "error": "stop timed out before delivery", "permanent": True})
        rest = len(self._queue) + (1 if self._report is not None else 0)
        if rest:
            self._queue.clear()
            self._queued_bytes = 0
            self._report = None
            self._failed += rest
            out.append({"batch_id": None, "count": rest, "status": None, "error": "stop timed out before delivery", "permanent": True})
        return out

    # ------------------------------------------------------------------------------------------
    # The sending thread: batching ⇄ sending, error → retrying, failed
    # ------------------------------------------------------------------------------------------

    def _run(self, gen: int) -> None:
        while True:
            try:
                batch = self._next_batch(gen)
                if batch is None:
                    return
                self._deliver(batch, gen)
            except Exception as err:  # a bug must not silently end delivery: report, go on
                self._complain("sender error", err)
                time.sleep(0.1)

    def _next_batch(self, gen: int) -> Optional[_Batch]:
        """Waits for a full batch, a partial one whose time came, or a flush/stop; None when this run ended."""
        clock = self._clock
        deadline: Optional[float] = None
        with self._lock:
            while True:
                if self._gen != gen:
                    return None
                if self._inflight is not None:
                    return self._inflight
                pending = len(self._queue) + (1 if self._report is not None else 0)
                if pending == 0:
                    self._draining = False
                    self._drained.notify_all()
                    deadline = None
                    clock.wait(self._wake, None)
                    continue
                if pending >= self._batch_size or self._draining or self._state == "stopping":
                    break
                now = clock.monotonic()
                if deadline is None:
                    deadline = now + self._flush_interval
                if now >= deadline:
                    break
                clock.wait(self._wake, deadline - now)
            batch = self._take_locked()
            self._inflight = batch
            return batch

    def _deliver(self, batch: _Batch, gen: int) -> None:
        """Sends ``batch`` (same batch_id every time) until delivered, refused, or abandoned by stop()."""
        n = len(batch.items)
        while True:
            self._sender_state("sending", batch)
            batch.attempts += 1
            try:
                result = self._transport.send(batch.id, batch.items)
            except Exception as err:
                result = SendResult(ok=False, retryable=True, error=_describe(err))
            events: List[tuple] = []
            with self._lock:
                if self._inflight is not batch or self._gen != gen:
                    return  # stop() gave up on it while it was on the wire: already counted as failed
                stopping = self._state == "stopping"
                if result.ok:
                    self._inflight = None
                    self._sent += n
                    self._report_loss_locked()
                    events.append(("batch_sent", {"batch_id": batch.id, "count": n, "status": result.status, "duplicate": result.duplicate, "attempts": batch.attempts}))
                elif not result.retryable:
                    self._inflight = None
                    self._failed += n
                    events.append(("batch_failed", {"batch_id": batch.id, "count": n, "status": result.status, "error": result.error, "permanent": True}))
                if self._inflight is None and self._idle_locked():
                    self._drained.notify_all()
            if result.ok or not result.retryable:
                self._sender_state("batching", None)
                for ev, payload in events:
                    self._emit(ev, payload)
                if not result.ok:
                    self._complain("batch of %d refused: %s" % (n, result.error))
                return

            # Retryable: the same batch again after a backoff.
            retry_number = batch.attempts - 1
            give_up = retry_number >= self._max_retries
            delay = backoff_delay(min(retry_number, 30), result.retry_after, self._random)
            self._sender_state("error", batch)
            self._emit("error", {"batch_id": batch.id, "count": n, "status": result.status, "error": result.error, "attempt": batch.attempts, "retry_in": delay})
            self._complain("send failed (%s), retrying" % result.error)
            if give_up and not stopping and not batch.gave_up:
                batch.gave_up = True
                self._emit(
                    "batch_failed",
                    {"batch_id": batch.id, "count": n, "status": result.status, "error": "%s (after %d retries; buffering)" % (result.error, self._max_retries), "permanent": False},
                )
            self._sender_state("failed" if give_up else "retrying", batch)
            with self._lock:
                if give_up and self._state != "stopping":
                    # flush() gives up with the logger; stop() keeps trying until its own deadline.
                    self._giveups += 1
                    self._drained.notify_all()
                until = self._clock.monotonic() + delay
                while True:
                    if self._inflight is not batch or self._gen != gen:
                        return
                    if self._kick:
                        self._kick = False
                        break
                    now = self._clock.monotonic()
                    if now >= until:
                        break
                    self._clock.wait(self._wake, until - now)
                self._retries += 1

    # ------------------------------------------------------------------------------------------
    # States, events, complaints
    # ------------------------------------------------------------------------------------------

    def _set_state(self, to: str) -> None:
        with self._lock:
            frm = self._state
            if frm == to:
                return
            self._state = to
        self._emit("state", {"from": frm, "to": to})

    def _sender_state(self, to: str, batch: Optional[_Batch]) -> None:
        """A transition of the sending thread's: none while stopping (stop() owns the state then)."""
        with self._lock:
            frm = self._state
            if frm in ("stopping", "stopped", to):
                return
            if batch is not None and self._inflight is not batch:
                return
            self._state = to
        self._emit("state", {"from": frm, "to": to})

    def _emit(self, event: str, payload: Dict[str, Any]) -> None:
        for fn in list(self._listeners.get(event, ())):
            try:
                fn(payload)
            except Exception as err:
                self._complain("%s listener failed" % event, err)

    def _complain(self, what: str, err: Optional[BaseException] = None) -> None:
        """One line on stderr at most once a minute; the listeners get every detail."""
        now = time.monotonic()
        if now - self._last_complaint < _COMPLAIN_EVERY:
            return
        self._last_complaint = now
        try:
            sys.stderr.write("[sluice-client] %s%s\n" % (what, (": %s" % (err,)) if err is not None else ""))
        except Exception:
            pass  # reporting must never raise either


def _exception_text(exc_info: Any) -> Optional[str]:
    """``exc_info`` as :mod:`logging` takes it (True, an exception, a 3-tuple) → traceback text."""
    if isinstance(exc_info, BaseException):
        return format_exception(exc_info)
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        if exc_info[0] is None:
            return None
        return "".join(traceback.format_exception(*exc_info)).rstrip("\n")
    if exc_info:
        info = sys.exc_info()
        if info[0] is None:
            return None
        return "".join(traceback.format_exception(*info)).rstrip("\n")
    return None
