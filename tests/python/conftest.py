"""pytest setup for the fanion Python tests: run them as
    PYTHONPATH=build/python /usr/bin/python3 -m pytest tests/python
(scripts/test.sh does), after building with CMake (scripts/build.sh)."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))  # dist_workers, for the spawned ranks too

try:
    import fanion  # noqa: F401
except ImportError as e:  # fail loudly: a missing build must not look like a pass
    raise ImportError(
        f"cannot import fanion ({e}); build it (scripts/build.sh) and run the tests with "
        "PYTHONPATH=build/python /usr/bin/python3 -m pytest tests/python") from e
