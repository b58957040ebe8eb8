"""The standard logging module into Sluice: records keep their level, extra fields and tracebacks.

    PYTHONPATH=clients/python/src SLUICE_TOKEN=t.… SLUICE_SERVICE=my-application \
        python3 clients/python/examples/logging_handler.py
"""
import logging

from sluice_client import LogConfig, SluiceHandler

logging.basicConfig(level=logging.INFO)  # the console, as before
# endpoint, api_key and service_name from SLUICE_URL, SLUICE_TOKEN, SLUICE_SERVICE
logging.getLogger().addHandler(SluiceHandler(LogConfig(component_name="billing")))

log = logging.getLogger("billing.payments")
log.info("Payment accepted", extra={"order_id": "ORD-789", "amount": 49.99, "tags": ["payment"]})
log.warning("Slow response from %s", "card-gateway", extra={"ms": 812})
try:
    1 / 0
except ZeroDivisionError:
    log.exception("Payment failed", extra={"order_id": "ORD-790"})
log.critical("Card gateway credentials rejected")
log.debug("not sent: below the root logger's INFO")

# Nothing else to do: logging.shutdown() at exit closes the handler, which delivers what is left.
