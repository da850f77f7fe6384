"""Apps: `GET`/`POST /client/v4/accounts/{account_id}/realtime/kit/apps` (reference §3.1, §4.1)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import ORJSONResponse
from pydantic import BaseModel, Field
from realtime.auth.v1 import app_pb2, auth_service_pb2
from rtkit.wire import to_rest

from rtk_gateway.rest.deps import GrpcCall, grpc_call
from rtk_gateway.rest.envelope import Page, ok, paged

router = APIRouter(prefix="/client/v4/accounts/{account_id}/realtime/kit", tags=["Apps"])

_ORDER = {"ASC": app_pb2.SORT_ORDER_ASC, "DESC": app_pb2.SORT_ORDER_DESC}


class CreateAppBody(BaseModel):
    name: str = Field(..., min_length=1, max_length=255, description="App name, unique within the account.")


def _app_json(app: app_pb2.App) -> dict:
    """RealtimeKit's App: {id, name, created_at} (the account is implied by the path)."""
    return to_rest(app, omit=frozenset({"account_id"}))


@router.get("/apps", summary="List apps")
async def list_apps(
    call: Annotated[GrpcCall, Depends(grpc_call)],
    page: Annotated[Page, Depends()],
    search: Annotated[str | None, Query(max_length=255, description="Substring of the app name.")] = None,
    sort_order: Annotated[
        Literal["ASC", "DESC"] | None, Query(description="By creation time; default DESC (newest first).")
    ] = None,
) -> ORJSONResponse:
    response = await call.clients.auth.ListApps(
        auth_service_pb2.ListAppsRequest(
            account_id=call.account_id,
            page_size=page.per_page,
            skip=page.skip,
            search=search or "",
            order=_ORDER.get(sort_order or "", app_pb2.SORT_ORDER_UNSPECIFIED),
        ),
        metadata=call.metadata,
        timeout=call.timeout,
    )
    return paged([_app_json(a) for a in response.apps], response.total_size, page)


@router.post("/apps", summary="Create an app", status_code=201)
async def create_app(body: CreateAppBody, call: Annotated[GrpcCall, Depends(grpc_call)]) -> ORJSONResponse:
    response = await call.clients.auth.CreateApp(
        auth_service_pb2.CreateAppRequest(account_id=call.account_id, name=body.name),
        metadata=call.metadata,
        timeout=call.timeout,
    )
    return ok({"app": _app_json(response.app)}, status=201)
