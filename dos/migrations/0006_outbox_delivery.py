"""Delivery state for the outbox (status, attempts, back-off, dead letters), and the event's content
frozen: only the delivery columns of an outbox row may change."""

import django.utils.timezone
from django.db import migrations, models

# The dispatcher updates the delivery columns; what the event says (org, topic, key, payload,
# created_at) never changes, so every attempt hands the handlers the same event. Deleting stays
# allowed (a future retention job purges delivered rows).
CONTENT_FROZEN = """
CREATE OR REPLACE FUNCTION dos_outboxevent_content_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (to_jsonb(NEW) - '{status,attempts,next_attempt_at,last_error,delivered_at}'::text[])
       IS DISTINCT FROM (to_jsonb(OLD) - '{status,attempts,next_attempt_at,last_error,delivered_at}'::text[])
    THEN
        RAISE EXCEPTION 'append-only: an outbox event keeps its content; only its delivery state changes'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER outboxevent_content_frozen BEFORE UPDATE ON dos_outboxevent
    FOR EACH ROW EXECUTE FUNCTION dos_outboxevent_content_frozen();
"""

DROP_CONTENT_FROZEN = """
DROP TRIGGER IF EXISTS outboxevent_content_frozen ON dos_outboxevent;
DROP FUNCTION IF EXISTS dos_outboxevent_content_frozen();
"""

# Rows written before this migration: due from when they were written; one a dispatcher already
# marked is delivered. RLS is forced on the table (the owner included), hence the platform flag.
BACKFILL = """
SELECT set_config('dos.platform', 'on', true);
UPDATE dos_outboxevent SET next_attempt_at = created_at,
       status = CASE WHEN delivered_at IS NULL THEN 'pending' ELSE 'delivered' END;
SELECT set_config('dos.platform', 'off', true);
"""


class Migration(migrations.Migration):

    dependencies = [
        ('dos', '0005_append_only'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='outboxevent',
            options={'ordering': ['id'], 'verbose_name': 'outbox event'},
        ),
        migrations.RemoveIndex(
            model_name='outboxevent',
            name='outbox_org_pending_idx',
        ),
        migrations.AddField(
            model_name='outboxevent',
            name='attempts',
            field=models.PositiveIntegerField(default=0, help_text='Deliveries tried so far.'),
        ),
        migrations.AddField(
            model_name='outboxevent',
            name='last_error',
            field=models.TextField(blank=True, default='', help_text='The last handler failure (masked).'),
        ),
        migrations.AddField(
            model_name='outboxevent',
            name='next_attempt_at',
            field=models.DateTimeField(default=django.utils.timezone.now, help_text='Not tried again before this time.'),
        ),
        migrations.AddField(
            model_name='outboxevent',
            name='status',
            field=models.CharField(choices=[('pending', 'pending'), ('delivered', 'delivered'), ('dead', 'dead (gave up)')], default='pending', max_length=16),
        ),
        migrations.AddIndex(
            model_name='outboxevent',
            index=models.Index(condition=models.Q(('status', 'pending')), fields=['org', 'next_attempt_at', 'id'], name='outbox_org_due_idx'),
        ),
        migrations.AddIndex(
            model_name='outboxevent',
            index=models.Index(fields=['org', 'status', 'topic', 'id'], name='outbox_org_status_idx'),
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
        migrations.RunSQL(CONTENT_FROZEN, reverse_sql=DROP_CONTENT_FROZEN),
    ]
