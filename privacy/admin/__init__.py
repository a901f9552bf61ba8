"""Privacy back office, one module per area (each registers its own pages)."""

from privacy.admin import (
    consent,  # noqa: F401
    discovery,  # noqa: F401
    dsar,  # noqa: F401
    retention,  # noqa: F401
    vault,  # noqa: F401
)
