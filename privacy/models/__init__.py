"""Privacy models, one module per area (vault, consent, discovery, dsar, retention)."""
