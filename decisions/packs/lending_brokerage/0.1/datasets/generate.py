"""Deterministic synthetic leads for the lending_brokerage pack (no personal data: all invented).

    python decisions/packs/lending_brokerage/0.1/datasets/generate.py --rows 1000 > leads.csv

The same seed always gives the same rows, so simulations and benchmarks are comparable.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys

DOCUMENTS = ["income_proof", "employment_certificate", "id_copy", "bank_statement"]
FIELDS = ["lead_id", "age", "income_monthly", "dsr", "credit_score", "employment_months", "delinquencies_12m",
          "documents_missing", "consent_credit_check", "loan_amount", "product"]


def generate(rows: int = 1000, seed: int = 20261121) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for n in range(rows):
        income = int(rng.lognormvariate(15.0, 0.45)) // 10000 * 10000  # median ≈ 3.3 M KRW
        out.append({
            "lead_id": f"L{n:06d}",
            "age": rng.choice([17, 18]) if rng.random() < 0.01 else rng.randint(19, 72),
            "income_monthly": max(0, income),
            "dsr": round(min(120.0, max(0.0, rng.gauss(27.0, 9.0))), 1),
            "credit_score": max(300, min(1000, int(rng.gauss(745, 75)))),
            "employment_months": max(0, int(rng.expovariate(1 / 48))),
            "delinquencies_12m": rng.choices([0, 1, 2, 3], weights=[85, 9, 4, 2])[0],
            "documents_missing": [d for d in DOCUMENTS if rng.random() < 0.03],
            "consent_credit_check": rng.random() > 0.02,
            "loan_amount": rng.choice([5, 10, 20, 30, 50, 80, 120, 200]) * 1_000_000,
            "product": rng.choices(["personal", "mortgage", "auto"], weights=[6, 2, 2])[0],
        })
    return out


def as_input(row: dict) -> dict:
    """A dataset row (or a CSV row) as a policy input."""
    docs = row["documents_missing"]
    if isinstance(docs, str):
        docs = [d for d in docs.split(";") if d]
    consent = row["consent_credit_check"]
    if isinstance(consent, str):
        consent = consent.lower() in ("true", "1", "yes")
    return {
        "age": int(row["age"]), "income_monthly": int(row["income_monthly"]), "dsr": float(row["dsr"]),
        "credit_score": int(row["credit_score"]), "employment_months": int(row["employment_months"]),
        "delinquencies_12m": int(row["delinquencies_12m"]), "documents_missing": list(docs),
        "consent_credit_check": bool(consent), "loan_amount": int(row["loan_amount"]), "product": row["product"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261121)
    args = parser.parse_args()
    writer = csv.DictWriter(sys.stdout, fieldnames=FIELDS)
    writer.writeheader()
    for row in generate(args.rows, args.seed):
        writer.writerow({**row, "documents_missing": ";".join(row["documents_missing"])})
    return 0


if __name__ == "__main__":
    sys.exit(main())
