"""The /decide request described by the caller's own published contracts (SPEC §13).

`input` is checked against the published policy's ``inputs.schema`` (JSON Schema 2020-12, the
dialect OpenAPI 3.1 speaks). The public document can only say "an object"; a client generated from
it would send objects the server refuses. So when ``/api/schema/`` is fetched with an API key, the
``DecideInRequest`` component becomes one variant per policy published in the key's project:
``{"policy": "<name>", "input": <that policy's contract>}`` — ``policy`` optional when the project
publishes exactly one, as /decide itself allows. Only a key that may run decisions or read policies
(``decisions.run`` / ``policy.read``) of an org whose status lets it read gets its contracts; a
missing, malformed, unknown, revoked or expired key, an archived project or a database error leaves
the public document unchanged (the document never answers 401), and nothing is read outside the
key's org: the policies are read in the key's org scope. A tailored document is private to the
caller (``Vary: Authorization``, ``Cache-Control: private, no-store`` — dos.urls).
"""

from __future__ import annotations

import copy
import logging

from django.db import DatabaseError, transaction
from rest_framework.exceptions import APIException

from decisions.models import PolicyVersion
from decisions.policy.language import parse_policy
from dos import scope
from dos.errors import DomainError
from tenancy.authentication import ApiKeyAuthentication
from tenancy.principals import active_project
from tenancy.status import org_allows

# A key that may run decisions or read policies may learn their contracts; the API asks the same.
READS_CONTRACTS = ("decisions.run", "policy.read")

log = logging.getLogger(__name__)

COMPONENT = "DecideInRequest"
# Keywords of a standalone schema that mean nothing once it is embedded in the document.
_STANDALONE = ("$schema", "$id")


def caller_key(request):
    """The API key principal presenting ``request``, or None (never raises: the document is public)."""
    try:
        with transaction.atomic():  # the key lookup is scoped per transaction, like the API's
            authenticated = ApiKeyAuthentication().authenticate(request)
    except (APIException, ValueError, DatabaseError):
        return None
    return authenticated[0] if authenticated else None


def may_read_contracts(principal) -> bool:
    """The key holds a permission that reads contracts, and its org may read through the API."""
    if not any(principal.has_perm(p) for p in READS_CONTRACTS):
        return False
    return org_allows(principal.org.status, write=False, surface="api", permission="policy.read") is None


def published_contracts(principal) -> list[tuple[str, dict]]:
    """(policy name, input contract) of every policy published in the principal's project."""
    with transaction.atomic(), scope.org_scope(principal.org.id):
        project = active_project(principal)
        versions = (PolicyVersion.objects.filter(org_id=principal.org.id, policy_set__project_id=project.pk,
                                                 status="published")
                    .select_related("policy_set").order_by("policy_set__name"))
        contracts = []
        for version in versions:
            parsed = parse_policy(version.source)
            if parsed.policy is not None:
                contracts.append((version.policy_set.name, parsed.policy.input_schema))
    return contracts


def embedded(contract: dict, at: str) -> dict:
    """``contract`` placed at JSON pointer ``at``: its own ``#/...`` references re-rooted there."""
    def rewrite(node):
        if isinstance(node, dict):
            out = {k: rewrite(v) for k, v in node.items() if k not in _STANDALONE}
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#"):
                out["$ref"] = at + ref[1:]
            return out
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    return rewrite(copy.deepcopy(contract))


def tailor_decide_request(result: dict, request) -> None:
    """``caller_tailors`` handler: narrow ``DecideInRequest`` to the caller's published contracts."""
    schemas = result.get("components", {}).get("schemas", {})
    generic = schemas.get(COMPONENT)
    principal = caller_key(request)
    if generic is None or principal is None or not may_read_contracts(principal):
        return
    try:
        contracts = published_contracts(principal)
    except (DomainError, DatabaseError):  # an archived project, a database hiccup: the public document
        log.info("schema not tailored", exc_info=True)
        return
    if not contracts:
        return
    variants = []
    for name, contract in contracts:
        component = f"DecideInput_{name}"
        schemas[component] = embedded(contract, f"#/components/schemas/{component}")
        variant = copy.deepcopy(generic)
        properties = variant.setdefault("properties", {})
        properties["policy"] = {"type": "string", "const": name, "description": "The published policy to run."}
        properties["input"] = {"$ref": f"#/components/schemas/{component}"}
        if len(contracts) > 1:
            variant["required"] = sorted({*variant.get("required", ()), "policy"})
        variant["title"] = name
        variants.append(variant)
    description = generic.get("description", "")
    schemas[COMPONENT] = variants[0] if len(variants) == 1 else {"oneOf": variants}
    schemas[COMPONENT]["description"] = (
        f"{description} Described for this API key's project: `input` is each published policy's own contract."
    ).strip()
    log.debug("schema tailored", extra={"org_id": str(principal.org.id), "policies": [n for n, _ in contracts]})
