"""The privacy part of the demo seed: Acme's demo applicants have consented to loan screening, so the
ready-to-paste /decide call and the review desk's first cases are decided on a recorded consent;
any other applicant id is checked like a real one (consent is enforced unless Acme chose otherwise)."""

from __future__ import annotations

from dos import scope

PURPOSE = "loan_screening"


def demo_subjects() -> list[str]:
    """The applicant ids the demo decides for: the banner's curl call and the desk's first cases."""
    from hitl.demo import NEEDS_A_PERSON

    return ["lead-0001", *(f"demo-lead-{n + 1:04d}" for n in range(len(NEEDS_A_PERSON)))]


def seed_consents() -> list[str]:
    from privacy.consent import consent_covering, consent_grant, privacy_settings, subject_token_of
    from tenancy.demo import demo_org

    acme = demo_org("acme")
    with scope.org_scope(acme.id):
        for subject in demo_subjects():
            token = subject_token_of(acme.id, subject)
            if consent_covering(org_id=acme.id, subject_token=token, purpose=PURPOSE) is None:
                consent_grant(org_id=acme.id, subject_token=token, purposes=[PURPOSE], scopes=["credit_bureau"],
                              source="demo_seed", evidence_ref="demo application form", actor="system:demo_seed")
        mode = privacy_settings(acme.id).consent_mode
    return [f"Consent      lead-0001 and demo-lead-0001…{len(demo_subjects()) - 1:04d} consented to {PURPOSE}; "
            f"Acme's consent mode is '{mode}' (other applicant ids: "
            f"{'CONSENT_MISSING' if mode != 'monitor' else 'decided, consent noted as missing'})"]
