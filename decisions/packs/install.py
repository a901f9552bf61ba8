"""Install a domain pack's policies into a project: create, submit and — when a second person is
given — approve and publish each (four eyes always apply)."""

from __future__ import annotations

from decisions import services
from decisions.choices import VersionStatus
from decisions.models import PolicySet, PolicyVersion
from decisions.packs import load_pack

PACK_SEMVER = {"0.1": "0.1.0"}


def pack_install(*, project, domain: str, version: str | None = None, author, approver=None) -> list[PolicyVersion]:
    """``author`` and ``approver`` are acting principals (two different members: four eyes)."""
    pack = load_pack(domain, version)
    semver = PACK_SEMVER.get(pack.version, f"{pack.version}.0")
    installed = []
    for name, source in pack.rules.items():
        existing = PolicyVersion.objects.select_related("policy_set").filter(
            policy_set__in=PolicySet.objects.filter(project=project, name=name), semver=semver).first()
        current = existing or services.version_create(project=project, source=source, semver=semver, actor=author,
                                                      notes=f"Domain pack {pack.domain} {pack.version}")
        if current.status == VersionStatus.DRAFT:
            current = services.version_submit(version=current, actor=author)
        if approver is not None and current.status == VersionStatus.PENDING_APPROVAL:
            current = services.version_approve(version=current, actor=approver, reason="domain pack install")
        if approver is not None and current.status == VersionStatus.APPROVED:
            current = services.version_publish(version=current, actor=approver)
        installed.append(current)
    return installed
