"""Which consent (or lawful basis) covers a purpose — the reads of the policy enforcement point.

``consent_verdicts`` is what /decide and /decide/batch pay for it: one statement, whatever the
number of items, that reads the org's settings row by its unique key and probes each subject's
consents through ``consent_org_subject_idx`` (and their end events through ``consentevent_one_end``,
the partial unique index that also lets a consent end only once). Every table in it names the org (docs/scale.md, "Routing").
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Exists, OuterRef
from django.utils import timezone

from decisions.hooks import ConsentVerdict
from privacy.models import Consent, ConsentEvent, ConsentEventKind, ConsentMode, LawfulBasis
from privacy.settings import privacy_settings

ENDED = (ConsentEventKind.REVOKED.value, ConsentEventKind.EXPIRED.value)

VERDICTS_SQL = """
SELECT w.i, s.consent_mode, s.lawful_bases ->> w.purpose,
       (SELECT c.id FROM privacy_consent c
         WHERE c.org_id = %(org)s AND c.subject_token = w.token
           AND c.purposes @> ARRAY[w.purpose]::varchar[]
           AND c.valid_from <= %(at)s AND (c.valid_until IS NULL OR c.valid_until > %(at)s)
           AND NOT EXISTS (SELECT 1 FROM privacy_consentevent e
                            WHERE e.org_id = %(org)s AND e.consent_id = c.id
                              AND e.kind IN ('revoked', 'expired') AND e.at <= %(at)s)
         ORDER BY c.valid_from DESC, c.id LIMIT 1)
  FROM unnest(%(i)s::int[], %(tokens)s::text[], %(purposes)s::text[]) AS w(i, token, purpose)
  LEFT JOIN privacy_privacysettings s ON s.org_id = %(org)s
 ORDER BY w.i
"""


def _basis(value) -> str:
    """A configured basis that stands without consent ("" when none or not a valid one)."""
    return value if value in LawfulBasis.values and value != LawfulBasis.CONSENT else ""


def consent_verdicts(*, org_id, checks: list[tuple[str, str]], at=None) -> list[ConsentVerdict]:
    """For each ``(subject_token, purpose)``, in order: covered by a consent (its id), by a lawful
    basis configured for the purpose, or not — with the org's consent mode. One statement."""
    if not checks:
        return []
    at = at or timezone.now()
    with connection.cursor() as cur:
        cur.execute(VERDICTS_SQL, {"org": org_id, "at": at, "i": list(range(len(checks))),
                                   "tokens": [t for t, _ in checks], "purposes": [p for _, p in checks]})
        rows = cur.fetchall()
    verdicts = []
    for _i, mode, configured, consent_id in rows:
        mode = mode or ConsentMode.DENY  # an org that never saved settings (see PrivacySettings.defaults)
        basis = _basis(configured)
        if consent_id is not None:
            verdicts.append(ConsentVerdict(covered=True, consent_ref=str(consent_id), basis="consent", mode=mode))
        elif basis:
            verdicts.append(ConsentVerdict(covered=True, consent_ref=f"basis:{basis}", basis=basis, mode=mode))
        else:
            verdicts.append(ConsentVerdict(covered=False, mode=mode))
    return verdicts


def consent_covering(*, org_id, subject_token: str, purpose: str, at=None) -> Consent | None:
    """The consent of the subject that covers ``purpose`` at ``at`` (now): inside its window and not
    revoked or expired by then; the most recent one when several do. None when none does."""
    at = at or timezone.now()
    ended = ConsentEvent.objects.filter(org_id=org_id, consent_id=OuterRef("id"), kind__in=ENDED, at__lte=at)
    return (Consent.objects.filter(org_id=org_id, subject_token=subject_token, purposes__contains=[purpose],
                                   valid_from__lte=at)
            .exclude(valid_until__lte=at)
            .exclude(Exists(ended))
            .order_by("-valid_from", "id").first())


def lawful_without_consent(*, org_id, purpose: str) -> str | None:
    """The lawful basis the org configured for ``purpose`` that needs no consent, or None."""
    return privacy_settings(org_id).basis_for(purpose)
