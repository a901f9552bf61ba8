import django_filters

from dos.models import LedgerEntry


class AuditEventFilter(django_filters.FilterSet):
    from_ = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte", label="from")
    to = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    actor = django_filters.CharFilter(field_name="actor")
    action = django_filters.CharFilter(field_name="action")

    class Meta:
        model = LedgerEntry
        fields = ["actor", "action"]

    def __init__(self, data=None, *args, **kwargs):
        # `from` is a Python keyword: accept it in the query string and map it onto from_.
        if data is not None and "from" in data:
            data = data.copy()
            data["from_"] = data.pop("from")[0] if hasattr(data, "getlist") else data.pop("from")
        super().__init__(data, *args, **kwargs)
