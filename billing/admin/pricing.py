"""Back office for the price book (platform finance): plans with their versions, drafting and
publishing a version (with a confirmation), the diff against the previous version, coupons with
their use; and, per org, prepaid credit and seat levels (a tenant's billing admin sees its own)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Sum
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from billing.credits import coupon_errors, coupon_save, credit_grant, credit_grant_errors
from billing.models import (
    Coupon,
    CouponRedemption,
    CreditGrant,
    PricePlan,
    PriceVersion,
    PriceVersionStatus,
    SeatLevel,
)
from billing.money import format_price, format_won
from billing.pricebook import previous_version, price_spec, price_version_draft, price_version_publish, spec_diff
from dos.admin_base import DosModelAdmin
from dos.errors import DomainError
from tenancy.models import Org


def _refused(request, exc: DomainError) -> None:
    detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in getattr(exc, "errors", {}).items())
    messages.error(request, f"{exc} {detail}".strip())


class PriceVersionInline(admin.TabularInline):
    model = PriceVersion
    fields = ["version_link", "status", "effective_from", "base_won", "published_by", "published_at", "quote_ref"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-version"]

    @admin.display(description=_("version"))
    def version_link(self, obj):
        return format_html('<a href="{}">v{}</a>', reverse("admin:billing_priceversion_change", args=[obj.pk]),
                           obj.version)

    @admin.display(description=_("base per month"))
    def base_won(self, obj):
        return format_price(obj.spec.get("base", "0"))

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PricePlan)
class PricePlanAdmin(DosModelAdmin):
    platform_only = True
    permission_map = {"view": "billing.read"}
    list_display = ["code", "title", "in_force", "quoted", "self_serve", "versions_count"]
    list_filter = ["quoted", "self_serve"]
    search_fields = ["code", "title"]
    inlines = [PriceVersionInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(version_count=Count("versions"))

    @admin.display(description=_("in force today"))
    def in_force(self, obj):
        today = timezone.localdate()
        version = (obj.versions.filter(status=PriceVersionStatus.PUBLISHED, effective_from__lte=today)
                   .order_by("-effective_from", "-version").first())
        return f"v{version.version}" if version else "—"

    @admin.display(description=_("versions"), ordering="version_count")
    def versions_count(self, obj):
        return obj.version_count


class PriceVersionForm(forms.ModelForm):
    spec = forms.JSONField(help_text=_("Decimal strings for amounts, e.g. {\"base\": \"300000\", \"metrics\": {…}}."),
                           widget=forms.Textarea(attrs={"rows": 18, "cols": 90, "style": "font-family: monospace"}))

    class Meta:
        model = PriceVersion
        fields = ["plan", "effective_from", "spec", "quote_ref", "notes"]


@admin.register(PriceVersion)
class PriceVersionAdmin(DosModelAdmin):
    platform_only = True
    add_in_org_only = False
    permission_map = {"view": "billing.read", "add": "billing.manage"}
    form = PriceVersionForm
    list_display = ["__str__", "status", "effective_from", "base_won", "spec_short", "published_by", "published_at",
                    "diff_link"]
    list_filter = ["status", "plan"]
    list_select_related = ["plan"]
    date_hierarchy = "effective_from"
    actions = ["publish_selected"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj) if obj else []

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["plan", "effective_from", "spec", "quote_ref", "notes"]
        return ["plan", "version", "status", "effective_from", "quote_ref", "notes", "spec_pretty", "spec_sha256",
                "created_by", "created_at", "published_by", "published_at"]

    @admin.display(description=_("base per month"))
    def base_won(self, obj):
        return format_price(obj.spec.get("base", "0"))

    @admin.display(description=_("sha256"))
    def spec_short(self, obj):
        return obj.spec_sha256[:12] or "—"

    @admin.display(description=_("price definition"))
    def spec_pretty(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.spec, indent=2, ensure_ascii=False, sort_keys=True))

    @admin.display(description=_("diff"))
    def diff_link(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("admin:billing_priceversion_diff", args=[obj.pk]),
                           _("changes"))

    def save_model(self, request, obj, form, change):
        if change:
            raise DomainError("A price version is never edited: draft a new one.", code="immutable", status=409)
        version = price_version_draft(plan=obj.plan, spec=obj.spec, effective_from=obj.effective_from,
                                      notes=obj.notes, quote_ref=obj.quote_ref, actor=self.principal(request))
        obj.pk, obj.version = version.pk, version.version

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except DomainError as exc:
            _refused(request, exc)
            return TemplateResponse(request, "admin/dos_plans.html", status=400)

    @admin.action(description=_("Publish the selected drafts"), permissions=["add"])
    def publish_selected(self, request, queryset):
        return self.confirm_action(
            request, queryset.filter(status=PriceVersionStatus.DRAFT), action="publish_selected",
            title=_("Publish price versions"), verb=_("Published"), type_count=True,
            detail=_("A published price is frozen and applies from its start date to every new period."),
            apply=lambda v: price_version_publish(version=v, actor=self.principal(request)))

    def get_urls(self):
        return [path("<int:pk>/diff/", self.admin_site.admin_view(self.diff_view), name="billing_priceversion_diff"),
                *super().get_urls()]

    def diff_view(self, request, pk):
        version = self.scoped_object_or_404(request, pk)
        before = previous_version(version)
        rows = spec_diff(before.spec if before else None, version.spec)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "original": version,
                   "title": _("%(version)s against %(before)s") % {"version": version,
                                                                   "before": before or _("nothing")},
                   "before": before, "rows": rows, "spec": price_spec(version)}
        return TemplateResponse(request, "admin/billing/priceversion_diff.html", context)


def _add_errors(form: forms.Form, errors: dict[str, list[str]]) -> None:
    for name, messages_ in errors.items():
        form.add_error(name if name in form.fields else None, messages_)


class CouponForm(forms.ModelForm):
    """The coupon service's checks run as the form's validation: a bad coupon is a field error."""

    class Meta:
        model = Coupon
        fields = ["code", "name", "kind", "percent_off", "amount_off", "min_subtotal", "max_discount",
                  "duration_months", "max_redemptions", "redeem_by", "plans", "active"]

    def _post_clean(self):
        super()._post_clean()  # builds self.instance from the cleaned data
        if not self.errors:
            _add_errors(self, coupon_errors(self.instance))


@admin.register(Coupon)
class CouponAdmin(DosModelAdmin):
    form = CouponForm
    platform_only = True
    add_in_org_only = False
    permission_map = {"view": "billing.read", "add": "billing.manage", "change": "billing.manage"}
    list_display = ["code", "name", "kind", "value", "band", "duration_months", "redeemed", "redeem_by", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["code", "name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(redeemed_count=Count("redemptions"))

    @admin.display(description=_("value"))
    def value(self, obj):
        return f"{obj.percent_off.normalize()} %" if obj.kind == "percent" else format_won(obj.amount_off or 0)

    @admin.display(description=_("band"))
    def band(self, obj):
        low = format_won(obj.min_subtotal) if obj.min_subtotal else "—"
        cap = format_won(obj.max_discount) if obj.max_discount is not None else "—"
        return f"≥ {low} · ≤ {cap}"

    @admin.display(description=_("redemptions"), ordering="redeemed_count")
    def redeemed(self, obj):
        cap = obj.max_redemptions if obj.max_redemptions is not None else "∞"
        return f"{obj.redeemed_count} / {cap}"

    def save_model(self, request, obj, form, change):
        coupon_save(coupon=obj, actor=self.principal(request))


class OrgReadAdmin(DosModelAdmin):
    """Per-org rows: platform finance sees every org, a billing admin its own; changed by services."""

    permission_map = {"view": "billing.read"}

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


@admin.register(CouponRedemption)
class CouponRedemptionAdmin(OrgReadAdmin):
    list_display = ["coupon", "redeemed_at", "redeemed_by", "periods_applied", "status"]
    list_filter = ["status"]
    list_select_related = ["coupon"]


class CreditGrantForm(forms.ModelForm):
    org = forms.ModelChoiceField(queryset=Org.objects.none(), label=_("organisation"))

    class Meta:
        model = CreditGrant
        fields = ["org", "amount", "reason", "expires_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = Org.objects.exclude(slug="_platform").order_by("name")

    def clean(self):
        cleaned = super().clean()
        if "amount" in cleaned:
            _add_errors(self, credit_grant_errors(amount=cleaned.get("amount"), reason=cleaned.get("reason") or ""))
        return cleaned


@admin.register(CreditGrant)
class CreditGrantAdmin(OrgReadAdmin):
    add_in_org_only = False
    permission_map = {"view": "billing.read", "add": "billing.manage"}
    list_display = ["__str__", "amount_won", "remaining_won", "reason", "source", "granted_by", "granted_at",
                    "expires_at"]
    list_filter = ["source"]
    search_fields = ["reason", "source_ref"]
    date_hierarchy = "granted_at"

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = CreditGrantForm
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return super().get_readonly_fields(request, obj) if obj else []

    def has_add_permission(self, request):
        return self._is_platform(request) and super().has_add_permission(request)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(spent=Sum("consumptions__amount"))

    @admin.display(description=_("granted"), ordering="amount")
    def amount_won(self, obj):
        return format_won(obj.amount)

    @admin.display(description=_("left"))
    def remaining_won(self, obj):
        return format_won(obj.amount - (getattr(obj, "spent", None) or 0))

    def save_model(self, request, obj, form, change):
        grant = credit_grant(org_id=form.cleaned_data["org"].pk, amount=obj.amount, reason=obj.reason,
                             expires_at=obj.expires_at, actor=self.principal(request))
        obj.pk = grant.pk


@admin.register(SeatLevel)
class SeatLevelAdmin(OrgReadAdmin):
    list_display = ["role", "since", "quantity", "source", "recorded_by", "recorded_at"]
    list_filter = ["role", "source"]
    date_hierarchy = "since"
