"""The decision policy language (SPEC §9): YAML parsed into typed structures, linted with positions.

    kind: decision
    version: v1
    name: lending_triage
    labels: [lending]
    inputs: {schema: {...JSON Schema 2020-12...}}
    rules:
      - id: R010_dsr_high
        layer: product                     # system | tenant | product | route | rule (default rule)
        match: {route: decide, labels: [lending]}
        when: "dsr > 40.0 && income_monthly < 2000000"     # CEL
        then: [{action: deny}]             # allow | deny | require_hitl | mask | route
        audit: {reason_code: DSR_HIGH, message: "총부채상환비율 초과"}
    defaults: {outcome: approve}

``parse_policy`` never raises on bad input: it returns the issues, each with the rule id, line and
column (1-based, in the YAML source), so authors can fix a draft before submitting it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import cel
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

LAYERS = ("system", "tenant", "product", "route", "rule")
ACTIONS = ("allow", "deny", "require_hitl", "mask", "route")
OUTCOMES = ("approve", "deny", "review")
NEEDS_REASON = {"deny", "require_hitl"}
_RULE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_CEL_POS = re.compile(r"<input>:(\d+):(\d+)")
MAX_RULES = 500
MAX_SOURCE_BYTES = 256 * 1024


@dataclass(frozen=True)
class Issue:
    message: str
    line: int = 0
    column: int = 0
    rule_id: str = ""
    severity: str = "error"

    def as_dict(self) -> dict:
        out = {"message": self.message, "line": self.line, "column": self.column, "severity": self.severity}
        if self.rule_id:
            out["rule_id"] = self.rule_id
        return out

    def __str__(self) -> str:
        where = f"{self.line}:{self.column}" + (f" [{self.rule_id}]" if self.rule_id else "")
        return f"{where} {self.message}"


@dataclass(frozen=True)
class Action:
    action: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    id: str
    when: str
    then: tuple[Action, ...]
    layer: str = "rule"
    route: str | None = None
    labels: tuple[str, ...] = ()
    reason_code: str = ""
    message: str = ""
    line: int = 0


@dataclass(frozen=True)
class Policy:
    name: str
    kind: str
    version: str
    labels: tuple[str, ...]
    input_schema: dict
    rules: tuple[Rule, ...]
    default_outcome: str = "approve"


@dataclass
class ParseResult:
    policy: Policy | None
    issues: list[Issue]

    @property
    def ok(self) -> bool:
        return self.policy is not None and not any(i.severity == "error" for i in self.issues)


def _pos(node) -> tuple[int, int]:
    mark = getattr(node, "start_mark", None)
    return (mark.line + 1, mark.column + 1) if mark else (0, 0)


def _mapping(node) -> dict:
    """YAML mapping node → {key: value node}."""
    return {k.value: v for k, v in node.value} if isinstance(node, yaml.MappingNode) else {}


def _expression_start(node) -> tuple[int, int]:
    """Where the expression text itself starts (after an opening quote)."""
    line, col = _pos(node)
    if getattr(node, "style", None) in ("'", '"'):
        col += 1
    return line, col


def _cel_issue(error: str, node, rule_id: str) -> Issue:
    base_line, base_col = _expression_start(node)
    match = _CEL_POS.search(error)
    detail = error.split("ERROR:", 1)[-1].split("\n", 1)[0]
    detail = _CEL_POS.sub("", detail).strip(" :")
    if not match:
        return Issue(f"CEL: {detail}", base_line, base_col, rule_id)
    cel_line, cel_col = int(match.group(1)), int(match.group(2))
    line = base_line + cel_line - 1
    # CEL columns are 1-based within the expression; on later lines of a block scalar the YAML
    # indentation has been stripped, so the column is the expression's own.
    col = base_col + cel_col - 1 if cel_line == 1 else cel_col
    return Issue(f"CEL: {detail}", line, col, rule_id)


class PolicyLoader(yaml.SafeLoader):
    """SafeLoader without anchors and aliases. An alias re-uses a node by reference, so a few
    hundred bytes of nested aliases ("billion laughs") expand to gigabytes once the document is
    turned into Python objects or JSON. A policy has no use for them: the composer stops at the
    first anchor or alias, before anything is expanded."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None, None, "YAML anchors and aliases (&name, *name) are not allowed in a policy; write the value out",
                event.start_mark)
        return super().compose_node(parent, index)


def parse_policy(source: str) -> ParseResult:
    issues: list[Issue] = []
    if len(source.encode()) > MAX_SOURCE_BYTES:
        return ParseResult(None, [Issue(f"The policy is larger than {MAX_SOURCE_BYTES // 1024} KiB.", 1, 1)])
    try:
        root = yaml.compose(source, Loader=PolicyLoader)
        data = yaml.load(source, Loader=PolicyLoader)  # noqa: S506 - PolicyLoader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return ParseResult(None, [Issue(f"YAML: {getattr(exc, 'problem', None) or exc}", line, col)])
    if not isinstance(data, dict):
        return ParseResult(None, [Issue("A policy is a YAML mapping with kind, name, inputs, rules.", 1, 1)])
    top = _mapping(root)

    def top_issue(key: str, message: str):
        line, col = _pos(top[key]) if key in top else (1, 1)
        issues.append(Issue(message, line, col))

    if data.get("kind") != "decision":
        top_issue("kind", "kind must be 'decision'.")
    version = str(data.get("version", "v1"))
    name = data.get("name")
    if not isinstance(name, str) or not _RULE_ID.match(name or ""):
        top_issue("name", "name is required: letters, digits and underscores.")
    labels = data.get("labels") or []
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        top_issue("labels", "labels is a list of strings.")
        labels = []

    schema = (data.get("inputs") or {}).get("schema") if isinstance(data.get("inputs"), dict) else None
    if not isinstance(schema, dict):
        top_issue("inputs", "inputs.schema (a JSON Schema 2020-12 object) is required.")
        schema = {}
    else:
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            top_issue("inputs", f"inputs.schema is not valid JSON Schema: {exc.message}")
    declared = set((schema.get("properties") or {}).keys()) if isinstance(schema, dict) else set()

    defaults = data.get("defaults") or {}
    default_outcome = defaults.get("outcome", "approve") if isinstance(defaults, dict) else "approve"
    if default_outcome not in OUTCOMES:
        top_issue("defaults", f"defaults.outcome must be one of {', '.join(OUTCOMES)}.")

    raw_rules = data.get("rules")
    rule_nodes = top["rules"].value if "rules" in top and isinstance(top["rules"], yaml.SequenceNode) else []
    if not isinstance(raw_rules, list) or not raw_rules:
        top_issue("rules", "rules is a non-empty list.")
        raw_rules = []
    if len(raw_rules) > MAX_RULES:
        top_issue("rules", f"At most {MAX_RULES} rules.")
    rules: list[Rule] = []
    seen: set[str] = set()
    for raw, node in zip(raw_rules, rule_nodes, strict=False):
        rule = _parse_rule(raw, node, declared, seen, issues)
        if rule:
            rules.append(rule)
    if any(i.severity == "error" for i in issues):
        return ParseResult(None, issues)
    policy = Policy(name=name, kind="decision", version=version, labels=tuple(labels), input_schema=schema,
                    rules=tuple(rules), default_outcome=default_outcome)
    return ParseResult(policy, issues)


def _parse_rule(raw, node, declared: set[str], seen: set[str], issues: list[Issue]) -> Rule | None:
    fields = _mapping(node)
    line, col = _pos(node)
    if not isinstance(raw, dict):
        issues.append(Issue("A rule is a mapping with id, when, then, audit.", line, col))
        return None
    rule_id = str(raw.get("id", ""))
    errors_before = len(issues)

    def issue(key: str | None, message: str, severity: str = "error"):
        at = fields.get(key) if key else None
        pos = _pos(at) if at is not None else (line, col)
        issues.append(Issue(message, pos[0], pos[1], rule_id, severity))

    if not _RULE_ID.match(rule_id):
        issue("id", "Each rule needs an id: a letter, then letters, digits or underscores.")
    elif rule_id in seen:
        issue("id", f"Duplicate rule id '{rule_id}'.")
    seen.add(rule_id)
    layer = raw.get("layer", "rule")
    if layer not in LAYERS:
        issue("layer", f"layer must be one of {', '.join(LAYERS)}.")
    match = raw.get("match") or {}
    if not isinstance(match, dict):
        issue("match", "match is a mapping like {route: decide, labels: [lending]}.")
        match = {}
    when = raw.get("when")
    if not isinstance(when, str) or not when.strip():
        issue("when", "when is a CEL expression, e.g. \"dsr > 40.0\".")
    else:
        try:
            program = cel.compile(when)
        except ValueError as exc:
            issues.append(_cel_issue(str(exc), fields.get("when", node), rule_id))
        else:
            unknown = sorted(v for v in program.variables()
                             if v.split(".")[0] not in declared)
            if unknown and declared:
                issue("when", f"Unknown input {', '.join(repr(u) for u in unknown)}: declare it in inputs.schema.")
    then = raw.get("then")
    actions: list[Action] = []
    if not isinstance(then, list) or not then:
        issue("then", "then is a list of actions, e.g. [{action: deny}].")
    else:
        for item in then:
            name = item.get("action") if isinstance(item, dict) else None
            if name not in ACTIONS:
                issue("then", f"Unknown action {name!r}; use one of {', '.join(ACTIONS)}.")
                continue
            actions.append(Action(name, {k: v for k, v in item.items() if k != "action"}))
    audit = raw.get("audit") or {}
    reason_code = str(audit.get("reason_code", "")) if isinstance(audit, dict) else ""
    if any(a.action in NEEDS_REASON for a in actions) and not reason_code:
        issue("audit", "deny and require_hitl rules need audit.reason_code.")
    if len(issues) > errors_before and any(i.severity == "error" for i in issues[errors_before:]):
        return None
    return Rule(id=rule_id, when=when, then=tuple(actions), layer=layer, route=match.get("route"),
                labels=tuple(match.get("labels") or ()), reason_code=reason_code,
                message=str(audit.get("message", "")) if isinstance(audit, dict) else "", line=line)
