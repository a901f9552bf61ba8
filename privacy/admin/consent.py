"""Consent back office: look a subject's consents up by token (or by the applicant id, turned into
the token), read each one's history, revoke with a confirmation; the org's privacy settings."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dos.admin_base import DosModelAdmin, ReadOnlyInline
from dos.errors import DomainError
from privacy.consent import consent_revoke, privacy_settings_save, subject_token_of
from privacy.models import Consent, ConsentEvent, PrivacySettings
from privacy.settings import EDITABLE

READ, MANAGE = "privacy.read", "privacy.manage"


class ConsentEventInline(ReadOnlyInline):
    view_permission = READ
    model = ConsentEvent
    fields = ["kind", "at", "recorded_at", "actor", "reason"]
    readonly_fields = fields
    ordering = ["at", "recorded_at"]


class ConsentStateFilter(admin.SimpleListFilter):
    title, parameter_name = _("state"), "state"

    def lookups(self, request, model_admin):
        return [("active", _("Active")), ("ended", _("Revoked or expired"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        ended = ConsentEvent.objects.filter(kind__in=["revoked", "expired"]).values("consent_id")
        if self.value() == "active":
            return queryset.exclude(id__in=ended).exclude(valid_until__lte=now).filter(valid_from__lte=now)
        if self.value() == "ended":
            return queryset.filter(id__in=ended) | queryset.filter(valid_until__lte=now)
        return queryset


@admin.register(Consent)
class ConsentAdmin(DosModelAdmin):
    permission_map = {"view": READ, "add": None, "change": None, "delete": None}
    list_display = ["subject_token", "purpose_list", "lawful_basis", "source", "valid_from", "valid_until", "state"]
    list_filter = [ConsentStateFilter, "lawful_basis"]
    search_fields = ["=subject_token"]
    search_help_text = _("A subject token (vt_…) or your applicant id.")
    date_hierarchy = "valid_from"
    fields = ["subject_token", "purposes", "scopes", "lawful_basis", "source", "evidence_ref", "valid_from",
              "valid_until", "recorded_at", "recorded_by"]
    readonly_fields = fields
    inlines = [ConsentEventInline]
    actions = ["revoke_selected"]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if term and not term.startswith("vt_"):
            principal = self.principal(request)
            term = subject_token_of(principal.org_id, term) if principal and principal.org_id else term
        return super().get_search_results(request, queryset, term)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("events")

    @admin.display(description=_("purposes"))
    def purpose_list(self, obj):
        return ", ".join(obj.purposes)

    @admin.display(description=_("state"))
    def state(self, obj):
        now = timezone.now()
        ended = [e for e in obj.events.all() if e.kind in ("revoked", "expired")]
        if ended:
            return ended[0].get_kind_display()
        if obj.valid_until and obj.valid_until <= now:
            return _("Expired")
        return _("Scheduled") if obj.valid_from > now else _("Active")

    @admin.action(description=_("Revoke the selected consents…"), permissions=["view"])
    def revoke_selected(self, request, queryset):
        principal = self.principal(request)
        if not principal or not principal.has_perm(MANAGE):
            self.message_user(request, _("Revoking needs 'privacy.manage'."), level=messages.ERROR)
            return None
        return self.confirm_action(
            request, queryset, action="revoke_selected", title=_("Revoke these consents?"), verb=_("Revoked"),
            detail=_("From now on /decide no longer counts them; the history keeps the grant and the revocation."),
            apply=lambda consent: consent_revoke(consent=consent, actor=principal, reason="revoked in the back office"))


class PrivacySettingsForm(forms.ModelForm):
    class Meta:
        model = PrivacySettings
        fields = list(EDITABLE)


@admin.register(PrivacySettings)
class PrivacySettingsAdmin(DosModelAdmin):
    permission_map = {"view": READ, "add": MANAGE, "change": MANAGE, "delete": None}
    list_display = ["__str__", "consent_mode", "dsar_target_days", "dsar_legal_max_days", "dsar_warning_hours",
                    "updated_at", "updated_by"]
    form = PrivacySettingsForm

    def has_add_permission(self, request):
        principal = self.principal(request)
        exists = principal and principal.org_id and PrivacySettings.objects.filter(org_id=principal.org_id).exists()
        return super().has_add_permission(request) and not exists

    def save_model(self, request, obj, form, change):
        principal = self.principal(request)
        try:
            saved = privacy_settings_save(org_id=principal.org_id, actor=principal,
                                          **{name: form.cleaned_data[name] for name in EDITABLE})
        except DomainError as exc:  # the form validated the same rules; a refusal or a race lands here
            request._privacy_refused = f"{exc} {exc.errors or ''}".strip()
            return
        obj.pk = saved.pk
        obj._state.adding = False

    def _refused(self, request):
        message = getattr(request, "_privacy_refused", None)
        if message is None:
            return None
        self.message_user(request, message, level=messages.ERROR)
        return HttpResponseRedirect(request.path)

    def response_add(self, request, obj, post_url_continue=None):
        return self._refused(request) or super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        return self._refused(request) or super().response_change(request, obj)
