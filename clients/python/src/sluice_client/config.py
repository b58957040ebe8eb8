"""LogConfig: the logger's options, from explicit values, the environment, a file and defaults."""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, fields
from typing import Any, Dict, Mapping, Optional, Union

DEFAULT_ENDPOINT = "http://localhost:9000"

#: Environment variables read for a field left as None (explicit values win).
ENV_VARS = {"endpoint": "SLUICE_URL", "api_key": "SLUICE_TOKEN", "service_name": "SLUICE_SERVICE"}
#: A JSON file of options, read when set (after the environment, before the defaults).
CONFIG_FILE_ENV = "SLUICE_CONFIG_FILE"

_DEFAULTS: Dict[str, Any] = {
    "endpoint": DEFAULT_ENDPOINT,
    "service_name": None,
    "component_name": None,
    "api_key": None,
    "batch_size": 100,
    "flush_interval": 5.0,
    "max_retries": 5,
    "max_buffer_entries": 10_000,
    "max_buffer_bytes": 8 * 1024 * 1024,
    "request_timeout": 10.0,
    "stop_timeout": 10.0,
    "min_level": None,
    "sample_rate": 1.0,
    "handle_exit": True,
}


@dataclass
class LogConfig:
    """Options of a :class:`~sluice_client.DistributedLogger`.

    A field left as None is resolved, in this order, from ``SLUICE_URL`` / ``SLUICE_TOKEN`` /
    ``SLUICE_SERVICE`` (``endpoint``, ``api_key``, ``service_name``), then the JSON file named by
    ``SLUICE_CONFIG_FILE`` (or given to :meth:`from_file`), then the defaults below. Durations
    are in seconds. A value out of range (a batch size of 0, a negative timeout) is the default.
    """

    #: The gateway's base URL or its ``/api/logs`` URL. Default ``http://localhost:9000``.
    endpoint: Optional[str] = None
    #: Each entry's ``app_id``: the Sluice app (must be the token's app).
    service_name: Optional[str] = None
    #: Each entry's ``source``.
    component_name: Optional[str] = None
    #: The app's ingest token, sent as ``Authorization: Bearer``. Never printed (not in repr).
    api_key: Optional[str] = field(default=None, repr=False)
    #: A batch closes at this many entries … (default 100)
    batch_size: Optional[int] = None
    #: … or this many seconds after its first entry, whichever first (default 5).
    flush_interval: Optional[float] = None
    #: Retries of one batch before the state is ``failed`` (it keeps probing). Default 5.
    max_retries: Optional[int] = None
    #: Buffer bound in entries, waiting and in flight (default 10 000).
    max_buffer_entries: Optional[int] = None
    #: Buffer bound in serialised bytes (default 8 MiB).
    max_buffer_bytes: Optional[int] = None
    #: One request's deadline in seconds, then it is retried (default 10).
    request_timeout: Optional[float] = None
    #: How long ``stop()`` keeps trying to deliver, in seconds (default 10).
    stop_timeout: Optional[float] = None
    #: Entries below this level are not sent: ``debug``, ``info``, ``warn``/``warning``, ``error``, ``fatal``/``critical``.
    min_level: Optional[str] = None
    #: Share of DEBUG/INFO/WARN entries kept (0..1); ERROR and FATAL always are. Default 1.
    sample_rate: Optional[float] = None
    #: ``stop()`` at interpreter exit (``atexit``), since the sending thread is a daemon. Default True.
    handle_exit: Optional[bool] = None
    #: The file read for the fields still unset (default: ``SLUICE_CONFIG_FILE``).
    config_file: Optional[str] = field(default=None, repr=False)

    def __post_init__(self) -> None:
        env = os.environ
        path = self.config_file if self.config_file is not None else env.get(CONFIG_FILE_ENV) or None
        from_file = _read_file(path) if path else {}
        for name, default in _DEFAULTS.items():
            value = getattr(self, name)
            if value is None and name in ENV_VARS:
                value = env.get(ENV_VARS[name]) or None
            if value is None:
                value = from_file.get(name)
            setattr(self, name, _valid(name, value, default))

    @classmethod
    def from_file(cls, path: Union[str, "os.PathLike[str]"], **options: Any) -> "LogConfig":
        """Options from a JSON file (keys are the field names); ``options`` and the environment win over it."""
        return cls(config_file=os.fspath(path), **options)

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> "LogConfig":
        """Options from a dict (unknown keys are an error)."""
        return cls(**_known(options, "options"))


def _known(options: Mapping[str, Any], where: str) -> Dict[str, Any]:
    names = {f.name for f in fields(LogConfig)} - {"config_file"}
    unknown = sorted(set(options) - names)
    if unknown:
        raise ValueError("unknown sluice option(s) in %s: %s" % (where, ", ".join(unknown)))
    return dict(options)


def _read_file(path: str) -> Dict[str, Any]:
    # A configured file that is missing or broken is an error at startup, not silently ignored:
    # the app would otherwise log to localhost without a token and never know.
    with open(path, "r", encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ValueError("%s: a sluice config file holds one JSON object" % path)
    return _known(data, path)


def _valid(name: str, value: Any, default: Any) -> Any:
    """``value`` when usable for ``name``, else ``default`` (as the Node library treats bad numbers)."""
    if value is None:
        return default
    if name in ("endpoint", "service_name", "component_name", "api_key", "min_level"):
        return str(value) if str(value) != "" else default
    if name == "handle_exit":
        if isinstance(value, str):
            return value.strip().lower() not in ("0", "false", "no", "off", "")
        return bool(value)
    try:
        num = float(value)
    except (TypeError, ValueError):
        return default
    if not math.isfinite(num):
        return default
    if name == "sample_rate":
        return num if 0 <= num <= 1 else default
    if name == "max_retries":
        return int(num) if num >= 0 else default
    if num <= 0:
        return default
    if name in ("batch_size", "max_buffer_entries", "max_buffer_bytes"):
        return max(1, int(num))
    return num
