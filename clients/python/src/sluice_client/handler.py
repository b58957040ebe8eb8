"""SluiceHandler: the standard :mod:`logging` module into a DistributedLogger."""
from __future__ import annotations

import logging
import time
import traceback
from typing import Any, Dict, Union

from .config import LogConfig
from .entry import iso_micros, level_from_number
from .logger import DistributedLogger

#: Attributes every LogRecord has; any other attribute came from ``extra=`` and goes to context.
STANDARD_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",  # Python 3.12+
}

_COMPLAIN_EVERY = 60.0


class SluiceHandler(logging.Handler):
    """A :class:`logging.Handler` that sends each record to Sluice.

    ``SluiceHandler(logger)`` shares a started :class:`DistributedLogger` (closing the handler
    flushes it; the logger stays the app's to stop). ``SluiceHandler(config)`` or
    ``SluiceHandler()`` (configuration from the environment) makes and starts its own, which
    :meth:`close` (called by :func:`logging.shutdown` at exit) stops.

    A record becomes: its level (``levelno`` to the nearest Sluice level, CRITICAL → FATAL),
    ``record.getMessage()`` as message (a ``Formatter`` set on the handler is not used for the
    message: the entry keeps its fields structured), ``record.created`` as timestamp,
    ``exc_info``/``stack_info`` as ``stack_trace``, and as context every ``extra=`` field plus
    ``logger`` (the logger's name); an ``extra`` ``tags`` list gives the entry's tags.
    ``emit`` never raises and prints at most one problem a minute.
    """

    def __init__(self, logger: Union[DistributedLogger, LogConfig, None] = None, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        if isinstance(logger, DistributedLogger):
            self.logger = logger
            self._owns = False
        else:
            self.logger = DistributedLogger(logger if isinstance(logger, LogConfig) else LogConfig()).start()
            self._owns = True
        self._last_complaint = -_COMPLAIN_EVERY

    def emit(self, record: logging.LogRecord) -> None:
        try:
            context: Dict[str, Any] = {}
            tags = None
            for key, value in record.__dict__.items():
                if key in STANDARD_RECORD_ATTRS or key.startswith("_"):
                    continue
                if key == "tags" and isinstance(value, (list, tuple)):
                    tags = value
                else:
                    context[key] = value
            context["logger"] = record.name
            stack = None
            if record.exc_info and record.exc_info[0] is not None:
                stack = self._format_exception(record.exc_info)
            elif record.exc_text:
                stack = record.exc_text
            if record.stack_info:
                stack = (stack + "\n" if stack else "") + record.stack_info
            # The record's exception, when any, goes as stack_trace: a metadata `exc`/`error`
            # exception is only a fallback (the DistributedLogger rule).
            self.logger.log(
                level_from_number(record.levelno),
                record.getMessage(),
                context,
                exc_info=None,
                tags=tags,
                timestamp=iso_micros(record.created),
                fields={"stack_trace": stack} if stack else None,
            )
        except Exception:
            self.handleError(record)

    def _format_exception(self, exc_info: Any) -> str:
        if self.formatter is not None:
            return self.formatter.formatException(exc_info)
        return "".join(traceback.format_exception(*exc_info)).rstrip("\n")

    def handleError(self, record: logging.LogRecord) -> None:
        """As :meth:`logging.Handler.handleError` (silent unless ``logging.raiseExceptions``), at most once a minute."""
        now = time.monotonic()
        if now - self._last_complaint < _COMPLAIN_EVERY:
            return
        self._last_complaint = now
        super().handleError(record)

    def flush(self) -> None:
        """Sends what is buffered and waits for it (up to the logger's ``stop_timeout``)."""
        try:
            self.logger.flush(self.logger.config.stop_timeout)
        except Exception:
            pass

    def close(self) -> None:
        """Stops the handler's own logger (delivering what is left), or flushes a shared one."""
        try:
            if self._owns:
                self.logger.stop()
            else:
                self.flush()
        except Exception:
            pass
        finally:
            super().close()
