"""Simulation: run a policy version (drafts included) over a dataset and report what it would do.

The report has the outcome distribution, per-rule hit counts, the reason-code distribution and —
against a champion (normally the published version) — the flips: how many rows change outcome, by
from→to, with examples. Pure computation: the Celery job and ``dosctl policy simulate`` both call it.

A run can be checkpointed and resumed: every ``checkpoint_every`` rows the running totals are handed
to ``checkpoint(next_row, state)`` as plain JSON, and ``simulate(resume=state)`` carries on from
there. The totals are sums over rows, so a run resumed at any checkpoint reports exactly what an
uninterrupted run reports. A checkpoint names the policies (sha256) and the dataset (sha256 of its
rows) it was taken from; one that does not match the current run is ignored and the run starts over,
so a draft edited between a worker's death and the job's redelivery is never half-counted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter

from django.template.loader import render_to_string

from decisions.policy.engine import InputInvalid, compile_policy

MAX_EXAMPLES = 20
CHECKPOINT_EVERY = 200
OUTCOMES = ("approve", "review", "deny")


def dataset_sha256(rows: list[dict]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, default=str, ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _ranked(counter: Counter) -> dict:
    """Most frequent first, ties by name: the same order however the counts were accumulated (a
    resumed run's counters come back from JSON, whose key order the database does not keep)."""
    return dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))


class _Tally:
    """The running totals of one run; ``state()`` is what a checkpoint stores."""

    def __init__(self, state: dict | None = None) -> None:
        state = state or {}
        self.outcomes = Counter(state.get("outcomes", {}))
        self.reasons = Counter(state.get("reasons", {}))
        self.hits = Counter(state.get("hits", {}))
        self.flips = Counter(state.get("flips", {}))
        self.examples: list[dict] = list(state.get("examples", []))
        self.invalid = int(state.get("invalid", 0))
        self.invalid_examples: list[dict] = list(state.get("invalid_examples", []))

    def state(self) -> dict:
        return {"outcomes": dict(self.outcomes), "reasons": dict(self.reasons), "hits": dict(self.hits),
                "flips": dict(self.flips), "examples": list(self.examples), "invalid": self.invalid,
                "invalid_examples": list(self.invalid_examples)}


def simulate(*, source: str, rows: list[dict], champion_source: str | None = None, row_id: str = "lead_id",
             progress=None, checkpoint=None, checkpoint_every: int = CHECKPOINT_EVERY,
             resume: dict | None = None, started=None) -> dict:
    """Run ``source`` over ``rows``. ``checkpoint(next_row, state)`` is called every
    ``checkpoint_every`` rows; ``resume`` is such a state, from which the run carries on;
    ``started(row)`` learns where the run begins (0 when ``resume`` is absent or does not match)."""
    challenger = compile_policy(source)
    champion = compile_policy(champion_source) if champion_source else None
    identity = {"policy": challenger.sha256, "champion": champion.sha256 if champion else None,
                "dataset": dataset_sha256(rows) if (checkpoint or resume) else None}
    start = 0
    if resume and all(resume.get(k) == v for k, v in identity.items()) and 0 < resume.get("next", 0) <= len(rows):
        start = resume["next"]
    tally = _Tally(resume["totals"] if start else None)
    if started:
        started(start)
    for index in range(start, len(rows)):
        row = rows[index]
        ident = str(row.get(row_id, index))
        data = {k: v for k, v in row.items() if k != row_id}
        try:
            normalised = challenger.validate(data)
        except InputInvalid as exc:
            tally.invalid += 1
            if len(tally.invalid_examples) < MAX_EXAMPLES:
                tally.invalid_examples.append({"row": ident, "errors": exc.errors})
        else:
            evaluation = challenger.evaluate(normalised)
            tally.outcomes[evaluation.outcome] += 1
            tally.reasons.update(r["code"] for r in evaluation.reason_codes)
            tally.hits.update(step.rule_id for step in evaluation.rule_path if step.fired)
            if champion is not None:
                before = champion.evaluate(champion.validate(data)).outcome
                if before != evaluation.outcome:
                    tally.flips[f"{before}->{evaluation.outcome}"] += 1
                    if len(tally.examples) < MAX_EXAMPLES:
                        tally.examples.append({"row": ident, "from": before, "to": evaluation.outcome,
                                               "reasons": [r["code"] for r in evaluation.reason_codes]})
        done = index + 1
        if done % checkpoint_every == 0 and done < len(rows):
            if checkpoint:
                checkpoint(done, {**identity, "next": done, "totals": tally.state()})
            if progress:
                progress(done, len(rows))
    return _report(challenger, champion, rows, tally)


def _report(challenger, champion, rows: list[dict], tally: _Tally) -> dict:
    outcomes = tally.outcomes
    decided = sum(outcomes.values())
    return {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
        "policy": {"name": challenger.policy.name, "sha256": challenger.sha256},
        "champion": {"name": champion.policy.name, "sha256": champion.sha256} if champion else None,
        "rows": len(rows), "decided": decided, "invalid": tally.invalid, "invalid_examples": tally.invalid_examples,
        "outcomes": {o: outcomes.get(o, 0) for o in OUTCOMES},
        "outcome_share": {o: round(outcomes.get(o, 0) / decided, 4) if decided else 0 for o in OUTCOMES},
        "rule_hits": {rule.rule.id: tally.hits.get(rule.rule.id, 0) for rule in challenger.rules},
        "reason_codes": _ranked(tally.reasons),
        "flips": {"total": sum(tally.flips.values()), "by_change": _ranked(tally.flips), "examples": tally.examples},
    }


def render_html(report: dict) -> str:
    peak = max(report["rule_hits"].values() or [1]) or 1
    rules = [{"id": rule_id, "hits": n, "pct": round(100 * n / peak)} for rule_id, n in report["rule_hits"].items()]
    return render_to_string("decisions/simulation_report.html", {"report": report, "rules": rules})
