"""Rule evaluation cost for the lending_brokerage pack (compiled CEL).

Evaluates the pack's synthetic leads repeatedly and reports µs per rule evaluation and decisions
per second of the engine alone (validation + evaluation, no database). Target (SPEC §12): ≤ 5 µs per
rule. The /decide/batch figure (≥ 5,000 decisions/s through the API, with ledger and meter writes)
is measured once the decide endpoint exists.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import cpu_steal_report, report

ROUNDS = 5


def main() -> int:
    from decisions.packs import load_pack
    from decisions.policy.engine import compile_policy

    pack = load_pack("lending_brokerage")
    policy = compile_policy(pack.rules["lending_triage"])
    generator = pack.dataset_module()
    inputs = [policy.validate(generator.as_input(r)) for r in generator.generate(1000)]
    raw = [generator.as_input(r) for r in generator.generate(1000)]
    for data in inputs[:200]:  # warm up
        policy.evaluate(data)
    with cpu_steal_report():
        started = time.perf_counter()
        evaluated_rules = 0
        for _ in range(ROUNDS):
            for data in inputs:
                evaluation = policy.evaluate(data)
                evaluated_rules += sum(1 for step in evaluation.rule_path if step.matched)
        eval_elapsed = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(ROUNDS):
            for data in raw:
                policy.evaluate(policy.validate(data))
        full_elapsed = time.perf_counter() - started
    decisions = ROUNDS * len(inputs)
    per_rule_us = eval_elapsed / evaluated_rules * 1e6
    print(f"rules in the policy: {len(policy.rules)}; decisions: {decisions}; rule evaluations: {evaluated_rules}")
    ok = report("µs per rule evaluation (incl. combining)", per_rule_us, "<= 5", per_rule_us <= 5, "µs")
    report("engine decisions/s (evaluate only)", decisions / eval_elapsed, "-", True, "/s")
    report("engine decisions/s (validate + evaluate)", decisions / full_elapsed, "-", True, "/s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
