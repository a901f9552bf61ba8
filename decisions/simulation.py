"""Simulation: run a policy version (drafts included) over a dataset and report what it would do.

The report has the outcome distribution, per-rule hit counts, the reason-code distribution and —
against a champion (normally the published version) — the flips: how many rows change outcome, by
from→to, with examples. Pure computation: the Celery job and ``dosctl policy simulate`` both call it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.template.loader import render_to_string

from decisions.policy.engine import InputInvalid, compile_policy

MAX_EXAMPLES = 20


def simulate(*, source: str, rows: list[dict], champion_source: str | None = None, row_id: str = "lead_id",
             progress=None) -> dict:
    challenger = compile_policy(source)
    champion = compile_policy(champion_source) if champion_source else None
    outcomes: Counter = Counter()
    reasons: Counter = Counter()
    hits: Counter = Counter()
    flips: Counter = Counter()
    examples: list[dict] = []
    invalid: list[dict] = []
    for index, row in enumerate(rows):
        ident = str(row.get(row_id, index))
        data = {k: v for k, v in row.items() if k != row_id}
        try:
            normalised = challenger.validate(data)
        except InputInvalid as exc:
            invalid.append({"row": ident, "errors": exc.errors})
            continue
        evaluation = challenger.evaluate(normalised)
        outcomes[evaluation.outcome] += 1
        reasons.update(r["code"] for r in evaluation.reason_codes)
        hits.update(step.rule_id for step in evaluation.rule_path if step.fired)
        if champion is not None:
            before = champion.evaluate(champion.validate(data)).outcome
            if before != evaluation.outcome:
                flips[f"{before}->{evaluation.outcome}"] += 1
                if len(examples) < MAX_EXAMPLES:
                    examples.append({"row": ident, "from": before, "to": evaluation.outcome,
                                     "reasons": [r["code"] for r in evaluation.reason_codes]})
        if progress and index % 200 == 0:
            progress(index, len(rows))
    decided = sum(outcomes.values())
    return {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
        "policy": {"name": challenger.policy.name, "sha256": challenger.sha256},
        "champion": {"name": champion.policy.name, "sha256": champion.sha256} if champion else None,
        "rows": len(rows), "decided": decided, "invalid": len(invalid), "invalid_examples": invalid[:MAX_EXAMPLES],
        "outcomes": {o: outcomes.get(o, 0) for o in ("approve", "review", "deny")},
        "outcome_share": {o: round(outcomes.get(o, 0) / decided, 4) if decided else 0 for o in ("approve", "review", "deny")},
        "rule_hits": {rule.rule.id: hits.get(rule.rule.id, 0) for rule in challenger.rules},
        "reason_codes": dict(reasons.most_common()),
        "flips": {"total": sum(flips.values()), "by_change": dict(flips.most_common()), "examples": examples},
    }


def render_html(report: dict) -> str:
    peak = max(report["rule_hits"].values() or [1]) or 1
    rules = [{"id": rule_id, "hits": n, "pct": round(100 * n / peak)} for rule_id, n in report["rule_hits"].items()]
    return render_to_string("decisions/simulation_report.html", {"report": report, "rules": rules})
