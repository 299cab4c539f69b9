"""Run django-restricted-sessions 0.4.0's own tests against restricted_sessions.

Prints one JSON object: each test's name and its outcome ("pass", "fail" or "error"). Run by
tests/test_seed_compat.py in a subprocess with ``restricted_sessions`` importable, so the seed's
``restrictedsessions`` package (tests/seed/restrictedsessions) and settings are its own.
"""

from __future__ import annotations

import json
import os
import sys
import unittest
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))


class Outcomes(unittest.TestResult):
    def __init__(self) -> None:
        super().__init__()
        self.outcomes: dict[str, str] = {}

    def addSuccess(self, test: unittest.TestCase) -> None:
        self.outcomes[test.id().rsplit(".", 1)[-1]] = "pass"

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addFailure(test, err)
        self.outcomes[test.id().rsplit(".", 1)[-1]] = "fail"

    def addError(self, test: unittest.TestCase, err: Any) -> None:
        super().addError(test, err)
        self.outcomes[test.id().rsplit(".", 1)[-1]] = "error"


def main() -> None:
    sys.path.insert(0, HERE)
    os.environ["DJANGO_SETTINGS_MODULE"] = "seed_settings"
    import django
    from django.test.runner import DiscoverRunner

    django.setup()
    runner = DiscoverRunner(verbosity=0, interactive=False)
    runner.setup_test_environment()
    databases = runner.setup_databases()
    try:
        suite = unittest.defaultTestLoader.loadTestsFromName("upstream_test_middleware")
        result = Outcomes()
        suite.run(result)
    finally:
        runner.teardown_databases(databases)
        runner.teardown_test_environment()
    if "-v" in sys.argv:
        for test, trace in result.failures + result.errors:
            print(test.id(), trace, sep="\n", file=sys.stderr)
    print(json.dumps(result.outcomes, sort_keys=True))


if __name__ == "__main__":
    main()
