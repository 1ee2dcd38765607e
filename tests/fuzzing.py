"""Hypothesis profiles for the property tests of every parser of untrusted text.

- `ci` (the default, what `make test` runs): `CI_EXAMPLES` examples per property, the same
  ones on every run (derandomized), a few seconds per parser;
- `thorough` (opt in: `HYPOTHESIS_PROFILE=thorough`): `THOROUGH_EXAMPLES` random examples per
  property, for the benchmark-style run quoted in the issue.

Both stop an example after `DEADLINE` (Hypothesis' deadline: an example that takes longer
fails the test as a hang), keep no example database (nothing is written to the repository),
and give each test `TEST_TIMEOUT_S` seconds (pytest-timeout) as the last line of defence.
A failing example found by fuzzing is kept as an explicit `@example` or parametrized case
next to the property. tests/conftest.py imports this module, so the profile is loaded once.

The property tests live in files named test_*_fuzz.py beside the parsers' other tests; run the
thorough profile with statistics (examples tried and time per property):

    HYPOTHESIS_PROFILE=thorough .venv/bin/pytest -k fuzz --hypothesis-show-statistics
"""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

CI_EXAMPLES = 150
THOROUGH_EXAMPLES = 10_000
DEADLINE = timedelta(seconds=2)  # per example: a parser that takes longer hangs
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")

settings.register_profile(
    "ci", max_examples=CI_EXAMPLES, deadline=DEADLINE, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "thorough", max_examples=THOROUGH_EXAMPLES, deadline=DEADLINE, database=None,
    suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(PROFILE)

TEST_TIMEOUT_S = 3600 if PROFILE == "thorough" else 300  # per test (seconds)
