"""Request bodies of the participant routes (reference §4.3)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AliasChoices, Field, StringConstraints

from rtk_gateway.rest.models.meetings import Strict, Text

PresetNameRef = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class AddParticipantBody(Strict):
    """POST /meetings/{id}/participants. `client_specific_id` is Dyte's deprecated alias."""

    custom_participant_id: Text(255, 1) = Field(
        validation_alias=AliasChoices("custom_participant_id", "client_specific_id")
    )
    preset_name: PresetNameRef
    name: Text(255) | None = None
    picture: Text(2048) | None = None


class EditParticipantBody(Strict):
    """PATCH /meetings/{id}/participants/{pid}: any of name, picture, preset_name."""

    name: Text(255) | None = None
    picture: Text(2048) | None = None
    preset_name: PresetNameRef | None = None
