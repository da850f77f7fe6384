"""Presets: `{base}/presets` (reference §3.4, §4.4). POST answers 200, as RealtimeKit does."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import ORJSONResponse
from realtime.meeting.v1 import preset_pb2, preset_service_pb2
from rtkit.wire import from_rest, to_rest, update_mask

from rtk_gateway.rest.deps import ID_PATTERN, GrpcCall, grpc_call
from rtk_gateway.rest.envelope import Page, ok, paged
from rtk_gateway.rest.models.presets import PresetBody, PresetPatchBody

router = APIRouter(prefix="/client/v4/accounts/{account_id}/realtime/kit/{app_id}", tags=["Presets"])

AppId = Annotated[str, Path(pattern=ID_PATTERN, description="App id.")]
PresetId = Annotated[str, Path(max_length=64, description="Preset id (UUID).")]


def preset_json(preset: preset_pb2.Preset) -> dict[str, Any]:
    return to_rest(preset, omit=frozenset({"app_id"}))


def preset_list_item(preset: preset_pb2.Preset) -> dict[str, Any]:
    data = to_rest(preset, omit=frozenset({"app_id", "config", "permissions", "ui"}))
    return {k: data[k] for k in ("id", "name", "created_at", "updated_at")}


@router.get("/presets", summary="List presets")
async def list_presets(
    app_id: AppId,
    call: Annotated[GrpcCall, Depends(grpc_call)],
    page: Annotated[Page, Depends()],
    search: Annotated[str | None, Query(max_length=255, description="Substring of the preset name.")] = None,
) -> ORJSONResponse:
    response = await call.clients.presets.ListPresets(
        preset_service_pb2.ListPresetsRequest(app_id=app_id, page_size=page.per_page, skip=page.skip,
                                              search=search or ""),
        metadata=call.metadata, timeout=call.timeout,
    )
    return paged([preset_list_item(p) for p in response.presets], response.total_size, page)


@router.post("/presets", summary="Create a preset")
async def create_preset(app_id: AppId, body: PresetBody, call: Annotated[GrpcCall, Depends(grpc_call)]
                        ) -> ORJSONResponse:
    preset = from_rest(body.model_dump(exclude_unset=True), preset_pb2.Preset)
    response = await call.clients.presets.CreatePreset(
        preset_service_pb2.CreatePresetRequest(app_id=app_id, preset=preset),
        metadata=call.metadata, timeout=call.timeout,
    )
    return ok(preset_json(response.preset))


@router.get("/presets/{preset_id}", summary="Fetch a preset")
async def get_preset(app_id: AppId, preset_id: PresetId, call: Annotated[GrpcCall, Depends(grpc_call)]
                     ) -> ORJSONResponse:
    response = await call.clients.presets.GetPreset(
        preset_service_pb2.GetPresetRequest(app_id=app_id, preset_id=preset_id),
        metadata=call.metadata, timeout=call.timeout,
    )
    return ok(preset_json(response.preset))


@router.patch("/presets/{preset_id}", summary="Update a preset")
async def update_preset(
    app_id: AppId, preset_id: PresetId, body: PresetPatchBody, call: Annotated[GrpcCall, Depends(grpc_call)]
) -> ORJSONResponse:
    data = body.model_dump(exclude_unset=True)
    if not data:
        return await get_preset(app_id, preset_id, call)
    response = await call.clients.presets.UpdatePreset(
        preset_service_pb2.UpdatePresetRequest(
            app_id=app_id, preset_id=preset_id, preset=from_rest(data, preset_pb2.Preset),
            update_mask=update_mask(data, preset_pb2.Preset),
        ),
        metadata=call.metadata, timeout=call.timeout,
    )
    return ok(preset_json(response.preset))


@router.put("/presets/{preset_id}", summary="Replace a preset")
async def replace_preset(
    app_id: AppId, preset_id: PresetId, body: PresetBody, call: Annotated[GrpcCall, Depends(grpc_call)]
) -> ORJSONResponse:
    response = await call.clients.presets.ReplacePreset(
        preset_service_pb2.ReplacePresetRequest(
            app_id=app_id, preset_id=preset_id, preset=from_rest(body.model_dump(exclude_unset=True), preset_pb2.Preset)
        ),
        metadata=call.metadata, timeout=call.timeout,
    )
    return ok(preset_json(response.preset))


@router.delete("/presets/{preset_id}", summary="Delete a preset")
async def delete_preset(app_id: AppId, preset_id: PresetId, call: Annotated[GrpcCall, Depends(grpc_call)]
                        ) -> ORJSONResponse:
    response = await call.clients.presets.DeletePreset(
        preset_service_pb2.DeletePresetRequest(app_id=app_id, preset_id=preset_id),
        metadata=call.metadata, timeout=call.timeout,
    )
    return ok(preset_json(response.preset))
