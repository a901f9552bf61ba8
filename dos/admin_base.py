"""Base ModelAdmin: permissions from the role table, platform-aware columns, confirmed bulk actions."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

ANY = "*"  # any signed-in principal of the org (data is still scoped)


class ReadOnlyInline(admin.TabularInline):
    """Recorded facts shown under their parent (steps, timelines, events, findings): nothing is added,
    changed or deleted here; whoever holds ``view_permission`` sees them."""

    view_permission = ""
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        principal = getattr(request, "dos_principal", None)
        return bool(principal and self.view_permission and principal.has_perm(self.view_permission))


class DosModelAdmin(admin.ModelAdmin):
    """``permission_map`` maps view/add/change/delete to a permission primitive (or ANY / None)."""

    permission_map: dict[str, str | None] = {"view": None, "add": None, "change": None, "delete": None}
    platform_only = False
    # Rows created in the admin belong to the org being worked in; platform scope has none.
    add_in_org_only = True
    list_per_page = 50

    @staticmethod
    def principal(request):
        return getattr(request, "dos_principal", None)

    def _allowed(self, request, kind: str) -> bool:
        principal = self.principal(request)
        if principal is None or (self.platform_only and not principal.platform):
            return False
        perm = self.permission_map.get(kind)
        return perm == ANY or (bool(perm) and principal.has_perm(perm))

    def has_module_permission(self, request):
        return any(self._allowed(request, kind) for kind in ("view", "change"))

    def has_view_permission(self, request, obj=None):
        return self._allowed(request, "view") or self._allowed(request, "change")

    def has_add_permission(self, request):
        return self._allowed(request, "add") and not (self.add_in_org_only and self._is_platform(request))

    def has_change_permission(self, request, obj=None):
        return self._allowed(request, "change")

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request, "delete")

    def scoped_object_or_404(self, request, pk):
        """The object as the changelist would show it (tenant-scoped, viewable), else 404 — for the
        custom views a ModelAdmin adds (diffs, reports)."""
        from django.http import Http404

        obj = self.get_object(request, str(pk))
        if obj is None or not self.has_view_permission(request, obj):
            raise Http404(f"No such {self.model._meta.verbose_name}.")
        return obj

    def delete_queryset(self, request, queryset):
        # Bulk deletes go object by object through delete_model, i.e. through the services.
        for obj in queryset:
            self.delete_model(request, obj)

    def _is_platform(self, request) -> bool:
        principal = self.principal(request)
        return bool(principal and principal.platform)

    def get_list_display(self, request):
        columns = list(super().get_list_display(request))
        if self._is_platform(request) and any(f.name == "org" for f in self.model._meta.fields):
            columns.insert(1, "org")
        return columns

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if self._is_platform(request) and any(f.name == "org" for f in self.model._meta.fields):
            filters.insert(0, "org")
        return filters

    def get_list_select_related(self, request):
        related = super().get_list_select_related(request)
        if self._is_platform(request) and any(f.name == "org" for f in self.model._meta.fields):
            return [*(related if isinstance(related, (list, tuple)) else []), "org"]
        return related

    def confirm_action(self, request, queryset, *, action: str, title: str, verb: str, apply, detail: str = "",
                       type_count: bool = False):
        """Two-step bulk action: first a confirmation page listing the rows, then ``apply(obj)``.
        ``type_count`` asks the person to type how many rows they are about to change."""
        objects = list(queryset)
        typed_wrong = type_count and request.POST.get("confirmed") == "yes" and (
            request.POST.get("typed_count", "").strip() != str(len(objects)))
        if request.POST.get("confirmed") != "yes" or typed_wrong:
            context = {
                **self.admin_site.each_context(request), "title": title, "objects": objects,
                "action": action, "verb": verb, "detail": detail, "opts": self.model._meta,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME, "type_count": type_count,
                "typed_wrong": typed_wrong,
            }
            return TemplateResponse(request, "admin/dos_confirm_action.html", context)
        done, failed = 0, []
        for obj in objects:
            try:
                apply(obj)
                done += 1
            except Exception as exc:  # noqa: BLE001 - reported to the operator, others continue
                failed.append(f"{obj}: {exc}")
        if done:
            messages.success(request, f"{verb} {done} {self.model._meta.verbose_name_plural}.")
        for failure in failed:
            messages.error(request, failure)
        return None
