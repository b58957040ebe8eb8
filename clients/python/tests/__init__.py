"""Unit tests of sluice_client. The source tree goes first on the path, so that
``python3 -m unittest discover -s clients/python/tests -t clients/python`` tests this checkout
without installing it or setting PYTHONPATH."""
import os
import sys

_SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "src"))
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)
