from rest_framework import serializers

from hitl.choices import CaseAction, Priority
from hitl.models import Case, CaseEvent


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
                  "resolved_at", "reopen_count", "created_at", "updated_at", "allowed_actions"]

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
    decision_id = serializers.UUIDField(required=False, help_text="Open a case for a recorded decision …")
    payload = serializers.JSONField(required=False, help_text="… or for an application described here.")
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.P2)
    reason_codes = serializers.ListField(child=serializers.CharField(max_length=64), max_length=50, default=list)
    product = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)

    def validate(self, attrs):
        if bool(attrs.get("decision_id")) == ("payload" in attrs):
            raise serializers.ValidationError({"decision_id": ["Give exactly one of decision_id or payload."]})
        if "payload" in attrs and not isinstance(attrs["payload"], dict):
            raise serializers.ValidationError({"payload": ["Must be a JSON object."]})
        return attrs


class CaseActionIn(serializers.Serializer):
    action = serializers.ChoiceField(choices=CaseAction.choices)
    comment = serializers.CharField(max_length=4000, required=False, default="", allow_blank=True)
    outcome = serializers.ChoiceField(choices=[("approve", "approve"), ("deny", "deny")], required=False,
                                      help_text="For override: the new outcome.")
