"""Data subject requests: intake and verification (``services``), the checkpointed pipeline
(``pipeline``), the export (``export``), fulfilment per type (``fulfil``) and deadlines (``deadlines``)."""
