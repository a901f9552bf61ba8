"""What the vault plugs into the apps below privacy (called from ``PrivacyConfig.ready()``)."""

from __future__ import annotations

import json

from dos.authz import system_actor
from privacy.vault.services import DECISION_FIELD, DECISION_TABLE

SEALER = system_actor("decisions.input")
REPLAYER = system_actor("decisions.replay")


def _decision_subject_erased(record) -> bool:
    from privacy.vault.services import is_erased

    return is_erased(org_id=record.org_id, subject_token=record.subject_token)


def _decision_input_seal(*, org_id, subject_token: str, decision_id, data: dict) -> str:
    """The original input of a decision whose snapshot masks personal data, sealed for its subject;
    nothing ("") once the subject was erased — the masked snapshot is all that is kept then."""
    from dos.vault import Erased
    from privacy.vault.services import seal

    try:
        return seal(actor=SEALER, org_id=org_id, subject_token=subject_token, table=DECISION_TABLE,
                    row=str(decision_id), field=DECISION_FIELD,
                    plaintext=json.dumps(data, ensure_ascii=False, sort_keys=True).encode())
    except Erased:
        return ""


def _decision_input_unseal(record) -> dict:
    """The sealed original input of ``record`` (audited; raises ``Erased`` after crypto-shredding)."""
    from dos.vault import VaultError
    from privacy.vault import crypto
    from privacy.vault.services import unseal

    sealed = record.refs["sealed_input"]
    parsed = crypto.parse(sealed)
    if (parsed.table, parsed.row, parsed.field) != (DECISION_TABLE, str(record.id), DECISION_FIELD):
        raise VaultError("The sealed input belongs to another record.")
    return json.loads(unseal(actor=REPLAYER, org_id=record.org_id, sealed=sealed, purpose="decision.replay"))


def register_vault_hooks() -> None:
    from decisions.hooks import input_seal, input_unseal, subject_erased
    from dos.vault import register_vault
    from privacy.vault import checks, rotation  # noqa: F401 - the start-up check; the rotation task
    from privacy.vault.services import VAULT

    register_vault(VAULT)
    subject_erased.register(_decision_subject_erased)
    input_seal.register(_decision_input_seal)
    input_unseal.register(_decision_input_unseal)
