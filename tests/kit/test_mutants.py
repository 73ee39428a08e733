"""Mutation check of the kit: every shipped rotator passes it, and broken copies of each fail.

A mutant that survives must be equivalent to the real rotator (listed below with the reason);
any other survivor means the kit misses a real bug.
"""

from __future__ import annotations

import pytest

from tests.kit.conftest import SHIPPED

# No API key provider rotor ships has an activation step: setSecret has nothing to do.
EQUIVALENT = {
    "apikey": {"apply does nothing", "apply sets a wrong credential when repeated"},
}


@pytest.mark.parametrize("rotator", SHIPPED)
def test_the_kit_passes_the_rotator_and_fails_its_mutants(rotator, shipped_check):
    check = shipped_check(rotator)
    check.all()
    report = check.mutation_report()
    print(f"\n{rotator}:")
    for mutant, complaint in report.items():
        print(f"  {mutant}: {'caught: ' + complaint if complaint else 'SURVIVED'}")
    survivors = {mutant for mutant, complaint in report.items() if complaint is None}
    assert survivors == EQUIVALENT.get(rotator, set())
    assert {"apply does nothing", "verify does nothing", "apply fails when repeated"} <= set(report)
