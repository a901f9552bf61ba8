"""Default beat schedules, one entry per named job. Apps add theirs here as they land."""

from datetime import timedelta

from celery.schedules import crontab

DEFAULT_BEAT_SCHEDULE = {
    "beat-heartbeat": {
        "task": "observability.tasks.beat_heartbeat",
        "schedule": timedelta(seconds=30),
        "options": {"expires": 25},
    },
    "ledger-anchor-daily": {
        "task": "dos.tasks.ledger_anchor_daily",
        "schedule": crontab(hour=15, minute=5),  # 00:05 Asia/Seoul
    },
    # Logical backup + restore rehearsal + retention (docs/runbooks/backup-restore.md).
    "backup-nightly": {
        "task": "dos.tasks.backup_nightly",
        "schedule": crontab(hour=17, minute=30),  # 02:30 Asia/Seoul
    },
    "usage-rollup": {
        "task": "billing.tasks.usage_rollup_all",
        "schedule": timedelta(minutes=5),
        "options": {"expires": 240},
    },
    "usage-reconcile-daily": {
        "task": "billing.tasks.usage_reconcile_daily",
        "schedule": crontab(hour=15, minute=30),  # 00:30 Asia/Seoul, for the day before
    },
    # Trials ending, period-end cancellations and plan changes, today's seat levels — before the close.
    "billing-subscriptions-daily": {
        "task": "billing.tasks.subscriptions_daily",
        "schedule": crontab(hour=15, minute=10),  # 00:10 Asia/Seoul
    },
    # The month close runs daily and acts on the 1st in Seoul; drafts are issued after their review window.
    "billing-month-close": {
        "task": "billing.tasks.month_close",
        "schedule": crontab(hour=15, minute=45),  # 00:45 Asia/Seoul, after the daily reconcile
    },
    "billing-invoices-issue-due": {
        "task": "billing.tasks.invoices_issue_due",
        "schedule": crontab(minute=15),
    },
    # Usage ↔ invoice drift of last month, after the close and the morning's issuing.
    "billing-invoice-drift-daily": {
        "task": "billing.tasks.invoice_drift_daily",
        "schedule": crontab(hour=16, minute=20),  # 01:20 Asia/Seoul
    },
    "idempotency-purge": {
        "task": "dos.tasks.idempotency_purge_expired",
        "schedule": timedelta(hours=1),
    },
    "hitl-sla-sweep": {
        "task": "hitl.tasks.sla_sweep_all",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 55},
    },
    # Retries and missed kicks; fresh events are drained right after their COMMIT (outbox_emit).
    "outbox-drain": {
        "task": "dos.tasks.outbox_drain_all",
        "schedule": timedelta(seconds=15),
        "options": {"expires": 12},
    },
    "hitl-metrics-refresh": {
        "task": "hitl.tasks.metrics_refresh_all",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 55},
    },
    # Consents past valid_until get their "expired" event (/decide already stops counting them).
    "privacy-consent-expiry": {
        "task": "privacy.consent.tasks.consent_expire_all",
        "schedule": timedelta(minutes=15),
        "options": {"expires": 600},
    },
    # Data subject requests: deadline warnings (once each) and carrying on verified requests.
    "privacy-dsar-sweep": {
        "task": "privacy.tasks.dsar_sweep_all",
        "schedule": timedelta(minutes=5),
        "options": {"expires": 240},
    },
    # The daily retention dry-run; nothing changes until a second person approves it.
    "privacy-retention-plan-daily": {
        "task": "privacy.tasks.retention_plan_daily",
        "schedule": crontab(hour=16, minute=15),  # 01:15 Asia/Seoul
    },
}
