"""`python -m rtk_auth [serve|migrate]`."""

from __future__ import annotations

from rtkit.server import main

from rtk_auth.app import MIGRATIONS, SCHEMA, build
from rtk_auth.settings import AuthSettings

if __name__ == "__main__":
    main(name="auth", build=build, settings_cls=AuthSettings, schema=SCHEMA, migrations_dir=MIGRATIONS)
