from rest_framework import serializers

from dos.api.fields import StrictCharField, StrictSlugField
from tenancy.choices import OrgRole
from tenancy.models import ApiKey, Membership, Org, Project
from tenancy.roles import PERMISSIONS


class OrgOut(serializers.ModelSerializer):
    class Meta:
        model = Org
        fields = ["id", "slug", "name", "plan", "status", "region", "ip_allowlist", "created_at"]


class ProjectOut(serializers.ModelSerializer):
    environments = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ["id", "slug", "name", "description", "environments", "created_at", "archived_at"]

    def get_environments(self, obj) -> list[str]:
        return [env.kind for env in obj.environments.all()]


class ProjectCreateIn(serializers.Serializer):
    name = StrictCharField(max_length=200)
    slug = StrictSlugField(max_length=63, required=False)
    description = StrictCharField(required=False, allow_blank=True, default="")


class ProjectUpdateIn(serializers.Serializer):
    name = StrictCharField(max_length=200, required=False)
    description = StrictCharField(required=False, allow_blank=True)


class ApiKeyOut(serializers.ModelSerializer):
    state = serializers.CharField(read_only=True)
    display = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "display", "scopes", "state", "expires_at", "revoked_at", "last_used_at",
                  "created_at"]

    def get_display(self, obj) -> str:
        return f"dos_{obj.prefix}_…"


class ApiKeyCreatedOut(ApiKeyOut):
    secret = serializers.CharField(
        required=False, help_text="The whole key. Shown once; store it now. Never stored for an Idempotency-Key "
                                  "replay: a replay leaves it out and lists it in `replay_omitted`.")
    replay_omitted = serializers.ListField(
        child=serializers.CharField(), required=False,
        help_text="Only on an Idempotency-Key replay (header `Idempotent-Replayed: true`): the fields shown once "
                  "that the replay cannot repeat, here `[\"secret\"]`. Revoke the key and create a new one if the "
                  "secret was lost.")

    class Meta(ApiKeyOut.Meta):
        fields = [*ApiKeyOut.Meta.fields, "secret", "replay_omitted"]


class ApiKeyCreateIn(serializers.Serializer):
    name = StrictCharField(max_length=100)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=sorted(PERMISSIONS)), required=False,
                                   allow_empty=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ApiKeyRevokeIn(serializers.Serializer):
    reason = StrictCharField(max_length=200, required=False, allow_blank=True, default="")


class MemberOut(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")
    full_name = serializers.CharField(source="user.full_name")

    class Meta:
        model = Membership
        fields = ["id", "email", "full_name", "role", "created_at"]


class MemberCreateIn(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=OrgRole.choices)
    full_name = StrictCharField(max_length=200, required=False, allow_blank=True, default="")


class MeOut(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["api_key", "user"])
    org = OrgOut()
    project_id = serializers.UUIDField(allow_null=True)
    email = serializers.EmailField(allow_null=True)
    api_key = serializers.CharField(allow_null=True, help_text="dos_<prefix>_… when calling with a key")
    permissions = serializers.ListField(child=serializers.CharField())


class AuditEventOut(serializers.Serializer):
    id = serializers.IntegerField()
    seq = serializers.IntegerField()
    action = serializers.CharField()
    actor = serializers.CharField()
    target = serializers.CharField()
    data = serializers.JSONField()
    corr_id = serializers.CharField()
    created_at = serializers.DateTimeField()
    hash = serializers.CharField()
    prev_hash = serializers.CharField()
