"""Tenant API for data subject requests: record one (intake) and follow it (state, deadline, steps,
timeline, export). Verification, the erasure's approval and the export itself are back-office work
(the admin and ``dosctl privacy dsar``): the zip holds personal data and leaves only through a person."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db.models import Prefetch
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from dos.api.fields import StrictCharField
from dos.api.views import DosViewSet
from privacy.dsar.services import dsar_submit
from privacy.models import DsarEvent, DsarExport, DsarKind, DsarRequest, DsarStep

SUBJECT_MAX = 128
TOKEN_MAX = 80
MAX_CORRECTIONS = 30
CORRECTION_KEY_MAX = 64
CORRECTION_VALUE_MAX = 200


class CorrectionsField(serializers.DictField):
    child = StrictCharField(max_length=CORRECTION_VALUE_MAX, allow_blank=True, trim_whitespace=False)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not value or len(value) > MAX_CORRECTIONS or any(not k or len(k) > CORRECTION_KEY_MAX for k in value):
            raise serializers.ValidationError(
                f"1 to {MAX_CORRECTIONS} fields, each named in 1 to {CORRECTION_KEY_MAX} characters.")
        return value


@extend_schema_field({"type": "object", "minProperties": 1, "maxProperties": MAX_CORRECTIONS,
                      "propertyNames": {"minLength": 1, "maxLength": CORRECTION_KEY_MAX},
                      "additionalProperties": {"type": "string", "maxLength": CORRECTION_VALUE_MAX}})
class SchemaCorrectionsField(CorrectionsField):
    pass


class DsarDetailsIn(serializers.Serializer):
    message = StrictCharField(max_length=2000, required=False, allow_blank=True,
                              help_text="The subject's words (sealed; the queue shows them masked).")
    corrections = SchemaCorrectionsField(required=False, help_text="Rectification only (and required there): "
                                                                   "field → the right value (sealed).")


class DsarCreateIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DsarKind.choices)
    subject_id = StrictCharField(max_length=SUBJECT_MAX, required=False,
                                 help_text="Your id of the applicant, as sent to /decide (stored only as a token). "
                                           "Exactly one of subject_id and subject_token.")
    subject_token = StrictCharField(max_length=TOKEN_MAX, required=False, trim_whitespace=False,
                                    validators=[RegexValidator(r"^vt_", "A subject token starts with vt_.")],
                                    help_text="Or the subject's vt_… token.")
    details = DsarDetailsIn(required=False)

    def validate(self, attrs):
        if bool(attrs.get("subject_id")) == bool(attrs.get("subject_token")):
            raise serializers.ValidationError({"subject_id": ["Give exactly one of subject_id and subject_token."]})
        has_corrections = bool((attrs.get("details") or {}).get("corrections"))
        if has_corrections != (attrs["kind"] == DsarKind.RECTIFICATION):
            raise serializers.ValidationError({"details.corrections": [
                "A rectification names its corrections; other requests carry none."]})
        return attrs


class DsarCreateInSchema(OpenApiSerializerExtension):
    """The rules between fields, in the document: exactly one way to name the subject; corrections
    exactly when the request is a rectification."""

    target_class = "privacy.api.dsar.DsarCreateIn"

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        # Patterns, not enums: drf-spectacular would turn enums into one shared component.
        others = [k for k in DsarKind.values if k != DsarKind.RECTIFICATION]
        schema["allOf"] = [
            {"oneOf": [{"required": ["subject_id"]}, {"required": ["subject_token"]}]},
            {"oneOf": [
                {"properties": {"kind": {"type": "string", "pattern": f"^{DsarKind.RECTIFICATION.value}$"},
                                "details": {"required": ["corrections"]}}, "required": ["kind", "details"]},
                {"properties": {"kind": {"type": "string", "pattern": f"^({'|'.join(others)})$"},
                                "details": {"not": {"required": ["corrections"]}}}},
            ]},
        ]
        return schema


class DsarStepOut(serializers.ModelSerializer):
    class Meta:
        model = DsarStep
        fields = ["step", "completed_at", "attempt"]


class DsarEventOut(serializers.ModelSerializer):
    class Meta:
        model = DsarEvent
        fields = ["kind", "at", "actor", "data"]


class DsarExportOut(serializers.ModelSerializer):
    class Meta:
        model = DsarExport
        fields = ["sha256", "size", "sections", "created_at"]


class DsarOut(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True, help_text="DSAR-… as people quote it.")
    steps = DsarStepOut(many=True, help_text="Finished steps (checkpoints), in order.")
    timeline = DsarEventOut(many=True, source="events")
    export = serializers.SerializerMethodField(help_text="subject_export.zip once built (its hash and size).")

    class Meta:
        model = DsarRequest
        fields = ["id", "reference", "kind", "state", "subject_token", "subject_hint", "channel", "details",
                  "received_at", "due_at", "target_at", "warned_at", "verified_at", "verification_method",
                  "completed_at", "rejected_reason", "result", "steps", "timeline", "export"]

    @extend_schema_field(DsarExportOut(allow_null=True))
    def get_export(self, request) -> dict | None:
        made = next(iter(getattr(request, "exports", [])), None)
        return DsarExportOut(made).data if made is not None else None


class DsarViewSet(mixins.RetrieveModelMixin, DosViewSet):
    queryset = DsarRequest.objects.order_by("due_at")
    serializer_class = DsarOut
    permission_map = {"create": "dsar.fulfil", "retrieve": "privacy.read"}
    project_lookup = ""  # requests belong to the org, not to a project

    def get_queryset(self):
        return super().get_queryset().prefetch_related(
            Prefetch("steps", queryset=DsarStep.objects.order_by("completed_at", "id")),
            Prefetch("events", queryset=DsarEvent.objects.order_by("at", "id")))

    def get_object(self):
        request = super().get_object()
        request.exports = list(DsarExport.objects.filter(request_id=request.id))
        return request

    @extend_schema(summary="A data subject request: state, deadline, finished steps, timeline and export")
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(request=DsarCreateIn, responses={201: DsarOut},
                   summary="Record a data subject request (access, rectification, erasure, restriction)")
    def create(self, request):
        body = DsarCreateIn(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        made = dsar_submit(org_id=request.auth.org.id, kind=v["kind"], subject_id=v.get("subject_id"),
                           subject_token=v.get("subject_token"), details=v.get("details") or {}, channel="api",
                           actor=request.auth)
        self.kwargs["pk"] = made.pk
        return Response(DsarOut(self.get_object()).data, status=status.HTTP_201_CREATED)
