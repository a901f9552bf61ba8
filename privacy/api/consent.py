"""Tenant API for consent: record a grant, revoke (one consent, or a subject's for some purposes),
and read a subject's consent history. The subject is your own id of the applicant (as /decide takes
it) or its ``vt_…`` token; only the token is stored."""

from __future__ import annotations

import re

from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from dos.api.errors import invalid_fields, referenced_not_found
from dos.api.fields import StrictCharField, StrictSlugField, StrictUUIDField
from dos.api.schema import schema_constraints
from dos.api.views import DosApiView
from privacy.consent import consent_grant, consent_revoke, consent_revoke_subject, subject_token_of
from privacy.models import Consent, ConsentEvent, LawfulBasis
from privacy.models.consent import PURPOSE_MAX

SUBJECT_MAX = 200
TOKEN_MAX = 80
TOKEN_RE = re.compile(r"vt_[0-9a-f]{40}")


class SubjectIn(serializers.Serializer):
    subject_id = StrictCharField(max_length=SUBJECT_MAX, required=False,
                                 help_text="Your id of the applicant, as sent to /decide (stored only as a token).")
    subject_token = StrictCharField(max_length=TOKEN_MAX, required=False, help_text="Or the subject's vt_… token.")

    def validate(self, attrs):
        if ("subject_id" in attrs) == ("subject_token" in attrs):
            raise serializers.ValidationError({"subject_id": ["Give exactly one of subject_id and subject_token."]})
        return attrs


def _exactly_one(*names: str, only_with: dict[str, tuple[str, ...]] | None = None) -> dict:
    """JSON Schema for "exactly one of ``names``" (and fields allowed only beside some of them)."""
    variants = []
    for name in names:
        others = [n for n in names if n != name]
        others += [field for field, allowed in (only_with or {}).items() if name not in allowed]
        variants.append({"required": [name], "not": {"anyOf": [{"required": [n]} for n in others]}})
    return {"oneOf": variants}


class ConsentGrantIn(SubjectIn):
    purposes = serializers.ListField(child=StrictSlugField(max_length=PURPOSE_MAX), min_length=1, max_length=20,
                                     help_text="Purposes consented to, as /decide names them (e.g. loan_screening).")
    scopes = serializers.ListField(child=StrictSlugField(max_length=64), required=False, max_length=50,
                                   help_text="Data categories the consent names (e.g. credit_bureau).")
    lawful_basis = serializers.ChoiceField(choices=LawfulBasis.choices, default=LawfulBasis.CONSENT)
    source = StrictCharField(max_length=120, help_text="Where it was collected, e.g. web_form:v3.")
    evidence_ref = StrictCharField(max_length=200, required=False, allow_blank=True, default="",
                                   help_text="Your reference to the signed form or recording.")
    valid_from = serializers.DateTimeField(required=False, help_text="Default: now.")
    valid_until = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                            help_text="Empty: until revoked.")


class ConsentRevokeIn(serializers.Serializer):
    consent_id = StrictUUIDField(required=False, help_text="Revoke this consent …")
    subject_id = StrictCharField(max_length=SUBJECT_MAX, required=False, help_text="… or every current consent of "
                                                                                     "this subject …")
    subject_token = StrictCharField(max_length=TOKEN_MAX, required=False, help_text="… (or of this token) …")
    purposes = serializers.ListField(child=StrictSlugField(max_length=PURPOSE_MAX), required=False, max_length=20,
                                     help_text="… naming one of these purposes (all when empty).")
    reason = StrictCharField(max_length=200, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        given = [k for k in ("consent_id", "subject_id", "subject_token") if k in attrs]
        if len(given) != 1:
            raise serializers.ValidationError({"consent_id": ["Give exactly one of consent_id, subject_id and "
                                                              "subject_token."]})
        if "consent_id" in attrs and "purposes" in attrs:
            raise serializers.ValidationError({"purposes": ["Only with subject_id or subject_token."]})
        return attrs


# The published schema says the same as the serializers' validate() (dos.api.schema).
schema_constraints["ConsentGrantIn"] = _exactly_one("subject_id", "subject_token")
schema_constraints["ConsentRevokeIn"] = _exactly_one("consent_id", "subject_id", "subject_token",
                                                     only_with={"purposes": ("subject_id", "subject_token")})


class ConsentEventOut(serializers.ModelSerializer):
    class Meta:
        model = ConsentEvent
        fields = ["kind", "at", "recorded_at", "actor", "reason"]


class ConsentOut(serializers.ModelSerializer):
    status = serializers.SerializerMethodField(help_text="active, scheduled (valid_from ahead), revoked or expired.")
    events = ConsentEventOut(many=True)

    class Meta:
        model = Consent
        fields = ["id", "subject_token", "purposes", "scopes", "lawful_basis", "source", "evidence_ref", "valid_from",
                  "valid_until", "recorded_at", "recorded_by", "status", "events"]

    def get_status(self, consent) -> str:
        now = self.context.get("now") or timezone.now()
        ended = [e for e in consent.events.all() if e.kind in ("revoked", "expired") and e.at <= now]
        if ended:
            return ended[0].kind
        if consent.valid_until is not None and consent.valid_until <= now:
            return "expired"
        return "scheduled" if consent.valid_from > now else "active"


class ConsentRevokeOut(serializers.Serializer):
    revoked = serializers.ListField(child=StrictUUIDField(), help_text="The consents revoked now (none when nothing "
                                                                        "was current).")


class ConsentHistoryOut(serializers.Serializer):
    subject_token = serializers.CharField()
    consents = ConsentOut(many=True)


def _token(request, attrs) -> str:
    return attrs.get("subject_token") or subject_token_of(request.auth.org.id, attrs["subject_id"])


def _subject_token(request, subject: str) -> str:
    """``subject`` as a token: a vt_… token as it is, anything else as your applicant id."""
    subject = subject.strip()
    return subject if TOKEN_RE.fullmatch(subject) else subject_token_of(request.auth.org.id, subject)


def _with_events(queryset):
    return queryset.prefetch_related(Prefetch("events", queryset=ConsentEvent.objects.order_by("at", "recorded_at")))


class ConsentApi(DosApiView):
    permission_map = {"get": "privacy.read", "post": "privacy.manage"}

    @extend_schema(parameters=[OpenApiParameter(
        "subject", {"type": "string", "minLength": 1, "maxLength": SUBJECT_MAX}, required=True,
        description="Your id of the applicant, or the subject's vt_… token.")],
        responses={200: ConsentHistoryOut}, summary="A subject's consents with their history (newest first)")
    def get(self, request):
        subject = request.query_params.get("subject", "").strip()
        if not subject or len(subject) > SUBJECT_MAX:
            raise invalid_fields({"subject": [f"Give the subject: 1–{SUBJECT_MAX} characters."]})
        token = _subject_token(request, subject)
        consents = _with_events(Consent.objects.filter(org_id=request.auth.org.id, subject_token=token)
                                .order_by("-valid_from", "id"))
        return Response({"subject_token": token, "consents": ConsentOut(consents, many=True).data})

    @extend_schema(request=ConsentGrantIn, responses={201: ConsentOut},
                   summary="Record a consent the subject gave (append-only; /decide checks it)")
    def post(self, request):
        body = ConsentGrantIn(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        consent = consent_grant(org_id=request.auth.org.id, subject_token=_token(request, v), purposes=v["purposes"],
                                scopes=v.get("scopes", ()), lawful_basis=v["lawful_basis"], source=v["source"],
                                evidence_ref=v["evidence_ref"], valid_from=v.get("valid_from"),
                                valid_until=v.get("valid_until"), actor=request.auth)
        consent = _with_events(Consent.objects.filter(org_id=consent.org_id, id=consent.id)).get()
        return Response(ConsentOut(consent).data, status=status.HTTP_201_CREATED)


class ConsentRevokeApi(DosApiView):
    permission_map = {"post": "privacy.manage"}

    @extend_schema(request=ConsentRevokeIn, responses={200: ConsentRevokeOut},
                   summary="Revoke a consent, or a subject's current consents (for some purposes)")
    def post(self, request):
        body = ConsentRevokeIn(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        if v.get("consent_id"):
            consent = Consent.objects.filter(org_id=request.auth.org.id, id=v["consent_id"]).first()
            if consent is None:
                raise referenced_not_found("consent_id", "No such consent in this organisation.")
            events = [consent_revoke(consent=consent, actor=request.auth, reason=v["reason"])]
        else:
            events = consent_revoke_subject(org_id=request.auth.org.id, subject_token=_token(request, v),
                                            purposes=v.get("purposes", ()), reason=v["reason"], actor=request.auth)
        return Response({"revoked": [str(e.consent_id) for e in events]})
