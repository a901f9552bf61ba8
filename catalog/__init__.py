"""Data assets, datasets, fields, contracts, lineage, search and connectors."""
