"""Webhooks: `{base}/webhooks` (reference §3.9, §4.10, §6).

| Method | Path                          | Answer                                             |
|--------|-------------------------------|----------------------------------------------------|
| GET    | `{base}/webhooks`             | `data`: every webhook of the app (no paging, as CF) |
| POST   | `{base}/webhooks`             | 201, `data`: the webhook                           |
| GET    | `{base}/webhooks/all`         | `data`: the subscribable event names               |
| GET    | `{base}/webhooks/{webhook_id}`| `data`: the webhook                                |
| PUT    | `{base}/webhooks/{webhook_id}`| `data`: the replaced webhook (name, url, events required) |
| PATCH  | `{base}/webhooks/{webhook_id}`| `data`: the changed webhook (fields present change) |
| DELETE | `{base}/webhooks/{webhook_id}`| `data`: the deleted webhook                        |

Webhook JSON: `{id, name, url, events, enabled, created_at, updated_at}`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Path
from fastapi.responses import ORJSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, field_validator
from realtime.meeting.v1 import webhook_pb2, webhook_service_pb2
from rtkit.wire import enum_to_wire, enum_values, from_rest, to_rest, update_mask

from rtk_gateway.rest.deps import ID_PATTERN, GrpcCall, grpc_call
from rtk_gateway.rest.envelope import ok

router = APIRouter(prefix="/client/v4/accounts/{account_id}/realtime/kit/{app_id}", tags=["Webhooks"])

AppId = Annotated[str, Path(pattern=ID_PATTERN, description="App id.")]
WebhookId = Annotated[str, Path(max_length=64, description="Webhook id (UUID).")]

EVENT_NAMES: tuple[str, ...] = tuple(enum_values(webhook_pb2.WebhookEvent.DESCRIPTOR))
EventName = Literal[EVENT_NAMES]  # type: ignore[valid-type]
NAME_MAX = 255
URL_MAX = 2048  # the meeting service enforces the same limits (it is the authority)


def _check_url(value: str) -> str:
    if any(ch.isspace() or ord(ch) < 0x20 for ch in value):
        raise ValueError("must not contain whitespace or control characters")
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError:
        raise ValueError("is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    return value


class WebhookBody(BaseModel):
    """POST and PUT body (RealtimeKit `WebhookRequest`)."""

    model_config = ConfigDict(extra="forbid")

    name: StrictStr = Field(..., min_length=1, max_length=NAME_MAX, description="Name of the webhook.")
    url: StrictStr = Field(..., min_length=1, max_length=URL_MAX, description="URL the events are POSTed to.")
    events: list[EventName] = Field(..., min_length=1, max_length=len(EVENT_NAMES) * 4,  # type: ignore[valid-type]
                                    description="Events this webhook receives.")
    enabled: StrictBool = Field(True, description="Whether deliveries are made (default true).")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value)


class WebhookPatchBody(BaseModel):
    """PATCH body: the fields present are changed; null is not accepted."""

    model_config = ConfigDict(extra="forbid")

    name: StrictStr = Field(None, min_length=1, max_length=NAME_MAX, description="Name of the webhook.")
    url: StrictStr = Field(None, min_length=1, max_length=URL_MAX, description="URL the events are POSTed to.")
    events: list[EventName] = Field(None, min_length=1, max_length=len(EVENT_NAMES) * 4,  # type: ignore[valid-type]
                                    description="Events this webhook receives.")
    enabled: StrictBool = Field(None, description="Whether deliveries are made.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value)


def webhook_json(webhook: webhook_pb2.Webhook) -> dict[str, Any]:
    """RealtimeKit's webhook object (the app is implied by the path)."""
    return to_rest(webhook, omit=frozenset({"app_id"}))


def _full(body: WebhookBody) -> webhook_pb2.Webhook:
    return from_rest(body.model_dump(), webhook_pb2.Webhook)  # type: ignore[return-value]


@router.get("/webhooks", summary="List webhooks")
async def list_webhooks(app_id: AppId, call: Annotated[GrpcCall, Depends(grpc_call)]) -> ORJSONResponse:
    items: list[dict[str, Any]] = []
    token = ""
    for _ in range(100):  # the service caps webhooks per app; this bounds a misbehaving token loop
        response = await call.clients.webhooks.ListWebhooks(
            webhook_service_pb2.ListWebhooksRequest(app_id=app_id, page_size=100, page_token=token),
            metadata=call.metadata, timeout=call.timeout,
        )
        items.extend(webhook_json(w) for w in response.webhooks)
        token = response.next_page_token
        if not token:
            break
    return ok(items)


@router.post("/webhooks", summary="Add a webhook", status_code=201)
async def create_webhook(
    app_id: AppId, body: WebhookBody, call: Annotated[GrpcCall, Depends(grpc_call)]
) -> ORJSONResponse:
    response = await call.clients.webhooks.CreateWebhook(
        webhook_service_pb2.CreateWebhookRequest(app_id=app_id, webhook=_full(body)),
        metadata=call.metadata, timeout=call.timeout,
    )
    return ok(webhook_json(response.webhook), status=201)


# Declared before /webhooks/{webhook_id} so that "all" is not taken for an id.
@router.get("/webhooks/all", summary="List the supported webhook events")
async def list_webhook_events(app_id: AppId, call: Annotated[GrpcCall, Depends(grpc_call)]) -> ORJSONResponse:
    response = await call.clients.webhooks.ListWebhookEvents(
        webhook_service_pb2.ListWebhookEventsRequest(app_id=app_id), metadata=call.metadata, timeout=call.timeout
    )
    names = (enum_to_wire(webhook_pb2.WebhookEvent.DESCRIPTOR, e) for e in response.events)
    return ok([n for n in names if n])


@router.get("/webhooks/{webhook_id}", summary="Fetch a webhook")
async def get_webhook(
    app_id: AppId, webhook_id: WebhookId, call: Annotated[GrpcCall, Depends(grpc_call)]
) -> ORJSONResponse:
    response = await call.clients.webhooks.GetWebhook(
        webhook_service_pb2.GetWebhookRequest(app_id=app_id, webhook_id=webhook_id),
        metadata=call.metadata, timeout=call.timeout,
    )
    return ok(webhook_json(response.webhook))


@router.put("/webhooks/{webhook_id}", summary="Replace a webhook")
async def replace_webhook(
    app_id: AppId, webhook_id: WebhookId, body: WebhookBody, call: Annotated[GrpcCall, Depends(grpc_call)]
) -> ORJSONResponse:
    response = await call.clients.webhooks.ReplaceWebhook(
        webhook_service_pb2.ReplaceWebhookRequest(app_id=app_id, webhook_id=webhook_id, webhook=_full(body)),
        metadata=call.metadata, timeout=call.timeout,
    )
    return ok(webhook_json(response.webhook))


@router.patch("/webhooks/{webhook_id}", summary="Edit a webhook")
async def edit_webhook(
    app_id: AppId, webhook_id: WebhookId, body: WebhookPatchBody, call: Annotated[GrpcCall, Depends(grpc_call)]
) -> ORJSONResponse:
    data = body.model_dump(exclude_unset=True)
    if not data:
        # Nothing to change: answer with the webhook as it is (and 404 if it does not exist).
        current = await call.clients.webhooks.GetWebhook(
            webhook_service_pb2.GetWebhookRequest(app_id=app_id, webhook_id=webhook_id),
            metadata=call.metadata, timeout=call.timeout,
        )
        return ok(webhook_json(current.webhook))
    response = await call.clients.webhooks.UpdateWebhook(
        webhook_service_pb2.UpdateWebhookRequest(
            app_id=app_id,
            webhook_id=webhook_id,
            webhook=from_rest(data, webhook_pb2.Webhook),
            update_mask=update_mask(data, webhook_pb2.Webhook),
        ),
        metadata=call.metadata, timeout=call.timeout,
    )
    return ok(webhook_json(response.webhook))


@router.delete("/webhooks/{webhook_id}", summary="Delete a webhook")
async def delete_webhook(
    app_id: AppId, webhook_id: WebhookId, call: Annotated[GrpcCall, Depends(grpc_call)]
) -> ORJSONResponse:
    response = await call.clients.webhooks.DeleteWebhook(
        webhook_service_pb2.DeleteWebhookRequest(app_id=app_id, webhook_id=webhook_id),
        metadata=call.metadata, timeout=call.timeout,
    )
    return ok(webhook_json(response.webhook))
