from rest_framework import serializers

from dos.api.fields import StrictCharField, StrictUUIDField
from dos.api.schema import schema_constraints
from hitl.choices import AppealResolution, CaseAction, Priority
from hitl.models import Appeal, Attachment, Case, CaseEvent, CaseNote


class CaseEventOut(serializers.ModelSerializer):
    class Meta:
        model = CaseEvent
        fields = ["kind", "actor", "data", "created_at", "ledger_seq"]


class CaseOut(serializers.ModelSerializer):
    queue = serializers.CharField(source="queue.name")
    owner = serializers.SerializerMethodField()
    allowed_actions = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = ["id", "number", "status", "priority", "queue", "owner", "source", "decision", "reason_codes",
                  "product", "risk_score", "outcome", "sla_due_at", "warn_at", "sla_breached", "first_picked_at",
                  "resolved_at", "reopen_count", "in_appeal", "created_at", "updated_at", "allowed_actions"]

    def get_owner(self, case) -> str | None:
        return case.owner.email if case.owner_id else None

    def get_allowed_actions(self, case) -> list[str]:
        from hitl.actions import allowed_actions

        return allowed_actions(case)


class CaseDetailOut(CaseOut):
    summary = serializers.JSONField()
    events = CaseEventOut(many=True)

    class Meta(CaseOut.Meta):
        fields = [*CaseOut.Meta.fields, "summary", "events"]


class CaseCreateIn(serializers.Serializer):
    decision_id = StrictUUIDField(required=False, help_text="Open a case for a recorded decision …")
    payload = serializers.DictField(required=False, help_text="… or for an application described here.")
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.P2)
    reason_codes = serializers.ListField(child=StrictCharField(max_length=64), max_length=50, default=list)
    product = StrictCharField(max_length=64, required=False, default="", allow_blank=True)

    def validate(self, attrs):
        if bool(attrs.get("decision_id")) == ("payload" in attrs):
            raise serializers.ValidationError({"decision_id": ["Give exactly one of decision_id or payload."]})
        return attrs


# Exactly one of decision_id and payload: the published schema says so too (dos.api.schema).
schema_constraints["CaseCreateIn"] = {"oneOf": [{"required": ["decision_id"], "not": {"required": ["payload"]}},
                                                {"required": ["payload"], "not": {"required": ["decision_id"]}}]}


class CaseActionIn(serializers.Serializer):
    action = serializers.ChoiceField(choices=CaseAction.choices)
    comment = StrictCharField(max_length=4000, required=False, default="", allow_blank=True)
    outcome = serializers.ChoiceField(choices=[("approve", "approve"), ("deny", "deny")], required=False,
                                      help_text="For override: the new outcome.")


class NoteOut(serializers.ModelSerializer):
    author = serializers.CharField(source="author_label")

    class Meta:
        model = CaseNote
        fields = ["id", "author", "body_md", "redacted", "created_at"]


class NoteIn(serializers.Serializer):
    body_md = StrictCharField(max_length=20_000, help_text="Markdown. Personal identifiers are redacted "
                                                                 "automatically; the original is sealed.")
    redact_terms = serializers.ListField(child=StrictCharField(max_length=200), max_length=50, default=list,
                                         help_text="Further words to redact (names, addresses).")


class AttachmentOut(serializers.ModelSerializer):
    download = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "name", "mime", "size", "sha256", "scanned", "scan_detail", "uploaded_by", "created_at",
                  "download"]

    def get_download(self, attachment) -> str | None:
        from hitl.choices import ScanStatus

        if attachment.scanned != ScanStatus.OK:
            return None  # flagged or pending files are never served
        return f"/api/v1/hitl/cases/{attachment.case_id}/attachments/{attachment.id}"


class AttachmentIn(serializers.Serializer):
    file = serializers.FileField(help_text="PDF, PNG, JPEG or plain text; the type is read from the content.")


class AppealOut(serializers.ModelSerializer):
    case_number = serializers.IntegerField(source="case.number")
    assignee = serializers.SerializerMethodField()
    explanation = serializers.SerializerMethodField()

    class Meta:
        model = Appeal
        fields = ["id", "case", "case_number", "level", "status", "reason", "submitted_by", "assignee", "resolution",
                  "resolution_note", "final_decision", "explanation", "created_at", "resolved_at"]

    def get_assignee(self, appeal) -> str | None:
        return appeal.assignee.email if appeal.assignee_id else None

    def get_explanation(self, appeal) -> str | None:
        """Where the re-issued decision's explanation is (JSON, or PDF with ?format=pdf)."""
        return f"/api/v1/decisions/{appeal.final_decision_id}/explain" if appeal.final_decision_id else None


class AppealIn(serializers.Serializer):
    reason = StrictCharField(max_length=4000, help_text="Why the applicant disputes the decision.")


class AppealResolveIn(serializers.Serializer):
    resolution = serializers.ChoiceField(choices=[*AppealResolution.choices, ("reject", "Reject (not admissible)")])
    note = StrictCharField(max_length=4000, help_text="The reasoning the applicant is told.")
    outcome = serializers.ChoiceField(choices=[("approve", "approve"), ("deny", "deny")], required=False,
                                      help_text="For partial: what the decision now is.")
