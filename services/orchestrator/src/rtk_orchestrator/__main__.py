"""`python -m rtk_orchestrator [serve|migrate]`."""

from __future__ import annotations

from rtkit.server import main

from rtk_orchestrator.app import MIGRATIONS, SCHEMA, build
from rtk_orchestrator.settings import OrchestratorSettings

if __name__ == "__main__":
    main(name="orchestrator", build=build, settings_cls=OrchestratorSettings, schema=SCHEMA,
         migrations_dir=MIGRATIONS)
