"""The fuzz target of tests/fuzz/fuzz_normalisation.py, run for a fixed budget in CI.

Both entry points run a fixed, seeded sequence of inputs (the same on every run), capped by
time so that a slow machine cannot stall CI. Any exception or broken invariant fails the test.
``RESTRICTED_SESSIONS_FUZZ_INPUTS`` multiplies the number of inputs for a longer local run; for
coverage-guided fuzzing, run the target itself with atheris (see its docstring).
"""

from __future__ import annotations

import os

import pytest

from restricted_sessions import binding
from tests.fuzz import fuzz_normalisation as target

SCALE = float(os.environ.get("RESTRICTED_SESSIONS_FUZZ_INPUTS", "1"))
# The pure properties of test_binding.py carry the many examples; this is a smoke run of the target,
# sized to finish well inside the cap (a few milliseconds an input), so that every run checks the same inputs.
TIME_CAP = 10.0 * SCALE


def test_the_raw_bytes_target_holds_its_invariants() -> None:
    inputs = int(500 * SCALE)
    ran = target.drive(target.test_one_input, seconds=TIME_CAP, max_inputs=inputs)
    assert ran > len(target.SEEDS)


def test_the_structured_target_holds_its_invariants() -> None:
    inputs = int(100 * SCALE)
    fuzz_one_input = target.fuzz_structured.hypothesis.fuzz_one_input  # type: ignore[attr-defined]
    ran = target.drive(fuzz_one_input, seconds=TIME_CAP, max_inputs=inputs)
    assert ran > len(target.SEEDS)


@pytest.mark.parametrize("text", ["", "0", "::", "1.2.3.4", "::ffff:1.2.3.4", "fe80::1%eth0", "a" * 100])
def test_the_target_accepts_known_values(text: str) -> None:
    target.check_all(text, f"{text}, 10.9.0.1", text, text + "/2", 24, 48)


def test_the_hashed_store_digests_any_text() -> None:
    policy = binding.Policy(hashed=True, secrets=("secret",))
    user_agent = "Mozilla/5.0 \udc80"
    assert policy.match_ua(policy.ua_token(user_agent), user_agent) is binding.Match.YES
