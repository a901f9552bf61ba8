"""Privacy back office, one module per area (each registers its own pages)."""
