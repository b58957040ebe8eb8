"""The Python library's conformance program (clients/conformance/PROGRAM.md): logs what the
scenario in CONFORMANCE asks through the public API, stops, prints its stats as one JSON line.

    PYTHONPATH=clients/python/src python3 clients/python/conformance/program.py
"""
import json
import os
import sys
import threading
import time
from array import array

from sluice_client import VERSION, DistributedLogger, LogConfig


def main() -> int:
    run = json.loads(os.environ.get("CONFORMANCE") or "{}")
    loggers = []
    for l in range(int(run["loggers"])):
        loggers.append(
            DistributedLogger(
                LogConfig(
                    endpoint=os.environ.get("SLUICE_URL"),
                    service_name=os.environ.get("SLUICE_SERVICE"),
                    component_name="logger-%d" % l,
                    api_key=os.environ.get("SLUICE_TOKEN"),
                    batch_size=run["batch_size"],
                    flush_interval=run["flush_interval_ms"] / 1000.0,
                    max_buffer_entries=run["max_buffer_entries"],
                    max_retries=run["max_retries"],
                    stop_timeout=run["stop_timeout_ms"] / 1000.0,
                    request_timeout=run["request_timeout_ms"] / 1000.0,
                    handle_exit=False,  # the program stops the loggers itself
                )
            ).start()
        )

    entries = int(run["entries"])
    gap = run["log_gap_ms"] / 1000.0
    # Preallocated: the benchmark runs this with tens of thousands of entries.
    calls = array("d", bytes(8 * entries * len(loggers)))
    k = 0
    clock = time.perf_counter_ns
    began = time.perf_counter()
    for i in range(entries):
        for l, logger in enumerate(loggers):
            t0 = clock()
            logger.info("conformance %d %d" % (l, i), {"logger": l, "seq": i})
            calls[k] = (clock() - t0) / 1000.0
            k += 1
        if gap > 0:
            time.sleep(gap)
    # Every logger stops at once (as the Node program's Promise.all), each within its deadline.
    stoppers = [threading.Thread(target=lg.stop) for lg in loggers]
    for t in stoppers:
        t.start()
    for t in stoppers:
        t.join()
    elapsed_ms = (time.perf_counter() - began) * 1000.0

    calls = sorted(calls[:k])
    n = len(calls)

    def at(q: float) -> float:
        return calls[min(n - 1, int(q * n))] if n else 0.0

    stats = [lg.stats() for lg in loggers]
    sys.stdout.write(
        json.dumps(
            {
                "language": "python",
                "library": "sluice-python/%s" % VERSION,
                "loggers": stats,
                "call_us": {"p50": at(0.5), "p99": at(0.99), "max": calls[-1] if n else 0.0},
                "elapsed_ms": elapsed_ms,
            }
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
