"""Hypothesis profiles for tests/test_fuzz.py.

"ci" (the default): a fixed, database-less run, the same examples every time
(derandomize), so that CI never fails on an example it has not seen before.
"long": RETROPROP_FUZZ_EXAMPLES=2000 (say) gives every fuzz test that many
examples, drawn afresh each run. HYPOTHESIS_PROFILE picks one by name.
"""
import os

from hypothesis import HealthCheck, settings

FUZZ_EXAMPLES = int(os.environ.get("RETROPROP_FUZZ_EXAMPLES") or 0)

_COMMON = dict(
    deadline=None,       # a first call may build BLAS threads; timing is not the point
    database=None,       # nothing written to .hypothesis/ in the source tree
    print_blob=True,     # a failure prints how to reproduce it (@reproduce_failure)
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("ci", derandomize=True, **_COMMON)
settings.register_profile("long", derandomize=False, max_examples=max(FUZZ_EXAMPLES, 1),
                          **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or
                      ("long" if FUZZ_EXAMPLES else "ci"))
