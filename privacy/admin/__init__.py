"""Privacy back office, one module per area (each registers its own pages)."""

from privacy.admin import vault  # noqa: F401
from privacy.admin import consent  # noqa: F401
from privacy.admin import discovery  # noqa: F401
from privacy.admin import dsar  # noqa: F401
from privacy.admin import retention  # noqa: F401
