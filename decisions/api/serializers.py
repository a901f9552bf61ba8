from rest_framework import serializers

from decisions.choices import Outcome
from decisions.models import DecisionRecord, PolicySet, PolicyVersion


class DecideIn(serializers.Serializer):
    policy = serializers.SlugField(max_length=64, required=False,
                                   help_text="Policy name; optional when the project publishes one policy.")
    subject_id = serializers.CharField(max_length=128, help_text="Your id of the applicant; stored only as a token.")
    purpose = serializers.CharField(max_length=64, help_text="Why the data is processed, e.g. loan_screening.")
    input = serializers.DictField(help_text="The facts, validated against the policy's inputs.schema.")
    labels = serializers.ListField(child=serializers.SlugField(max_length=64), required=False, max_length=20)


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
                  "decided_at", "subject_token", "purpose", "kind", "ledger_seq"]

    def get_policy_version(self, obj) -> dict:
        version = obj.policy_version
        return {"policy": version.policy_set.name, "version": version.semver, "sha256": version.sha256}

    def get_case_id(self, obj) -> str | None:
        return (obj.refs or {}).get("case_id")


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


class PolicyCreateIn(serializers.Serializer):
    source = serializers.CharField(max_length=256 * 1024, help_text="Policy YAML")
    semver = serializers.RegexField(r"^\d+\.\d+\.\d+$", max_length=32)
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class LintIn(serializers.Serializer):
    source = serializers.CharField(max_length=256 * 1024, allow_blank=True)


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
