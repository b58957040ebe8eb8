"""sluice_client: the Python client of the Sluice log gateway.

::

    from sluice_client import DistributedLogger, LogConfig

    logger = DistributedLogger(LogConfig(service_name="my-application", api_key="t.…")).start()
    logger.info("User logged in successfully", {"user_id": 12345})
    logger.stop()

Standard library only. See clients/python/README.md.
"""
from .backoff import backoff_delay, parse_retry_after
from .config import LogConfig
from .entry import iso_micros, level_from_number, timestamp_micros, to_level
from .handler import SluiceHandler
from .logger import EVENTS, STATES, USER_AGENT, VERSION, Clock, DistributedLogger
from .transport import HttpTransport, SendResult, Transport, ingest_url

__version__ = VERSION

__all__ = [
    "DistributedLogger",
    "LogConfig",
    "SluiceHandler",
    "Transport",
    "HttpTransport",
    "SendResult",
    "Clock",
    "STATES",
    "EVENTS",
    "VERSION",
    "USER_AGENT",
    "backoff_delay",
    "parse_retry_after",
    "ingest_url",
    "iso_micros",
    "timestamp_micros",
    "level_from_number",
    "to_level",
]
