"""Human review: cases, tasks, queues, SLA policies, routing, appeals, notes and attachments."""
