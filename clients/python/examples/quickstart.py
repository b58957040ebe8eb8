"""The seed's example: levels, metadata as context, an exception's stack trace, a custom event.

    PYTHONPATH=clients/python/src SLUICE_TOKEN=t.… python3 clients/python/examples/quickstart.py
"""
import os

from sluice_client import DistributedLogger, LogConfig

logger = DistributedLogger(
    LogConfig(
        endpoint=os.environ.get("SLUICE_URL", "http://localhost:9000"),  # or …/api/logs
        service_name=os.environ.get("SLUICE_SERVICE", "my-application"),  # the Sluice app: app_id
        component_name="user-service",  # each entry's source
        api_key=os.environ.get("SLUICE_TOKEN"),  # the app's ingest token
    )
)
logger.start()

logger.info("User logged in successfully", {"user_id": 12345, "login_method": "oauth", "ip_address": "192.168.1.100"})
logger.debug("Cache warmed", {"keys": 12})
logger.warning("Slow query", {"ms": 812, "tags": ["database"]})

try:
    raise TimeoutError("connection to users-db timed out after 5 s")
except TimeoutError as err:
    # An exception under "error" (or "exc") gives the entry's stack_trace.
    logger.error("Database connection failed", {"database": "users-db", "error_code": "CONN_TIMEOUT", "error": err})

try:
    {}["missing"]
except KeyError:
    logger.critical("Configuration unreadable", {"file": "settings.json"}, exc_info=True)  # critical is FATAL

# Custom events for business metrics: an INFO entry, category "event"
logger.custom("payment_completed", {"amount": 99.99, "currency": "USD", "transaction_id": "txn_abc123"})

logger.stop()  # delivers what is buffered (up to stop_timeout); atexit would do it too
print(logger.stats())
