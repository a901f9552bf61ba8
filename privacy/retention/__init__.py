"""Retention: rules per dataset, a daily dry-run, approval by someone else, execution in batches."""
