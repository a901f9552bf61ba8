import os
import sys

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dos.settings")
application = get_wsgi_application()

from dos.db_role import UnsafeDatabaseRole, assert_safe_db_role  # noqa: E402

try:
    assert_safe_db_role()
except UnsafeDatabaseRole as exc:
    print(f"DecisionOS: {exc}", file=sys.stderr, flush=True)
    raise
