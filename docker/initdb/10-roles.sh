#!/bin/sh
# Runs once on an empty postgres volume: the owning role (migrations) and the application role
# (web, workers). Neither is superuser; neither may bypass row-level security. The owner may create
# databases: `dosctl backup verify` restores each backup into a scratch database it then drops.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname dos <<SQL
CREATE ROLE dos_owner LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE CREATEDB PASSWORD '${DOS_OWNER_DB_PASSWORD}';
CREATE ROLE dos_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD '${DOS_APP_DB_PASSWORD}';
ALTER DATABASE dos OWNER TO dos_owner;
ALTER SCHEMA public OWNER TO dos_owner;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
GRANT CONNECT ON DATABASE dos TO dos_app;
GRANT USAGE ON SCHEMA public TO dos_app;
ALTER DEFAULT PRIVILEGES FOR ROLE dos_owner IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO dos_app;
ALTER DEFAULT PRIVILEGES FOR ROLE dos_owner IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO dos_app;
SQL
