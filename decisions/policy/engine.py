"""Evaluation of a parsed policy (SPEC §9).

* Inputs are validated against the policy's JSON Schema 2020-12 contract and normalised to its
  types (JSON ``number`` → float, ``integer`` → int), because CEL never coerces int and double.
* Rules run in layer order system → tenant → product → route → rule (file order within a layer).
  A rule applies when its ``match.route`` equals the call's route (or is absent) and its
  ``match.labels`` are all among the call's labels. Every matching rule is evaluated; all that fire
  contribute their reason codes.
* Outcome: deny > require_hitl (review) > allow (approve); nothing fired → ``defaults.outcome``.
* A rule whose expression fails at run time (a type error, a missing field) makes the decision
  ``review`` with reason ``RULE_ERROR``: a broken rule never lets an application through.

Compiled programs are cached by the sha256 of the source, so a published version is compiled once
per process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import cel
import fastjsonschema
from fastjsonschema import JsonSchemaException
from jsonschema import Draft202012Validator

from decisions.policy.language import LAYERS, Policy, Rule, parse_policy
from dos.canonical import sha256_hex
from dos.errors import FieldErrors

RULE_ERROR = "RULE_ERROR"
_PRECEDENCE = {"deny": 3, "require_hitl": 2, "allow": 1}
_OUTCOME_BY_RANK = {3: "deny", 2: "review", 1: "approve"}


# Keywords whose meaning is the same in draft 7 (what fastjsonschema compiles) and 2020-12 (the
# contract language). A schema using anything else is validated by jsonschema alone.
_FAST_KEYWORDS = frozenset({
    "type", "properties", "required", "additionalProperties", "enum", "const", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern", "items",
    "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties", "format", "description", "title",
    "examples", "default", "$comment", "$schema",
})
_ANNOTATIONS = ("default", "examples", "$schema", "$comment")  # dropped: fastjsonschema would fill defaults


def _fast_subset(schema):
    """A copy of ``schema`` fit for fastjsonschema, or None when it uses other keywords."""
    if isinstance(schema, bool):
        return schema
    if not isinstance(schema, dict) or not set(schema) <= _FAST_KEYWORDS:
        return None
    out = {k: v for k, v in schema.items() if k not in _ANNOTATIONS}
    if "properties" in out:
        if not isinstance(out["properties"], dict):
            return None
        out["properties"] = {name: _fast_subset(sub) for name, sub in out["properties"].items()}
        if any(sub is None for sub in out["properties"].values()):
            return None
    for key in ("items", "additionalProperties"):
        if key in out:
            if isinstance(out[key], list):
                return None  # tuple-form items mean different things in the two drafts
            out[key] = _fast_subset(out[key])
            if out[key] is None:
                return None
    return out


def fast_validator(schema):
    """A code-generated validator (fastjsonschema, formats not asserted — as jsonschema's default)
    for the common case that the input is valid; None when the schema is outside the safe subset."""
    subset = _fast_subset(schema)
    if subset is None:
        return None
    try:
        return fastjsonschema.compile(subset, use_formats=False)
    except fastjsonschema.JsonSchemaDefinitionException:
        return None


class PolicyInvalid(ValueError):
    def __init__(self, issues):
        super().__init__("; ".join(str(i) for i in issues))
        self.issues = issues


class InputInvalid(FieldErrors):
    """The input does not satisfy the policy's contract: ``errors`` maps field paths to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)


@dataclass(frozen=True)
class RuleStep:
    rule_id: str
    layer: str
    matched: bool
    fired: bool = False
    actions: tuple[str, ...] = ()
    reason_code: str = ""
    error: str = ""

    def as_dict(self) -> dict:
        out = {"rule_id": self.rule_id, "layer": self.layer, "matched": self.matched, "fired": self.fired}
        if self.fired:
            out["actions"] = list(self.actions)
        if self.reason_code and self.fired:
            out["reason_code"] = self.reason_code
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class Evaluation:
    outcome: str
    reason_codes: list[dict]
    rule_path: list[RuleStep]
    actions: list[dict] = field(default_factory=list)

    @property
    def needs_review(self) -> bool:
        return self.outcome == "review"


@dataclass(frozen=True)
class _CompiledRule:
    rule: Rule
    program: object
    labels: frozenset


class CompiledPolicy:
    def __init__(self, policy: Policy, sha256: str):
        self.policy = policy
        self.sha256 = sha256
        order = {layer: i for i, layer in enumerate(LAYERS)}
        ordered = sorted(enumerate(policy.rules), key=lambda pair: (order[pair[1].layer], pair[0]))
        self.rules = [_CompiledRule(rule, cel.compile(rule.when), frozenset(rule.labels)) for _, rule in ordered]
        self.validator = Draft202012Validator(policy.input_schema)
        self._fast = fast_validator(policy.input_schema)
        self._types = {name: spec.get("type") for name, spec in (policy.input_schema.get("properties") or {}).items()
                       if isinstance(spec, dict)}

    # -- inputs ------------------------------------------------------------------------------
    def validate(self, data) -> dict:
        if not isinstance(data, dict):
            raise InputInvalid({"input": ["The input must be a JSON object."]})
        if self._fast is not None:
            try:
                self._fast(data)
                return self._normalise(data)
            except JsonSchemaException:
                pass  # the full validator below names every failing field
        errors: dict[str, list[str]] = {}
        for error in self.validator.iter_errors(data):
            path = ".".join(["input", *[str(p) for p in error.absolute_path]])
            errors.setdefault(path, []).append(error.message)
        if errors:
            raise InputInvalid(errors)
        return self._normalise(data)

    def _normalise(self, data: dict) -> dict:
        out = dict(data)
        for name, kind in self._types.items():
            value = out.get(name)
            if kind == "number" and isinstance(value, int) and not isinstance(value, bool):
                out[name] = float(value)
        return out

    # -- evaluation ----------------------------------------------------------------------------
    def evaluate(self, data: dict, *, route: str = "decide", labels=()) -> Evaluation:
        """Evaluate already-validated input (see ``validate``)."""
        call_labels = set(labels) | set(self.policy.labels)
        # One CEL context per decision: converting the input once, not once per rule, is what
        # keeps a rule at well under a microsecond.
        context = cel.Context()
        context.update(data)
        path: list[RuleStep] = []
        fired: list[Rule] = []
        worst = 0
        errored = False
        actions: list[dict] = []
        for compiled in self.rules:
            rule = compiled.rule
            if (rule.route and rule.route != route) or not compiled.labels <= call_labels:
                path.append(RuleStep(rule.id, rule.layer, matched=False))
                continue
            try:
                result = compiled.program.execute(context)
            except Exception as exc:  # noqa: BLE001 - any runtime failure is a RULE_ERROR, fail safe
                errored = True
                path.append(RuleStep(rule.id, rule.layer, matched=True, error=str(exc).split(".")[0][:200]))
                continue
            if result is not True and result is not False:
                errored = True
                path.append(RuleStep(rule.id, rule.layer, matched=True,
                                     error=f"expression returned {type(result).__name__}, not a boolean"))
                continue
            step_actions = tuple(a.action for a in rule.then) if result else ()
            path.append(RuleStep(rule.id, rule.layer, matched=True, fired=result, actions=step_actions,
                                 reason_code=rule.reason_code))
            if result:
                fired.append(rule)
                for action in rule.then:
                    worst = max(worst, _PRECEDENCE.get(action.action, 0))
                    if action.action in ("mask", "route", "require_hitl"):
                        actions.append({"action": action.action, **action.params, "rule_id": rule.id})
        outcome = _OUTCOME_BY_RANK.get(worst, self.policy.default_outcome)
        reasons = [{"code": r.reason_code, "message": r.message, "rule_id": r.id} for r in fired if r.reason_code]
        if errored and outcome != "deny":
            outcome = "review"
        if errored:
            reasons.append({"code": RULE_ERROR, "message": "A rule could not be evaluated; a person must review.",
                            "rule_id": next(s.rule_id for s in path if s.error)})
        return Evaluation(outcome=outcome, reason_codes=reasons, rule_path=path, actions=actions)


def source_sha256(source: str) -> str:
    return sha256_hex(source)


@lru_cache(maxsize=512)
def _compile_cached(sha256: str, source: str) -> CompiledPolicy:
    result = parse_policy(source)
    if not result.ok:
        raise PolicyInvalid(result.issues)
    return CompiledPolicy(result.policy, sha256)


def compile_policy(source: str) -> CompiledPolicy:
    """Parse, lint and compile; cached by the source's sha256."""
    return _compile_cached(source_sha256(source), source)
