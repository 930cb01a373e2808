"""Test overrides: the same settings, with a fixed secret and fast password hashing.

The database comes from ``DATABASE_URL`` like everywhere else; the test command points it at PostgreSQL.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key")

from hvae_site.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_BROKER_URL = ""
# The tests' LLM and Label Studio servers listen on loopback.
HVAE_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.0/8", "::1", "localhost"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: the resume and Celery tests run the service in other processes against it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}  # noqa: F405
