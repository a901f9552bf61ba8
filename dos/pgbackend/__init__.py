"""Django's PostgreSQL backend, told about tenant tables' database keys (see base.py)."""
