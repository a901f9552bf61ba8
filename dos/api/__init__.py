"""API foundation: base viewset, permissions, errors, pagination. Every endpoint builds on it."""
