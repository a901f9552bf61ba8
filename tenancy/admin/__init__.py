"""Back office for tenancy: orgs, projects, members, API keys, grants, approvals, platform staff.

Every change goes through tenancy.services / tenancy.approvals, so the admin writes the same audit
entries as the API and dosctl.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.template.response import TemplateResponse
from django.utils import timezone

from dos.admin_base import ANY, DosModelAdmin
from dos.errors import DomainError
from tenancy import services
from tenancy.approvals import approval_grant, approval_reject
from tenancy.choices import GrantScope
from tenancy.models import (
    ApiKey,
    ApprovalRequest,
    Environment,
    Grant,
    Membership,
    Org,
    PlanOverride,
    PlatformRole,
    Project,
    ProjectUserObjectPermission,
)
from tenancy.plans import load_plans
from tenancy.roles import DEFAULT_KEY_SCOPES, PERMISSIONS, PROJECT_OBJECT_PERMISSIONS

User = get_user_model()


def _actor(request):
    return request.dos_principal


def _member_by_email(email: str):
    member = Membership.objects.filter(user__email=email.lower()).select_related("user").first()
    if member is None:
        raise ValidationError({"email": "Not a member of this organisation."})
    return member.user


class PersonColumnMixin:
    @admin.display(description="person", ordering="user__email")
    def user_email(self, obj) -> str:
        return obj.user.email


def _raise_as_form_error(exc: services.TenancyError):
    messages_ = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    raise ValidationError(messages_)


@admin.register(Org)
class OrgAdmin(DosModelAdmin):
    permission_map = {"view": ANY, "change": "org.manage"}
    list_display = ["name", "slug", "plan", "status", "region", "created_at"]
    list_filter = ["plan", "status", "region"]
    search_fields = ["name", "slug"]
    readonly_fields = ["id", "slug", "created_at", "plan_summary"]
    fields = ["id", "name", "slug", "plan", "plan_summary", "status", "region", "ip_allowlist", "settings", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not self._is_platform(request):
            fields += ["plan", "status", "region"]  # commercial and platform facts: platform staff change them
        return fields

    @admin.display(description="entitlements and quotas")
    def plan_summary(self, obj) -> str:
        plan = load_plans().get(obj.plan)
        if plan is None:
            return "unknown plan"
        quotas = ", ".join(f"{k}={v}" for k, v in plan.quotas.items())
        return f"{plan.title}: {', '.join(plan.entitlements)} · {quotas}"

    def save_model(self, request, obj, form, change):
        services.org_update(org=obj, actor=_actor(request), fields=form.changed_data)


class EnvironmentInline(admin.TabularInline):
    model = Environment
    extra = 0
    fields = ["kind", "created_at"]
    readonly_fields = ["kind", "created_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class ProjectForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "slug", "description"]

    def clean_slug(self):
        # Rows are the org's own (the request is scoped): a taken slug is a field error, not a refusal.
        slug = self.cleaned_data.get("slug")
        if slug and not self.instance.pk and Project.objects.filter(slug=slug).exists():
            raise ValidationError(f"A project with slug '{slug}' already exists.")
        return slug


@admin.register(Project)
class ProjectAdmin(DosModelAdmin):
    permission_map = {"view": ANY, "add": "project.manage", "change": "project.manage"}
    form = ProjectForm
    list_display = ["name", "slug", "key_count", "created_at", "archived_at"]
    list_filter = [("archived_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "slug"]
    inlines = [EnvironmentInline]
    actions = ["archive_selected"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_keys=Count("api_keys"))

    @admin.display(description="API keys", ordering="_keys")
    def key_count(self, obj) -> int:
        return obj._keys

    def get_readonly_fields(self, request, obj=None):
        return ["slug"] if obj else []

    def save_model(self, request, obj, form, change):
        try:
            if change:
                services.project_update(project=obj, actor=_actor(request),
                                        **{f: form.cleaned_data[f] for f in form.changed_data if f != "slug"})
            else:
                org = Org.objects.get(id=_actor(request).org_id)
                created = services.project_create(org=org, name=obj.name, slug=obj.slug, description=obj.description,
                                                  actor=_actor(request))
                obj.pk, obj.id = created.pk, created.id
        except services.TenancyError as exc:
            _raise_as_form_error(exc)

    @admin.action(description="Archive selected projects (revokes their API keys)", permissions=["change"])
    def archive_selected(self, request, queryset):
        return self.confirm_action(
            request, queryset.filter(archived_at__isnull=True), action="archive_selected", title="Archive projects?",
            verb="Archived", detail="Archiving revokes every API key of these projects at once.",
            apply=lambda p: services.project_archive(project=p, actor=_actor(request)))


class MemberAddForm(forms.ModelForm):
    email = forms.EmailField(help_text="The person's sign-in e-mail; an account is created if needed.")

    class Meta:
        model = Membership
        fields = ["role"]


@admin.register(Membership)
class MembershipAdmin(PersonColumnMixin, DosModelAdmin):
    permission_map = {"view": "members.manage", "add": "members.manage", "delete": "members.manage"}
    list_display = ["user_email", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "user__full_name"]
    list_select_related = ["user"]
    form = MemberAddForm

    def save_model(self, request, obj, form, change):
        org = Org.objects.get(id=_actor(request).org_id)
        created = services.membership_add(org=org, email=form.cleaned_data["email"], role=form.cleaned_data["role"],
                                          actor=_actor(request))
        obj.pk, obj.id, obj.user = created.pk, created.id, created.user

    def delete_model(self, request, obj):
        try:
            services.membership_remove(membership=obj, actor=_actor(request))
        except DomainError as exc:  # the last owner stays; roles beyond the actor's are refused
            messages.error(request, str(exc))


class KeyStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("revoked", "Revoked"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True).exclude(expires_at__lte=now)
        return queryset


class ApiKeyCreateForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.none())
    name = forms.CharField(max_length=100)
    scopes = forms.MultipleChoiceField(choices=[(p, f"{p} — {d}") for p, d in PERMISSIONS.items()],
                                       initial=list(DEFAULT_KEY_SCOPES), widget=forms.CheckboxSelectMultiple)
    expires_at = forms.DateTimeField(required=False, help_text="Optional, e.g. 2027-06-30 18:00")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = Project.objects.filter(archived_at__isnull=True).order_by("name")


@admin.register(ApiKey)
class ApiKeyAdmin(DosModelAdmin):
    permission_map = {"view": "keys.manage", "add": "keys.manage"}
    list_display = ["name", "display_prefix", "project", "state_label", "scope_list", "last_used_at", "expires_at",
                    "created_at"]
    list_filter = [KeyStateFilter, "project"]
    search_fields = ["name", "prefix"]
    list_select_related = ["project"]
    readonly_fields = ["name", "prefix", "project", "scopes", "expires_at", "revoked_at", "last_used_at", "created_at"]
    exclude = ["secret_hash", "created_by", "revoked_by"]
    actions = ["revoke_selected"]

    @admin.display(description="key")
    def display_prefix(self, obj) -> str:
        return f"dos_{obj.prefix}_…"

    @admin.display(description="state")
    def state_label(self, obj) -> str:
        return obj.state

    @admin.display(description="scopes")
    def scope_list(self, obj) -> str:
        return ", ".join(obj.scopes)

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            return self.changelist_view(request)
        form = ApiKeyCreateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                created = services.apikey_create(actor=_actor(request), **form.cleaned_data)
            except services.TenancyError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                context = {**self.admin_site.each_context(request), "title": "API key created",
                           "key": created.key, "secret": created.secret}
                return TemplateResponse(request, "admin/dos_key_created.html", context)
        context = {**self.admin_site.each_context(request), "title": "Create API key", "adminform": None,
                   "form": form, "opts": self.model._meta}
        return TemplateResponse(request, "admin/dos_key_form.html", context)

    @admin.action(description="Revoke selected API keys", permissions=["add"])
    def revoke_selected(self, request, queryset):
        return self.confirm_action(
            request, queryset.filter(revoked_at__isnull=True), action="revoke_selected", title="Revoke API keys?",
            verb="Revoked", detail="Systems using these keys will get 401 api_key_revoked from their next call.",
            apply=lambda key: services.apikey_revoke(key=key, actor=_actor(request), reason="revoked in admin"))


class GrantAddForm(forms.ModelForm):
    email = forms.EmailField(help_text="A member of this organisation.")
    permission = forms.ChoiceField(choices=[(p, p) for p in PERMISSIONS])

    class Meta:
        model = Grant
        fields = ["permission", "effect", "scope", "project", "reason", "expires_at"]


@admin.register(Grant)
class GrantAdmin(PersonColumnMixin, DosModelAdmin):
    permission_map = {"view": "members.manage", "add": "members.manage", "delete": "members.manage"}
    list_display = ["user_email", "effect", "permission", "scope", "project", "expires_at", "created_at"]
    list_filter = ["effect", "scope", "permission"]
    search_fields = ["user__email", "permission", "reason"]
    list_select_related = ["user", "project"]
    form = GrantAddForm

    def save_model(self, request, obj, form, change):
        org = Org.objects.get(id=_actor(request).org_id)
        created = services.grant_create(
            org=org, user=_member_by_email(form.cleaned_data["email"]), permission=form.cleaned_data["permission"],
            effect=form.cleaned_data["effect"],
            scope_kind=form.cleaned_data["scope"] or GrantScope.ORG, project=form.cleaned_data.get("project"),
            reason=form.cleaned_data.get("reason", ""), expires_at=form.cleaned_data.get("expires_at"),
            actor=_actor(request))
        obj.pk, obj.id, obj.user = created.pk, created.id, created.user

    def delete_model(self, request, obj):
        services.grant_revoke(grant=obj, actor=_actor(request))


class ProjectGrantAddForm(forms.ModelForm):
    email = forms.EmailField(help_text="A member of this organisation.")
    primitive = forms.ChoiceField(label="permission", choices=[(p, p) for p in PROJECT_OBJECT_PERMISSIONS])

    class Meta:
        model = ProjectUserObjectPermission
        fields = ["content_object"]
        labels = {"content_object": "project"}


@admin.register(ProjectUserObjectPermission)
class ProjectGrantAdmin(PersonColumnMixin, DosModelAdmin):
    """Per-project grants (django-guardian), e.g. a reviewer allowed to edit one product's policies."""

    permission_map = {"view": "members.manage", "add": "members.manage", "delete": "members.manage"}
    list_display = ["user_email", "permission_name", "content_object", "created_at"]
    list_filter = ["content_object"]
    search_fields = ["user__email"]
    list_select_related = ["user", "permission", "content_object"]
    form = ProjectGrantAddForm

    @admin.display(description="permission")
    def permission_name(self, obj) -> str:
        return obj.permission.codename.replace("_", ".", 1)

    def save_model(self, request, obj, form, change):
        try:
            created = services.project_grant(project=form.cleaned_data["content_object"],
                                             user=_member_by_email(form.cleaned_data["email"]),
                                             permission=form.cleaned_data["primitive"], actor=_actor(request))
        except services.TenancyError as exc:
            _raise_as_form_error(exc)
        obj.pk, obj.user, obj.permission, obj.content_object = (created.pk, created.user, created.permission,
                                                                created.content_object)

    def delete_model(self, request, obj):
        services.project_grant_revoke(grant=obj, actor=_actor(request))


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(DosModelAdmin):
    permission_map = {"view": ANY}
    list_display = ["action", "target", "status", "requested_by", "decided_by", "created_at", "decided_at"]
    list_filter = ["status", "action"]
    search_fields = ["target", "reason"]
    list_select_related = ["requested_by", "decided_by"]
    readonly_fields = ["action", "target", "payload", "status", "requested_by", "decided_by", "reason", "created_at",
                       "decided_at"]
    actions = ["approve_selected", "reject_selected"]

    def _decide(self, request, queryset, fn, verb):
        for item in queryset:
            try:
                fn(request=item, actor=_actor(request), reason=f"{verb} in admin", generic=True)
                messages.success(request, f"{verb}: {item}")
            except DomainError as exc:  # four eyes, already decided, permission, org status
                messages.error(request, f"{item}: {exc}")

    @admin.action(description="Approve selected requests (four eyes)")
    def approve_selected(self, request, queryset):
        self._decide(request, queryset, approval_grant, "Approved")

    @admin.action(description="Reject selected requests")
    def reject_selected(self, request, queryset):
        self._decide(request, queryset, approval_reject, "Rejected")


@admin.register(PlatformRole)
class PlatformRoleAdmin(DosModelAdmin):
    platform_only = True
    add_in_org_only = False
    permission_map = {"view": "org.manage", "add": "org.manage", "delete": "org.manage"}
    list_display = ["user", "role", "created_at"]
    list_filter = ["role"]
    autocomplete_fields = ["user"]

    def save_model(self, request, obj, form, change):
        created = services.platform_role_grant(user=obj.user, role=obj.role, actor=_actor(request))
        obj.pk = created.pk

    def delete_model(self, request, obj):
        services.platform_role_revoke(platform_role=obj, actor=_actor(request))


@admin.register(User)
class UserAdmin(DjangoUserAdmin, DosModelAdmin):
    """Users span orgs, so only platform staff see this list; orgs manage people through members."""

    platform_only = True
    permission_map = {"view": "org.manage", "change": "org.manage"}
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_active", "is_superuser"]
    search_fields = ["email", "full_name"]
    fieldsets = [(None, {"fields": ["email", "full_name", "is_active", "is_staff", "oidc_subject"]}),
                 ("Dates", {"fields": ["last_login", "date_joined"]})]
    add_fieldsets = [(None, {"fields": ["email", "full_name"]})]
    readonly_fields = ["last_login", "date_joined", "oidc_subject"]
    filter_horizontal: list = []

    def has_change_permission(self, request, obj=None):
        # Accounts are changed by a platform superuser only (services.user_update); staff may look.
        principal = self.principal(request)
        return bool(principal and principal.platform and request.user.is_superuser)

    def get_urls(self):
        # No password form here: break-glass passwords are set with `manage.py changepassword`.
        return [url for url in super().get_urls() if not str(url.pattern).endswith("password/")]

    def save_model(self, request, obj, form, change):
        services.user_update(user=obj, changes={f: form.cleaned_data[f] for f in form.changed_data},
                             actor=_actor(request))


class PlanOverrideForm(forms.ModelForm):
    """A platform change to one commercial limit; the value is JSON (Cedar policies as plain text)."""

    key = forms.ChoiceField(choices=())
    value_text = forms.CharField(label="value", widget=forms.Textarea(attrs={"rows": 4}),
                                 help_text="JSON: 5000, true, 0.9, [\"decision_calls\"]; cedar_policies as Cedar text "
                                           "(forbid only).")

    class Meta:
        model = PlanOverride
        fields = ["org", "key", "value_text", "reason", "expires_at"]

    def __init__(self, *args, **kwargs):
        import json

        from tenancy.overrides import known_keys

        super().__init__(*args, **kwargs)
        self.fields["key"].choices = [(k, k) for k in known_keys()]
        if self.instance.pk:
            value = self.instance.value
            self.initial["value_text"] = value if isinstance(value, str) else json.dumps(value)

    def clean(self):
        import json

        from tenancy.overrides import override_validate

        data = super().clean()
        key, text = data.get("key"), data.get("value_text")
        if key and text is not None:
            try:
                value = text if key == "cedar_policies" else json.loads(text)
            except ValueError:
                raise ValidationError({"value_text": "Not JSON: write 5000, true, 0.9 or [\"…\"]."})
            try:
                data["value"] = override_validate(key, value)
            except ValidationError as exc:
                raise ValidationError({"value_text": exc.messages})
        return data


@admin.register(PlanOverride)
class PlanOverrideAdmin(DosModelAdmin):
    """Platform staff only: quotas, entitlements, rate limits and Cedar policies beyond the plan.

    Each save goes through ``tenancy.overrides.plan_override_set`` (platform principal required,
    audited with the value before and after); the list shows both."""

    platform_only = True
    add_in_org_only = False
    form = PlanOverrideForm
    permission_map = {"view": "org.manage", "add": "org.manage", "change": "org.manage", "delete": "org.manage"}
    list_display = ["org", "key", "previous_value", "new_value", "approved_by", "created_at", "expires_at", "in_force"]
    list_filter = ["key", "expires_at"]
    search_fields = ["org__name", "org__slug", "key", "reason"]
    list_select_related = ["org", "approved_by"]
    date_hierarchy = "created_at"
    readonly_fields = ["previous_value", "approved_by", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "org", "key"] if obj is not None else self.readonly_fields

    @admin.display(description="before (plan or earlier override)")
    def previous_value(self, obj) -> str:
        return _override_text(obj.previous)

    @admin.display(description="value in force")
    def new_value(self, obj) -> str:
        return _override_text(obj.value)

    @admin.display(description="in force", boolean=True)
    def in_force(self, obj) -> bool:
        return obj.in_force()

    def save_model(self, request, obj, form, change):
        from tenancy.overrides import plan_override_set

        saved = plan_override_set(org=obj.org, key=obj.key, value=form.cleaned_data["value"],
                                  reason=form.cleaned_data["reason"], expires_at=form.cleaned_data.get("expires_at"),
                                  actor=_actor(request))
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        from tenancy.overrides import plan_override_remove

        plan_override_remove(override=obj, reason="removed in admin", actor=_actor(request))


def _override_text(value) -> str:
    import json

    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 80 else text[:79] + "…"
