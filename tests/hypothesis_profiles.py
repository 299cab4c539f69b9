"""Hypothesis profiles for the property and fuzz tests, chosen by the HYPOTHESIS_PROFILE variable.

- ``dev`` (default): a quick run while working on the code.
- ``ci``: what tox runs (the default under tox or with ``CI`` set); deterministic, no deadline,
  150 examples per property of the pure engine (``test_binding.py``: microseconds each).
  The full-stack properties of ``test_properties.py`` (``@wiring``) check the wiring only and run
  a fraction of that: ``WIRING_EXAMPLES`` per profile.
- ``thorough``: a long local run that hunts for new failures (random seeds, many examples).

Import this module from a test module before any ``@given`` test is defined.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

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
PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or _DEFAULT
settings.load_profile(PROFILE)

# Examples per full-stack property (each one sends real requests through the middleware).
WIRING_EXAMPLES = {"dev": 8, "ci": 15, "thorough": 300}
_Test = TypeVar("_Test", bound=Callable[..., Any])


def wiring(test: _Test) -> _Test:
    """Run a full-stack property with the few examples its profile gives the wiring."""
    return settings(max_examples=WIRING_EXAMPLES.get(PROFILE, settings().max_examples))(test)
