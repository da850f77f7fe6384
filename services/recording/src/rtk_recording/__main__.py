"""`python -m rtk_recording [serve|migrate]`."""

from __future__ import annotations

from rtkit.server import main

from rtk_recording.app import MIGRATIONS, SCHEMA, build
from rtk_recording.settings import RecordingSettings

if __name__ == "__main__":
    main(name="recording", build=build, settings_cls=RecordingSettings, schema=SCHEMA, migrations_dir=MIGRATIONS)
