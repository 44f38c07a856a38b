"""The demo's settings, plus django-maintenance-mode, so both switches run on the same fleet.

MAINTENANCE_BACKEND=file|cache picks the peer's state backend; the state of dbtools lives
in Redis (DBTOOLS_STATE=cache, DEMO_REDIS_URL) as for any fleet.
"""

import os

from demo.settings import *  # noqa: F403
from demo.settings import INSTALLED_APPS, MIDDLEWARE, VAR

INSTALLED_APPS = [*INSTALLED_APPS, "maintenance_mode"]
MIDDLEWARE = [*MIDDLEWARE, "maintenance_mode.middleware.MaintenanceModeMiddleware"]
MAINTENANCE_MODE_STATE_BACKEND = {
    "file": "maintenance_mode.backends.LocalFileBackend",
    "cache": "maintenance_mode.backends.CacheBackend",
}[os.environ.get("MAINTENANCE_BACKEND", "file")]
MAINTENANCE_MODE_STATE_FILE_PATH = str(VAR / "maintenance_mode_state.txt")
MAINTENANCE_MODE_CACHE_BACKEND = "default"
