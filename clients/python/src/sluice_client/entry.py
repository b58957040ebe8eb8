"""What one log call becomes on the wire: an entry of ``POST /api/logs`` as UTF-8 JSON bytes.

The entry is serialised once, at the log call, so the buffer holds compact immutable bytes
rather than live objects the app may still mutate, and the bounds count real sizes.
"""
from __future__ import annotations

import datetime as _dt
import decimal
import enum
import json
import math
import os
import time
import traceback
import uuid
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

#: Sluice's five levels by rank (the numbers of Python's logging, FATAL at CRITICAL's 50).
LEVEL_RANK: Dict[str, int] = {"DEBUG": 10, "INFO": 20, "WARN": 30, "ERROR": 40, "FATAL": 50}

_LEVEL_NAMES: Dict[str, str] = {
    "trace": "DEBUG",
    "debug": "DEBUG",
    "verbose": "DEBUG",
    "info": "INFO",
    "information": "INFO",
    "notice": "INFO",
    "warn": "WARN",
    "warning": "WARN",
    "error": "ERROR",
    "err": "ERROR",
    "exception": "ERROR",
    "fatal": "FATAL",
    "critical": "FATAL",
    "crit": "FATAL",
    "alert": "FATAL",
    "emerg": "FATAL",
    "emergency": "FATAL",
    "panic": "FATAL",
}

#: Metadata keys whose exception gives the entry's ``stack_trace`` (its message stays in context).
ERROR_KEYS = frozenset(("error", "err", "exc", "exception"))


def level_from_number(levelno: float) -> str:
    """A :mod:`logging` level number → the nearest Sluice level; a tie goes to the more severe one.

    DEBUG 10, INFO 20, WARNING 30, ERROR 40 and CRITICAL 50 map to DEBUG, INFO, WARN, ERROR,
    FATAL; 25 is WARN, a custom TRACE 5 is DEBUG, 60 is FATAL.
    """
    if levelno >= 45:
        return "FATAL"
    if levelno >= 35:
        return "ERROR"
    if levelno >= 25:
        return "WARN"
    if levelno >= 15:
        return "INFO"
    return "DEBUG"


def to_level(level: Any) -> Optional[str]:
    """``"warning"``, ``"WARN"``, ``"critical"``, ``logging.ERROR`` … → a Sluice level; None when unknown."""
    if isinstance(level, bool):
        return None
    if isinstance(level, (int, float)):
        return level_from_number(level) if math.isfinite(level) else None
    if isinstance(level, str):
        return _LEVEL_NAMES.get(level.strip().lower())
    return None


# The seconds part of a timestamp changes once a second: its formatting is cached.
_ts_cache: Tuple[int, str] = (-1, "")


def _format(epoch_us: int) -> str:
    global _ts_cache
    secs, micros = divmod(epoch_us, 1_000_000)
    cached, prefix = _ts_cache
    if cached != secs:
        t = time.gmtime(secs)
        prefix = "%04d-%02d-%02dT%02d:%02d:%02d" % (t[0], t[1], t[2], t[3], t[4], t[5])
        _ts_cache = (secs, prefix)
    return "%s.%06dZ" % (prefix, micros)


def timestamp_micros() -> str:
    """Now as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC, microseconds)."""
    return _format(time.time_ns() // 1000)


def iso_micros(epoch_seconds: float) -> str:
    """Epoch seconds (a ``LogRecord.created``) → ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, to the nearest microsecond."""
    return _format(int(round(epoch_seconds * 1_000_000)))


def format_exception(exc: BaseException) -> str:
    """The traceback Python prints for ``exc`` (only ``Type: message`` for one never raised)."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip("\n")


def _default(value: Any) -> Any:
    """The types apps commonly log that :mod:`json` cannot write by itself; anything else is refused."""
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, BaseException):
        return {"type": type(value).__name__, "message": _text(value)}
    # Not str(value): an arbitrary object's text is rarely what the app meant, and may raise.
    raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)


# One encoder for every entry: json.dumps with options builds a new encoder per call, which
# costs about as much as the encoding itself. allow_nan=False: NaN is not JSON, and the gateway
# would refuse the whole batch.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_default).encode

_VARIANT = "89ab"


def new_request_id() -> str:
    """A random (version 4) UUID from os.urandom, as uuid.uuid4 makes it, in a fifth of its time."""
    h = os.urandom(16).hex()
    return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-" + _VARIANT[int(h[16], 16) & 3] + h[17:20] + "-" + h[20:32]


def _text(value: Any) -> str:
    """``str(value)``, or ``<Type>`` when its ``__str__`` fails."""
    try:
        return str(value)
    except Exception:
        return "<%s>" % type(value).__name__


def serialize_entry(
    app_id: Optional[str],
    source: Optional[str],
    level: str,
    message: Any,
    metadata: Any = None,
    *,
    stack_trace: Optional[str] = None,
    tags: Optional[Iterable[Any]] = None,
    timestamp: Optional[str] = None,
    fields: Optional[Mapping[str, Any]] = None,
) -> bytes:
    """One entry as JSON bytes. Never raises for anything an app passes.

    ``metadata`` (a mapping) becomes ``context``, after a unique ``request_id``; metadata that
    is not a mapping goes under ``context.metadata``. An exception under ``error``, ``err``,
    ``exc`` or ``exception`` gives ``stack_trace`` (unless ``stack_trace`` is given) and leaves
    its message in context; one under any other key keeps its type and message. ``tags`` in the
    metadata (a list) become the entry's tags, after those of ``fields`` and ``tags``. ``fields``
    sets top-level fields (``category``, ``stack_trace`` …) last. A value that cannot be written
    (a cycle, NaN, an arbitrary object) is left out and named in
    ``context.unserializable_metadata``: the rest of the entry still goes.
    """
    entry: Dict[str, Any] = {
        "timestamp": timestamp or timestamp_micros(),
        "level": level,
        "message": message if isinstance(message, str) else _text(message),
    }
    if app_id:
        entry["app_id"] = app_id
    if source:
        entry["source"] = source
    context: Dict[str, Any] = {"request_id": new_request_id()}
    all_tags: List[str] = []
    if fields and isinstance(fields.get("tags"), (list, tuple)):
        all_tags.extend(_text(t) if not isinstance(t, str) else t for t in fields["tags"])
    if tags is not None and not isinstance(tags, str):
        all_tags.extend(_text(t) if not isinstance(t, str) else t for t in tags)
    stack = stack_trace
    if metadata is not None:
        if type(metadata) is dict or isinstance(metadata, Mapping):  # the ABC check only when needed
            for k, v in list(metadata.items()):
                key = k if isinstance(k, str) else _text(k)
                if key == "tags" and isinstance(v, (list, tuple)):
                    all_tags.extend(t if isinstance(t, str) else _text(t) for t in v)
                elif isinstance(v, BaseException):
                    if key in ERROR_KEYS:
                        if stack is None:
                            stack = format_exception(v)
                        context[key] = _text(v)
                    else:
                        context[key] = {"type": type(v).__name__, "message": _text(v)}
                else:
                    context[key] = v
        else:
            context["metadata"] = metadata
    if stack:
        entry["stack_trace"] = stack
    entry["context"] = context
    if fields:
        for k, v in fields.items():
            if k != "tags":
                entry[k] = v
    if all_tags:
        entry["tags"] = all_tags
    try:
        return _dumps(entry).encode("utf-8")
    except (TypeError, ValueError, RecursionError):
        pass
    # Slow path, only for bad metadata: keep every value that can be written, name the others.
    bad: List[str] = []
    for key in list(context):
        try:
            _dumps(context[key])
        except (TypeError, ValueError, RecursionError) as err:
            bad.append("%s: %s" % (key, _text(err)))
            del context[key]
    if bad:
        context["unserializable_metadata"] = "; ".join(bad)
    try:
        return _dumps(entry).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as err:
        # A top-level field given by the caller was the problem: the bare entry still goes.
        bare = {k: entry[k] for k in ("timestamp", "level", "message", "app_id", "source") if k in entry}
        bare["context"] = {"request_id": context["request_id"], "unserializable_metadata": _text(err)}
        if stack:
            bare["stack_trace"] = stack
        return _dumps(bare).encode("utf-8")
