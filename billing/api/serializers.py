from rest_framework import serializers

from billing.meters import METRICS, SOURCES
from billing.selectors import GRANULARITIES
from dos.api.fields import QuantityField, StrictCharField, StrictUUIDField

MAX_BATCH = 1000


class MeterEventIn(serializers.Serializer):
    metric = serializers.ChoiceField(choices=sorted(METRICS))
    value = QuantityField(max_digits=24, decimal_places=6, min_value=0)
    corr_id = StrictCharField(max_length=64, help_text="Your id for the usage; repeats are duplicates.")
    ts = serializers.DateTimeField(required=False, help_text="When it happened (ISO 8601 with offset); default now.")
    unit = StrictCharField(max_length=16, required=False)
    project = StrictUUIDField(required=False, allow_null=True)
    source = serializers.ChoiceField(choices=SOURCES, required=False, default="api")
    meta = serializers.DictField(required=False, default=dict)


class MeterBatchIn(serializers.Serializer):
    events = serializers.ListField(child=serializers.DictField(), min_length=1, max_length=MAX_BATCH,
                                   help_text=f"At most {MAX_BATCH} events.")


class MeterItemOut(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "rejected"])
    id = serializers.IntegerField(required=False)
    reason = serializers.CharField(required=False)
    late = serializers.CharField(required=False)


class MeterBatchOut(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = MeterItemOut(many=True)


class UsageQueryIn(serializers.Serializer):
    metric = serializers.ChoiceField(choices=sorted(METRICS))
    from_ = serializers.DateTimeField(required=False, help_text="default: start of the current billing month")
    to = serializers.DateTimeField(required=False, help_text="default: now")
    granularity = serializers.ChoiceField(choices=GRANULARITIES, default="day")
    project = StrictUUIDField(required=False)

    def to_internal_value(self, data):
        data = data.copy()
        if "from" in data:
            data["from_"] = data.pop("from")[0] if hasattr(data, "getlist") else data.pop("from")
        return super().to_internal_value(data)


class UsageBucketOut(serializers.Serializer):
    bucket = serializers.CharField(help_text="UTC hour, Seoul day (YYYY-MM-DD) or Seoul month (YYYY-MM)")
    value = serializers.CharField(help_text="Decimal string without exponent")
    events = serializers.IntegerField()


class UsageOut(serializers.Serializer):
    metric = serializers.CharField()
    unit = serializers.CharField()
    granularity = serializers.CharField()
    from_ = serializers.DateTimeField(source="start")
    to = serializers.DateTimeField(source="end")
    series = UsageBucketOut(many=True)
    total = serializers.CharField(help_text="Decimal string without exponent, e.g. \"50\" or \"1234.5\"")

    def get_fields(self):
        # `from` is a Python keyword: declared as from_, published (schema and body) as `from`.
        fields = super().get_fields()
        return {("from" if name == "from_" else name): field for name, field in fields.items()}
