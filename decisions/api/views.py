"""Decision API: /decide, decisions, policies (lint, versions, lifecycle)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from billing.api.metered import UsageGuardMixin
from decisions import services
from decisions.api import serializers as s
from decisions.documents import evidence_zip, explain_pdf
from decisions.filters import DecisionFilter
from decisions.models import DecisionRecord, PolicySet, PolicyVersion, Simulation
from decisions.policy.language import parse_policy
from decisions.selectors import decision_explain, decision_replay
from decisions.simulation_jobs import simulation_create
from dos.api.errors import Problem, invalid_fields, referenced_not_found
from dos.api.views import DosApiView, DosViewSet
from tenancy.principals import active_project

EXPLAIN_FORMATS = ("json", "pdf")


class DecideApi(UsageGuardMixin, DosApiView):
    permission_map = {"post": "decisions.run"}
    entitlement = "decisions.run.basic"
    quota_metric = "decision_calls"
    unobserved_problems = ("consent_missing",)  # refused for want of consent: free, not observed usage

    @extend_schema(request=s.DecideIn, responses={200: s.DecisionOut}, summary="Decide on an application or lead",
                   description="`input` is an object checked against the published policy's input contract "
                               "(`inputs.schema`): a missing or mistyped field is a 400 `validation_error` whose "
                               "`errors` are keyed `input.<field>`; nothing is recorded or metered.")
    def post(self, request):
        body = s.DecideIn(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        decided = services.decision_make(
            org=request.auth.org, project=active_project(request.auth), subject_id=v["subject_id"],
            purpose=v["purpose"], data=v["input"], policy=v.get("policy"), labels=v.get("labels", ()),
            corr_id=getattr(request, "corr_id", ""), actor=request.auth)
        if services.consent_denied(decided.record):
            self.usage_not_served(1)
        return Response(s.decision_body(decided.record, case_id=decided.case.id if decided.case else None))


class DecideBatchApi(UsageGuardMixin, DosApiView):
    """Up to 1,000 decisions in one call and one transaction; each item is judged on its own."""

    permission_map = {"post": "decisions.run"}
    entitlement = "decisions.run.basic"
    quota_metric = "decision_calls"

    def quota_amount(self, request) -> int:
        items = request.data.get("items") if isinstance(request.data, dict) else None
        return len(items) if isinstance(items, list) else 1

    @extend_schema(request=s.DecideBatchIn, responses=s.DecideBatchOut, summary="Decide up to 1,000 applications")
    def post(self, request):
        body = s.DecideBatchIn(data=request.data)
        body.is_valid(raise_exception=True)
        parsed, items, errors_at = [], [], {}
        for index, raw in enumerate(body.validated_data["items"]):
            problems = s.decide_item_errors(raw)
            if problems:
                errors_at[index] = problems
                continue
            parsed.append(index)
            items.append(services.BatchItem(subject_id=raw["subject_id"], purpose=raw["purpose"], data=raw["input"],
                                            labels=tuple(raw.get("labels", ()))))
        decided = services.decision_make_many(org=request.auth.org, project=active_project(request.auth), items=items,
                                              policy=body.validated_data.get("policy"),
                                              corr_id=getattr(request, "corr_id", ""), actor=request.auth)
        self.usage_not_served(sum(1 for outcome in decided if services.consent_denied(outcome) or (
            isinstance(outcome, dict) and outcome.get("code") == "consent_missing")))
        by_index = dict(zip(parsed, decided, strict=True))
        results = []
        for index in range(len(body.validated_data["items"])):
            outcome = by_index.get(index)
            if outcome is None:
                results.append({"index": index, "errors": errors_at[index]})
            elif isinstance(outcome, dict):
                results.append({"index": index, **outcome})
            else:
                results.append({"index": index, **s.decision_body(outcome, case_id=getattr(outcome, "case_id", None))})
        rejected = sum(1 for r in results if "errors" in r)
        return Response({"decided": len(results) - rejected, "rejected": rejected, "results": results})


class SimulateApi(DosApiView):
    permission_map = {"post": "decisions.run"}
    writes_in_read_only_mode = True  # a simulation changes no decision; see docs/runbooks/degradation.md

    @extend_schema(request=s.SimulateIn, responses={202: s.SimulationOut},
                   summary="Start a simulation job (Celery); poll /simulations/{id} for progress and the report")
    def post(self, request):
        body = s.SimulateIn(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        version = self.project_scoped(PolicyVersion.objects.filter(id=v["policy_version"])).select_related("policy_set").first()
        if version is None:
            raise referenced_not_found("policy_version", "No such policy version in this organisation.")
        sim = simulation_create(project=version.policy_set.project, version=version, dataset=v["dataset"],
                                input_csv=v["csv"], actor=request.auth)
        return Response(s.SimulationOut(sim).data, status=status.HTTP_202_ACCEPTED)


class SimulationViewSet(mixins.RetrieveModelMixin, DosViewSet):
    queryset = Simulation.objects.all()
    serializer_class = s.SimulationOut
    permission_map = {"retrieve": "decisions.read", "report_html": "decisions.read"}

    @extend_schema(responses={(200, "text/html"): str}, summary="The simulation report as HTML")
    @action(detail=True, methods=["get"])
    def report_html(self, request, pk=None):
        sim = self.get_object()
        if sim.status != Simulation.Status.DONE:
            raise Problem(409, "not_ready", f"The simulation is {sim.status}.", allowed=[])
        return HttpResponse(sim.report_html, content_type="text/html; charset=utf-8")


class DecisionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DosViewSet):
    queryset = DecisionRecord.objects.select_related("policy_version__policy_set").order_by("-decided_at")
    serializer_class = s.DecisionOut
    filterset_class = DecisionFilter
    permission_map = {"list": "decisions.read", "retrieve": "decisions.read", "explain": "decisions.read",
                      "replay": "decisions.read", "evidence": "decisions.read"}

    @extend_schema(parameters=[OpenApiParameter("format", str, enum=list(EXPLAIN_FORMATS),
                                                description="pdf: the customer-facing explanation (Korean/English)")],
                   responses={200: s.ExplainOut, (200, "application/pdf"): bytes},
                   summary="Why: reasons with customer texts (ko/en), rule path, policy, chain; ?format=pdf")
    @action(detail=True, methods=["get"])
    def explain(self, request, pk=None):
        fmt = request.query_params.get("format", "json")
        if fmt not in EXPLAIN_FORMATS:
            raise invalid_fields({"format": [f"Must be one of: {', '.join(EXPLAIN_FORMATS)}."]})
        record = self.get_object()
        if fmt == "pdf":
            response = HttpResponse(explain_pdf(record, org=request.auth.org), content_type="application/pdf")
            response["Content-Disposition"] = f'inline; filename="decision-{record.id}.pdf"'
            return response
        return Response(decision_explain(record, org=request.auth.org))

    @extend_schema(responses={(200, "application/zip"): bytes},
                   summary="Evidence bundle: record, policy source, explanation, chain proof (zip)")
    @action(detail=True, methods=["get"])
    def evidence(self, request, pk=None):
        record = self.get_object()
        response = HttpResponse(evidence_zip(record, org=request.auth.org), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="decision-{record.id}-evidence.zip"'
        return response

    @extend_schema(request=None, responses=s.ReplayOut,
                   summary="Re-evaluate with the pinned policy version and the stored snapshot")
    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        return Response(decision_replay(self.get_object()))


class PolicySetViewSet(mixins.ListModelMixin, DosViewSet):
    queryset = PolicySet.objects.prefetch_related("versions").order_by("name")
    serializer_class = s.PolicySetOut
    permission_map = {"list": "policy.read", "create": "policy.write", "versions": "policy.read",
                      "lint": "policy.read"}

    @extend_schema(request=s.PolicyCreateIn, responses={201: s.PolicyVersionDetailOut},
                   summary="Create a draft version (the set is named after the policy's name)")
    def create(self, request):
        body = s.PolicyCreateIn(data=request.data)
        body.is_valid(raise_exception=True)
        version = services.version_create(project=active_project(request.auth), source=body.validated_data["source"],
                                          semver=body.validated_data["semver"], actor=request.auth,
                                          notes=body.validated_data["notes"])
        return Response(s.PolicyVersionDetailOut(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=s.PolicyVersionOut(many=True), summary="Versions of a policy set (all of them)")
    @action(detail=True, methods=["get"], pagination_class=None)  # a plain array, as the schema says
    def versions(self, request, pk=None):
        policy_set = self.get_object()
        versions = PolicyVersion.objects.filter(policy_set=policy_set).select_related("policy_set", "author", "approver")
        return Response(s.PolicyVersionOut(versions, many=True).data)

    @extend_schema(request=s.LintIn, responses=s.LintOut, summary="Lint a policy source (nothing is stored)")
    @action(detail=False, methods=["post"])
    def lint(self, request):
        body = s.LintIn(data=request.data)
        body.is_valid(raise_exception=True)
        result = parse_policy(body.validated_data["source"])
        return Response({"ok": result.ok, "issues": [i.as_dict() for i in result.issues]})


class PolicyVersionViewSet(mixins.RetrieveModelMixin, DosViewSet):
    queryset = PolicyVersion.objects.select_related("policy_set", "author", "approver", "approval")
    serializer_class = s.PolicyVersionDetailOut
    permission_map = {"retrieve": "policy.read", "submit": "policy.write", "approve": "policy.approve",
                      "publish": "policy.approve", "rollback": "policy.approve"}

    def _transition(self, request, fn):
        version = self.get_object()  # 404 for another org's id comes before any other answer
        version = fn(version=version, actor=request.auth)  # refusals are problem+json by the handler
        return Response(s.PolicyVersionDetailOut(version).data)

    @extend_schema(request=None, responses=s.PolicyVersionDetailOut, summary="Submit a draft for approval")
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._transition(request, services.version_submit)

    @extend_schema(request=None, responses=s.PolicyVersionDetailOut, summary="Approve (a person other than the author)")
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._transition(request, services.version_approve)

    @extend_schema(request=None, responses=s.PolicyVersionDetailOut, summary="Publish an approved version")
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        return self._transition(request, services.version_publish)

    @extend_schema(request=None, responses=s.PolicyVersionDetailOut, summary="Republish a previously published version")
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        return self._transition(request, services.version_rollback)
