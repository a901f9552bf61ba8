import re

from rest_framework import serializers

from decisions.choices import Outcome
from decisions.models import DecisionRecord, PolicySet, PolicyVersion
from decisions.packs import available
from dos.api.fields import StrictCharField, StrictSlugField, StrictUUIDField

# One application's limits, for /decide (the serializer) and each /decide/batch item (decide_item_errors).
SUBJECT_MAX, PURPOSE_MAX, LABELS_MAX, LABEL_MAX = 128, 64, 20, 64
LABEL_RE = re.compile(r"^[-a-zA-Z0-9_]+$")


class DecideIn(serializers.Serializer):
    policy = StrictSlugField(max_length=64, required=False,
                                   help_text="Policy name; optional when the project publishes one policy.")
    subject_id = StrictCharField(max_length=SUBJECT_MAX, help_text="Your id of the applicant; stored only as a token.")
    purpose = StrictCharField(max_length=PURPOSE_MAX, help_text="Why the data is processed, e.g. loan_screening.")
    input = serializers.DictField(help_text="The facts: an object validated against the published policy's "
                                            "inputs.schema; missing fields are named in the 400 (input.<field>).")
    labels = serializers.ListField(child=StrictSlugField(max_length=LABEL_MAX), required=False,
                                   max_length=LABELS_MAX)


class ReasonOut(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class DecisionOut(serializers.ModelSerializer):
    decision_id = serializers.UUIDField(source="id")
    policy_version = serializers.SerializerMethodField()
    reason_codes = ReasonOut(many=True)
    rule_path = serializers.ListField(child=serializers.DictField())
    case_id = serializers.SerializerMethodField()
    latency_ms = serializers.FloatField()

    class Meta:
        model = DecisionRecord
        fields = ["decision_id", "outcome", "reason_codes", "rule_path", "policy_version", "case_id", "latency_ms",
                  "decided_at", "subject_token", "purpose", "consent_ref", "kind", "ledger_seq"]
        extra_kwargs = {"consent_ref": {"help_text": "The consent that covered the purpose (its id), or basis:<lawful "
                                                     "basis> when the purpose needs none; empty when none did."}}

    def get_policy_version(self, obj) -> dict:
        version = obj.policy_version
        return {"policy": version.policy_set.name, "version": version.semver, "sha256": version.sha256}

    def get_case_id(self, obj) -> str | None:
        return (obj.refs or {}).get("case_id")


def decision_body(record, case_id=None) -> dict:
    """The /decide response for a record (a plain function: batch renders 1,000 of these)."""
    version = record.policy_version
    return {
        "decision_id": str(record.id), "outcome": record.outcome, "reason_codes": record.reason_codes,
        "rule_path": record.rule_path,
        "policy_version": {"policy": version.policy_set.name, "version": version.semver, "sha256": version.sha256},
        "case_id": str(case_id) if case_id else (record.refs or {}).get("case_id"), "latency_ms": float(record.latency_ms),
        "decided_at": record.decided_at.isoformat().replace("+00:00", "Z"), "subject_token": record.subject_token,
        "purpose": record.purpose, "consent_ref": record.consent_ref, "kind": record.kind,
        "ledger_seq": record.ledger_seq,
    }


def decide_item_errors(raw) -> dict[str, list[str]]:
    """Field errors of one batch item: DecideIn's rules, checked without building a serializer per item
    (a batch holds up to 1,000)."""
    if not isinstance(raw, dict):
        return {"non_field_errors": ["Each item is an object."]}
    errors: dict[str, list[str]] = {}
    for name, limit in (("subject_id", SUBJECT_MAX), ("purpose", PURPOSE_MAX)):
        value = raw.get(name)
        if not isinstance(value, str) or not value.strip():
            errors[name] = ["This field is required."]
        elif len(value) > limit:
            errors[name] = [f"Ensure this field has no more than {limit} characters."]
    if not isinstance(raw.get("input"), dict):
        errors["input"] = ["Expected a JSON object."]
    labels = raw.get("labels", [])
    if not isinstance(labels, list) or len(labels) > LABELS_MAX or not all(
            isinstance(x, str) and len(x) <= LABEL_MAX and LABEL_RE.match(x) for x in labels):
        errors["labels"] = [f"A list of at most {LABELS_MAX} slugs (letters, digits, - and _)."]
    return errors


class PolicyVersionOut(serializers.ModelSerializer):
    policy = serializers.CharField(source="policy_set.name")
    author = serializers.EmailField(source="author.email")
    approver = serializers.EmailField(source="approver.email", allow_null=True)

    class Meta:
        model = PolicyVersion
        fields = ["id", "policy", "semver", "status", "sha256", "author", "approver", "notes", "created_at",
                  "submitted_at", "approved_at", "published_at", "retired_at"]


class PolicyVersionDetailOut(PolicyVersionOut):
    class Meta(PolicyVersionOut.Meta):
        fields = [*PolicyVersionOut.Meta.fields, "source"]


class PolicySetOut(serializers.ModelSerializer):
    published = serializers.SerializerMethodField()

    class Meta:
        model = PolicySet
        fields = ["id", "name", "kind", "description", "created_at", "published"]

    def get_published(self, obj) -> str | None:
        versions = [v for v in obj.versions.all() if v.status == "published"]
        return versions[0].semver if versions else None


# Characters, not bytes: a source this long still fits the 1 MiB body limit when every character is
# sent \u-escaped (6 bytes), so a request the schema allows is never refused with 413.
SOURCE_MAX_CHARS = 128 * 1024


class PolicyCreateIn(serializers.Serializer):
    source = StrictCharField(max_length=SOURCE_MAX_CHARS, help_text="Policy YAML")
    semver = serializers.RegexField(r"^\d+\.\d+\.\d+$", max_length=32)
    notes = StrictCharField(required=False, allow_blank=True, default="")


class LintIn(serializers.Serializer):
    source = StrictCharField(max_length=SOURCE_MAX_CHARS, allow_blank=True)


class LintIssueOut(serializers.Serializer):
    message = serializers.CharField()
    line = serializers.IntegerField()
    column = serializers.IntegerField()
    rule_id = serializers.CharField(required=False)
    severity = serializers.CharField()


class LintOut(serializers.Serializer):
    ok = serializers.BooleanField()
    issues = LintIssueOut(many=True)


OUTCOMES = [c for c, _ in Outcome.choices]


class ExplainReasonOut(serializers.Serializer):
    code = serializers.CharField()
    category = serializers.CharField()
    ko = serializers.CharField()
    en = serializers.CharField()
    rule_message = serializers.CharField()


class ExplainOut(serializers.Serializer):
    decision_id = serializers.UUIDField()
    decided_at = serializers.DateTimeField()
    outcome = serializers.CharField()
    kind = serializers.CharField()
    reasons = ExplainReasonOut(many=True)
    rule_path = serializers.ListField(child=serializers.DictField())
    policy = serializers.DictField()
    input = serializers.DictField(help_text="masked")
    subject = serializers.CharField()
    purpose = serializers.CharField()
    chain = serializers.DictField()
    caveats = serializers.ListField(child=serializers.CharField())


class ReplayOut(serializers.Serializer):
    decision_id = serializers.UUIDField()
    policy_version = serializers.CharField()
    policy_sha256 = serializers.CharField()
    match = serializers.BooleanField()
    status = serializers.ChoiceField(choices=["match", "mismatch", "erased"],
                                     help_text="erased: the subject was erased and the masked snapshot no longer "
                                               "reproduces the outcome (never reported as a mismatch).")
    diff = serializers.DictField()


class DecideBatchIn(serializers.Serializer):
    policy = StrictSlugField(max_length=64, required=False)
    items = serializers.ListField(child=serializers.DictField(), min_length=1, max_length=1000,
                                  help_text="At most 1,000 applications.")


class DecideBatchOut(serializers.Serializer):
    decided = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = serializers.ListField(child=serializers.DictField(),
                                    help_text="In order: a decision (as /decide returns it) or {index, errors}; an item "
                                              "refused for want of consent also has code consent_missing.")


class SimulateIn(serializers.Serializer):
    policy_version = StrictUUIDField(help_text="Any version of a policy in this project, drafts included.")
    dataset = serializers.ChoiceField(choices=[*sorted({f"pack:{domain}" for domain, _ in available()}), "upload"],
                                      help_text="A domain pack's synthetic dataset (pack:<domain>) or an uploaded CSV")
    csv = StrictCharField(required=False, allow_blank=True, default="",
                                help_text="With dataset=upload: CSV with a header row (lists as a;b;c).")


class SimulationOut(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    dataset = serializers.CharField()
    rows_total = serializers.IntegerField()
    rows_done = serializers.IntegerField()
    progress_pct = serializers.IntegerField()
    policy_version = serializers.UUIDField(source="policy_version_id")
    champion_version = serializers.UUIDField(source="champion_version_id", allow_null=True)
    report = serializers.JSONField(allow_null=True)
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
