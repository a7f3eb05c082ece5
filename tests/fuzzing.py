"""How many generated inputs each property test tries: a few in ``make test``, many in ``make fuzz``.

``HYPOTHESIS_PROFILE`` picks the profile (``test`` by default, ``fuzz`` for ``make fuzz``). In ``make test`` the
examples are drawn from a seed fixed per test (``derandomize``), so a run repeats and nothing is flaky; ``make
fuzz`` draws new ones every run and keeps the failures it finds in ``.hypothesis/`` to replay them first next time.
Hypothesis's per-example deadline is off: a slow example on a busy machine is not a failure. A test module that uses
Hypothesis imports ``examples`` from here, which loads the profile.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

PROFILE_VARIABLE = "HYPOTHESIS_PROFILE"
FUZZ_FACTOR = int(os.environ.get("FUZZ_FACTOR", "100"))
"""How many times more examples ``make fuzz`` tries than ``make test``."""

settings.register_profile(
    "test",
    max_examples=100,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    # Not the explain phase: it traces every line the test runs (on Python 3.11), which makes a failure found in a
    # test that talks to a database take minutes to report.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    # The conformance fixture's backend is one per test and shared by its examples, on purpose: a server per
    # example would cost seconds. Examples use keys of their own.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz",
    settings.get_profile("test"),
    max_examples=100 * FUZZ_FACTOR,
    derandomize=False,
    database=settings.get_profile("default").database,
)
settings.load_profile(os.environ.get(PROFILE_VARIABLE, "test"))


def examples(in_test: int) -> settings:
    """``in_test`` examples in ``make test``, ``FUZZ_FACTOR`` times as many in ``make fuzz``."""
    factor = FUZZ_FACTOR if os.environ.get(PROFILE_VARIABLE) == "fuzz" else 1
    return settings(max_examples=in_test * factor)
