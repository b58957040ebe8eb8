"""Retry delays: exponential backoff with full jitter, and ``Retry-After``."""
from __future__ import annotations

import email.utils
import random as _random
import re
import time
from typing import Callable, Optional

BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
#: A ``Retry-After`` longer than this is cut to it (a misconfigured proxy must not park the buffer for hours).
RETRY_AFTER_MAX = 300.0

_SECONDS = re.compile(r"^\d+(\.\d+)?$")


def backoff_delay(attempt: int, retry_after: Optional[float] = None, random: Callable[[], float] = _random.random) -> float:
    """Seconds to wait before retry number ``attempt`` (0 for the first retry).

    A random time in [0, min(30, 1·2^attempt)] ("full jitter"): up to 1, 2, 4, 8 … s, 30 s at
    most. A ``Retry-After`` from the gateway (seconds, already parsed) wins, capped at 300 s.
    """
    if retry_after is not None and retry_after >= 0 and retry_after == retry_after:
        return min(float(retry_after), RETRY_AFTER_MAX)
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(max(attempt, 0), 30))
    return random() * ceiling


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """A ``Retry-After`` header (seconds or an HTTP date) to seconds from ``now``; None when absent or unreadable."""
    if value is None:
        return None
    v = value.strip()
    if not v:
        return None
    if _SECONDS.match(v):
        return float(v)
    try:
        at = email.utils.parsedate_to_datetime(v)
    except (TypeError, ValueError, IndexError):
        return None
    if at is None:
        return None
    if at.tzinfo is None:  # an HTTP date is GMT by definition
        import datetime as _dt

        at = at.replace(tzinfo=_dt.timezone.utc)
    return max(0.0, at.timestamp() - (time.time() if now is None else now))
