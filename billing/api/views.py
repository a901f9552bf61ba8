"""Metering API: ingest meter events, read usage."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers as drf_serializers
from rest_framework.response import Response

from billing.api import serializers as s
from billing.meters import METRICS
from billing.periods import month_of, month_start_utc
from billing.selectors import usage_series
from billing.services import MeterInput, meter_record_many
from dos.api.errors import Problem, invalid_fields
from dos.api.fields import decimal_str
from dos.api.views import DosApiView


def _item(raw) -> tuple[MeterInput | None, str]:
    data = s.MeterEventIn(data=raw)
    if not data.is_valid():
        first = next(iter(data.errors.items()))
        return None, f"invalid: {first[0]}: {first[1][0]}"
    v = data.validated_data
    return MeterInput(metric=v["metric"], value=v["value"], corr_id=v["corr_id"], ts=v.get("ts"), unit=v.get("unit"),
                      project_id=v.get("project"), source=v["source"], meta=v["meta"]), ""


class MeterEventsApi(DosApiView):
    """One transaction per request: items are validated one by one first (a bad item is rejected
    alone, with its reason), then all valid items are inserted in one statement — so the accepted
    ones land together or not at all, and duplicates (same metric + corr_id) are never counted twice."""

    permission_map = {"post": "meter.write"}

    @extend_schema(request=PolymorphicProxySerializer("MeterEventsIn", [s.MeterEventIn, s.MeterBatchIn],
                                                      resource_type_field_name=None),
                   responses=s.MeterBatchOut,
                   summary="Send meter events (one object, or {events: [...]} with at most 1000)",
                   description="One event is checked whole: invalid fields are a 400. In a batch each item is "
                               "judged alone and an invalid one comes back `rejected` with its `reason`.")
    def post(self, request):
        if request.stream is None:
            raise invalid_fields({"non_field_errors": ["Send one event object or {\"events\": [...]}."]})
        body = request.data
        if isinstance(body, dict) and "events" in body:
            batch = s.MeterBatchIn(data=body)
            batch.is_valid(raise_exception=True)
            raw_items = batch.validated_data["events"]
        elif isinstance(body, dict):
            s.MeterEventIn(data=body).is_valid(raise_exception=True)
            raw_items = [body]
        else:
            raise Problem(400, "validation_error", "Send one event object or {\"events\": [...]}.",
                          errors={"non_field_errors": ["Expected a JSON object."]})
        parsed = [_item(raw) for raw in raw_items]
        valid = [(i, item) for i, (item, _) in enumerate(parsed) if item is not None]
        outcomes = dict(zip([i for i, _ in valid],
                            meter_record_many(org=request.auth.org, items=[item for _, item in valid]), strict=True))
        results = []
        for index, (_item_obj, problem) in enumerate(parsed):
            out = {"index": index, **(outcomes[index].as_dict() if index in outcomes
                                      else {"status": "rejected", "reason": problem})}
            results.append(out)
        counts = {k: sum(1 for r in results if r["status"] == v)
                  for k, v in (("accepted", "accepted"), ("duplicates", "duplicate"), ("rejected", "rejected"))}
        return Response({**counts, "results": results})


class UsageApi(DosApiView):
    permission_map = {"get": "usage.read"}

    @extend_schema(
        parameters=[OpenApiParameter("metric", str, required=True, enum=sorted(METRICS)),
                    OpenApiParameter("from", OpenApiTypes.DATETIME,
                                     description="RFC 3339 timestamp, inclusive (default: start of the billing "
                                                 "month that holds `to`)"),
                    OpenApiParameter("to", OpenApiTypes.DATETIME, description="RFC 3339 timestamp, exclusive (default: now)"),
                    OpenApiParameter("granularity", str, enum=["hour", "day", "month"]),
                    OpenApiParameter("project", OpenApiTypes.UUID, description="project id")],
        responses=s.UsageOut, summary="Usage over time: rollups plus the not-yet-rolled tail, so it is current")
    def get(self, request):
        query = s.UsageQueryIn(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        now = timezone.now()
        end = q.get("to") or now
        # Without `from`, the window opens at the start of the billing month that holds `to` (or now).
        start = q.get("from_") or month_start_utc(month_of(min(end, now) - timedelta(microseconds=1)))
        if end < start:
            raise drf_serializers.ValidationError({"to": ["'to' must not be before 'from'."]})
        series = usage_series(org_id=request.auth.org_id, metric=q["metric"], start=start, end=end,
                              granularity=q["granularity"], project_id=q.get("project"))
        total = sum((Decimal(b["value"]) for b in series), Decimal(0))
        series = [{**b, "value": decimal_str(b["value"])} for b in series]
        return Response(s.UsageOut({"metric": q["metric"], "unit": METRICS[q["metric"]], "granularity": q["granularity"],
                                    "start": start, "end": end, "series": series, "total": decimal_str(total)}).data)
