"""Vault v2: seals per second with a cached data key in one process, unseals per second through the
full service (permission, consent basis, key lookup, audit entry), and the time to erase a subject
with 10,000 sealed values — after which none of them opens. Target (issue scope): ≥ 20,000 seals/s.

The keystore is a throwaway 0400 file in a temporary directory, as production's would be.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from _common import bench_database, cpu_steal_report, report

SEALS, UNSEALS, ERASED_VALUES = 100_000, 2_000, 10_000
TARGET_SEALS = 20_000


def main() -> int:
    keystore_dir = tempfile.mkdtemp(prefix="dos-vault-bench-")
    os.environ["DOS_VAULT_KEYSTORE"] = os.path.join(keystore_dir, "keystore.json")
    with bench_database():
        from dos.authz import system_actor
        from dos.vault import Erased
        from privacy.vault import erase_subject, seal, unseal
        from privacy.vault.hooks import DECISION_TABLE  # decision inputs: what a job reads for decision.replay
        from privacy.vault.keystore import create_keystore
        from tenancy import services

        create_keystore(os.environ["DOS_VAULT_KEYSTORE"])
        org = services.org_create(name="Bench vault", plan="enterprise", actor="system:bench")
        job = system_actor("bench")
        plaintext = "900101-1234567 · 010-1234-5678 · 서울시 마포구".encode()

        def one(subject: str, row: int) -> str:
            return seal(actor=job, org_id=org.id, subject_token=subject, table=DECISION_TABLE, row=str(row), field="rrn",
                        plaintext=plaintext)

        one("vt_hot", 0)  # creates the data key; it is cached from here on
        ok = True
        with cpu_steal_report():
            started = time.perf_counter()
            for i in range(SEALS):
                one("vt_hot", i)
            seal_rate = SEALS / (time.perf_counter() - started)
            ok &= report("seal, cached data key (one process)", seal_rate, f">= {TARGET_SEALS:,}/s",
                         seal_rate >= TARGET_SEALS, "/s")

            sealed = [one("vt_hot", i) for i in range(UNSEALS)]
            started = time.perf_counter()
            for value in sealed:
                unseal(actor=job, org_id=org.id, sealed=value, purpose="decision.replay")
            unseal_rate = UNSEALS / (time.perf_counter() - started)
            report("unseal, full service (key row + audit entry)", unseal_rate, "figure", True, "/s")

            started = time.perf_counter()
            theirs = [one("vt_erase_me", i) for i in range(ERASED_VALUES)]
            fill = time.perf_counter() - started
            report(f"seal {ERASED_VALUES:,} values of one subject", fill * 1000, "figure", True, "ms")
            started = time.perf_counter()
            result = erase_subject(actor=job, org_id=org.id, subject_token="vt_erase_me", reason="bench")
            erase_ms = (time.perf_counter() - started) * 1000
            ok &= report(f"erase a subject with {ERASED_VALUES:,} sealed values", erase_ms, "figure", True, "ms")
            started = time.perf_counter()
            still_open = 0
            for value in theirs:
                try:
                    unseal(actor=job, org_id=org.id, sealed=value, purpose="decision.replay")
                    still_open += 1
                except Erased:
                    pass
            check_ms = (time.perf_counter() - started) * 1000
            ok &= report("values still readable after erasure", still_open, "0", still_open == 0)
            print(f"(checked all {ERASED_VALUES:,} in {check_ms:,.0f} ms; erased at {result.erased_at.isoformat()})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
