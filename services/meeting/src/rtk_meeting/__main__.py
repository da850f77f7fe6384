"""`python -m rtk_meeting [serve|migrate]`."""

from __future__ import annotations

from rtkit.server import main

from rtk_meeting.app import MIGRATIONS_DIR, SCHEMA, build
from rtk_meeting.settings import MeetingSettings

if __name__ == "__main__":
    main(name="meeting", build=build, settings_cls=MeetingSettings, schema=SCHEMA, migrations_dir=MIGRATIONS_DIR)
