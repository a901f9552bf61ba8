"""Back office for billing accounts and subscriptions. A tenant's billing admin sees and edits its
own account and subscription; platform finance sees every org (with filters) and alone sets tax
status or moves a subscription's standing. Every change goes through the services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from billing.accounts import (
    EDITABLE,
    billing_account_tax_status_set,
    billing_account_update,
    payment_token_clean,
    registration_number_clean,
    tax_status_errors,
)
from billing.models import (
    BillingAccount,
    BillingCycle,
    PricePlan,
    PriceVersion,
    PriceVersionStatus,
    Subscription,
    SubscriptionEvent,
    SubscriptionPhase,
    SubscriptionStatus,
)
from billing.money import format_won
from billing.periods import seoul_day
from billing.subscriptions import (
    change_preview,
    subscription_cancel,
    subscription_change,
    subscription_resume,
    subscription_start,
    subscription_status_set,
)
from dos.admin_base import DosModelAdmin
from dos.errors import DomainError, FieldErrors
from tenancy.models import Org


def _line_rows(lines) -> list[dict]:
    return [{"code": r.code, "description": _(r.description), "quantity": r.quantity, "unit": r.unit,
             "amount": format_won(r.amount)} for r in lines]


TAX_FIELDS = ("tax_exempt", "tax_exempt_reason", "tax_exempt_evidence")


def _add_errors(form: forms.Form, errors: dict[str, list[str]]) -> None:
    for name, messages_ in errors.items():
        form.add_error(name if name in form.fields else None, messages_)


class BillingAccountForm(forms.ModelForm):
    """Runs the services' own checks while the page is still a form: a bad number, token, company
    name or tax evidence is a field error, and nothing is written unless all of it is valid."""

    class Meta:
        model = BillingAccount
        fields = ["legal_name", "registration_number", "address", "business_type", "business_item", "contact_name",
                  "contact_email", "payment_provider", "payment_method_token", "payment_method_label", *TAX_FIELDS]

    def clean(self):
        cleaned = super().clean()
        changed = set(self.changed_data)
        for name, check in (("registration_number", registration_number_clean),
                            ("payment_method_token", payment_token_clean)):
            if name in changed and name in cleaned:
                try:
                    cleaned[name] = check(cleaned[name] or "")
                except FieldErrors as exc:
                    _add_errors(self, exc.errors)
        if "legal_name" in changed and not (cleaned.get("legal_name") or "").strip():
            self.add_error("legal_name", _("The company name is required."))
        if changed & set(TAX_FIELDS) and "tax_exempt" in self.fields:
            evidence = cleaned.get("tax_exempt_evidence")
            stored = self.instance.tax_exempt_evidence if self.instance.pk else []
            evidence = [] if evidence is None else evidence
            if isinstance(evidence, list):
                if evidence[:len(stored)] != stored:
                    self.add_error("tax_exempt_evidence", _("Recorded evidence stays; add documents after it."))
                evidence = evidence[len(stored):]
            _add_errors(self, tax_status_errors(status=cleaned.get("tax_exempt"),
                                                reason=cleaned.get("tax_exempt_reason") or "", evidence=evidence))
            cleaned["new_evidence"] = evidence
        return cleaned


@admin.register(BillingAccount)
class BillingAccountAdmin(DosModelAdmin):
    form = BillingAccountForm
    permission_map = {"view": "billing.read", "change": "billing.manage"}
    list_display = ["legal_name", "registration", "tax_exempt", "contact_email", "payment_method_label", "updated_at"]
    list_filter = ["tax_exempt", "tax_country"]
    search_fields = ["legal_name", "=registration_number", "contact_email"]
    fieldsets = [
        (_("Company"), {"fields": ["legal_name", "registration_number", "address", "business_type", "business_item"]}),
        (_("Contact"), {"fields": ["contact_name", "contact_email"]}),
        (_("Payment method (provider token only)"),
         {"fields": ["payment_provider", "payment_method_token", "payment_method_label"]}),
        (_("Tax"), {"fields": ["currency", "tax_country", "tax_exempt", "tax_exempt_reason", "tax_exempt_evidence"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        fixed = ["currency", "tax_country"]
        if not self._is_platform(request):
            fixed += ["tax_exempt", "tax_exempt_reason", "tax_exempt_evidence"]
        return fixed

    @admin.display(description=_("사업자등록번호"), ordering="registration_number")
    def registration(self, obj):
        return obj.registration_number_display()

    def save_model(self, request, obj, form, change):
        """Both services in one transaction: an account change never commits without the tax change
        made with it (the form has already run their checks)."""
        actor = self.principal(request)
        changed = set(form.changed_data)
        try:
            with transaction.atomic():
                fields = {k: form.cleaned_data[k] for k in EDITABLE if k in changed}
                if fields:
                    billing_account_update(org_id=obj.org_id, changes=fields, actor=actor)
                if changed & set(TAX_FIELDS) and "tax_exempt" in form.fields:
                    billing_account_tax_status_set(org_id=obj.org_id, status=form.cleaned_data["tax_exempt"],
                                                   reason=form.cleaned_data.get("tax_exempt_reason") or "",
                                                   evidence=form.cleaned_data.get("new_evidence") or [], actor=actor)
        except DomainError as exc:
            request._billing_refused = True
            detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items())
            messages.error(request, f"{exc} {detail}".strip())

    def message_user(self, request, message, level=messages.INFO, *args, **kwargs):
        if getattr(request, "_billing_refused", False) and level == messages.SUCCESS:
            return  # the change was refused and rolled back: never say it succeeded
        super().message_user(request, message, level, *args, **kwargs)


class PhaseInline(admin.TabularInline):
    model = SubscriptionPhase
    fields = ["start", "end", "price_version", "billing_cycle"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class EventInline(PhaseInline):
    model = SubscriptionEvent
    fields = ["at", "kind", "actor", "data"]
    readonly_fields = fields
    ordering = ["-at", "-id"]


class SubscriptionStartForm(forms.ModelForm):
    """Platform finance starts an org's subscription (onboarding, or an Enterprise quote)."""

    org = forms.ModelChoiceField(queryset=Org.objects.none(), label=_("organisation"))
    trial_days = forms.IntegerField(min_value=1, max_value=90, required=False, label=_("trial days"))

    class Meta:
        model = Subscription
        fields = ["org", "plan", "price_version", "billing_cycle", "started_on", "trial_days"]
        help_texts = {"price_version": _("Leave empty for the list price in force; pick the quote for Enterprise.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = Org.objects.exclude(slug="_platform").order_by("name")
        self.fields["price_version"].required = False


@admin.register(Subscription)
class SubscriptionAdmin(DosModelAdmin):
    permission_map = {"view": "billing.read", "change": "billing.manage", "add": "billing.manage"}
    add_in_org_only = False
    list_display = ["plan", "price_version", "status_badge", "billing_cycle", "started_on", "trial_ends_on",
                    "ends", "scheduled"]
    list_filter = ["status", "plan", "billing_cycle", "cancel_at_period_end"]
    list_select_related = ["plan", "price_version__plan", "scheduled_plan"]
    date_hierarchy = "started_on"
    inlines = [PhaseInline, EventInline]
    actions = ["cancel_at_period_end_selected", "resume_selected", "mark_past_due", "mark_active"]
    change_form_template = "admin/billing/subscription/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] if obj else []

    def get_inlines(self, request, obj):
        return self.inlines if obj else []

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = SubscriptionStartForm
            kwargs["fields"] = None
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["org", "plan", "price_version", "billing_cycle", "started_on", "trial_days"]
        return super().get_fields(request, obj)

    def has_add_permission(self, request):
        return self._is_platform(request) and super().has_add_permission(request)

    def save_model(self, request, obj, form, change):
        if change:
            return  # every change goes through the actions and the change-plan page
        data = form.cleaned_data
        started = subscription_start(org_id=data["org"].pk, plan_code=data["plan"].code,
                                     version=data.get("price_version"), billing_cycle=data["billing_cycle"],
                                     today=data["started_on"], trial_days=data.get("trial_days"),
                                     actor=self.principal(request))
        obj.pk = started.pk

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except DomainError as exc:
            detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items())
            messages.error(request, f"{exc} {detail}".strip())
            return HttpResponseRedirect(reverse("admin:billing_subscription_changelist"))

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        colour = {"active": "#2e7d32", "trial": "#1565c0", "past_due": "#c62828", "cancelled": "#757575"}
        return format_html('<b style="color:{}">{}</b>', colour.get(obj.status, "#000"), obj.get_status_display())

    @admin.display(description=_("ends"))
    def ends(self, obj):
        return obj.cancelled_on or "—"

    @admin.display(description=_("scheduled change"))
    def scheduled(self, obj):
        if not obj.scheduled_plan_id:
            return "—"
        return f"→ {obj.scheduled_plan.code} ({obj.scheduled_cycle or obj.billing_cycle}) {obj.scheduled_for}"

    def _today(self):
        return seoul_day(timezone.now())

    @admin.action(description=_("Cancel at the end of the period"), permissions=["change"])
    def cancel_at_period_end_selected(self, request, queryset):
        return self.confirm_action(
            request, queryset.exclude(status=SubscriptionStatus.CANCELLED), action="cancel_at_period_end_selected",
            title=_("Cancel subscriptions at the period end"), verb=_("Scheduled the cancellation of"),
            detail=_("Billing stops on the first day of next month; the organisation falls back to Sandbox then."),
            apply=lambda s: subscription_cancel(subscription=s, actor=self.principal(request), today=self._today()))

    @admin.action(description=_("Resume (undo a scheduled cancellation or change)"), permissions=["change"])
    def resume_selected(self, request, queryset):
        return self.confirm_action(
            request, queryset, action="resume_selected", title=_("Resume subscriptions"), verb=_("Resumed"),
            apply=lambda s: subscription_resume(subscription=s, actor=self.principal(request)))

    @admin.action(description=_("Mark past due"), permissions=["change"])
    def mark_past_due(self, request, queryset):
        return self.confirm_action(
            request, queryset, action="mark_past_due", title=_("Mark subscriptions past due"), verb=_("Marked"),
            apply=lambda s: subscription_status_set(subscription=s, status="past_due", actor=self.principal(request),
                                                    reason="admin"))

    @admin.action(description=_("Mark active (paid)"), permissions=["change"])
    def mark_active(self, request, queryset):
        return self.confirm_action(
            request, queryset, action="mark_active", title=_("Mark subscriptions active"), verb=_("Marked"),
            apply=lambda s: subscription_status_set(subscription=s, status="active", actor=self.principal(request),
                                                    reason="admin"))

    # --- change the plan: preview (nothing written), then confirm with the preview's token --------------
    def get_urls(self):
        view = self.admin_site.admin_view(self.change_plan_view)
        return [path("<int:pk>/change-plan/", view, name="billing_subscription_change_plan"), *super().get_urls()]

    def change_plan_view(self, request, pk):
        subscription = self.scoped_object_or_404(request, pk)
        today = self._today()
        plans = PricePlan.objects.order_by("position")
        choice = {"plan": request.POST.get("plan", ""), "when": request.POST.get("when", "period_end"),
                  "billing_cycle": request.POST.get("billing_cycle", subscription.billing_cycle),
                  "version": request.POST.get("version", "")}
        platform = self._is_platform(request)
        # Platform finance may pin a published version (an Enterprise quote); tenants get the list price.
        versions = (PriceVersion.objects.filter(status=PriceVersionStatus.PUBLISHED).select_related("plan")
                    .order_by("plan__position", "-version")) if platform else PriceVersion.objects.none()
        version = versions.filter(pk=choice["version"]).first() if choice["version"].isdigit() else None
        preview = None
        if request.method == "POST" and self.has_change_permission(request, subscription):
            try:
                preview = change_preview(subscription=subscription, plan_code=choice["plan"], when=choice["when"],
                                         today=today, billing_cycle=choice["billing_cycle"], version=version,
                                         actor=self.principal(request))
                if request.POST.get("confirmed") == "yes":
                    subscription_change(subscription=subscription, plan_code=choice["plan"], when=choice["when"],
                                        token=request.POST.get("token", ""), actor=self.principal(request),
                                        today=today, billing_cycle=choice["billing_cycle"], version=version)
                    messages.success(request, _("The plan change is made."))
                    return HttpResponseRedirect(reverse("admin:billing_subscription_change", args=[subscription.pk]))
            except DomainError as exc:
                detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items())
                messages.error(request, f"{exc} {detail}".strip())
                preview = None
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "original": subscription,
            "title": _("Change the plan of %(org)s") % {"org": subscription.org},
            "plans": plans, "cycles": BillingCycle.choices, "choice": choice, "versions": versions,
            "may_change": self.has_change_permission(request, subscription), "preview": preview,
            "current_lines": _line_rows(preview.current_lines) if preview else [],
            "changed_lines": _line_rows(preview.changed_lines) if preview else [],
            "proration": format_won(preview.proration) if preview else "",
            "next_base": format_won(preview.next_period_base) if preview else "",
        }
        return TemplateResponse(request, "admin/billing/subscription_change_plan.html", context)
