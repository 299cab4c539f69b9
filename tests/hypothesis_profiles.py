"""Hypothesis profiles for the property and fuzz tests, chosen by the HYPOTHESIS_PROFILE variable.

- ``dev`` (default): a quick run while working on the code.
- ``ci``: what tox runs (the default under tox or with ``CI`` set); deterministic, no deadline,
  and enough examples (16 tests x 150) that the property tests of ``test_properties.py`` run
  2,400 in total.
- ``thorough``: a long local run that hunts for new failures (random seeds, many examples).

Import this module from a test module before any ``@given`` test is defined.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# The property tests take Django's function-scoped fixtures (db, settings): every example makes
# its own sessions, so sharing those fixtures between examples is intended.
_SUPPRESSED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile("dev", max_examples=40, deadline=None, suppress_health_check=_SUPPRESSED)
settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=_SUPPRESSED,
)
settings.register_profile("thorough", max_examples=2_000, deadline=None, suppress_health_check=_SUPPRESSED)
# tox sets TOX_ENV_NAME in its environments; HYPOTHESIS_PROFILE, when given, wins.
_DEFAULT = "ci" if os.environ.get("TOX_ENV_NAME") or os.environ.get("CI") else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or _DEFAULT)
