import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dos.settings")
application = get_asgi_application()

from dos.db_role import assert_safe_db_role  # noqa: E402

assert_safe_db_role()
