"""Thin gRPC servicer of realtime.meeting.v1.WebhookService: authorise the app, call the domain."""

from __future__ import annotations

import grpc
from realtime.meeting.v1 import webhook_service_pb2 as ws
from realtime.meeting.v1 import webhook_service_pb2_grpc
from rtkit.authz import Authorizer

from rtk_meeting.webhooks import catalogue
from rtk_meeting.webhooks.domain import Webhooks

Ctx = grpc.aio.ServicerContext


class WebhookServicer(webhook_service_pb2_grpc.WebhookServiceServicer):
    def __init__(self, authz: Authorizer, webhooks: Webhooks) -> None:
        self._authz = authz
        self._webhooks = webhooks

    async def CreateWebhook(self, request: ws.CreateWebhookRequest, context: Ctx) -> ws.CreateWebhookResponse:
        await self._authz.require_app(context, request.app_id)
        return ws.CreateWebhookResponse(webhook=await self._webhooks.create(request.app_id, request.webhook))

    async def GetWebhook(self, request: ws.GetWebhookRequest, context: Ctx) -> ws.GetWebhookResponse:
        await self._authz.require_app(context, request.app_id)
        return ws.GetWebhookResponse(webhook=await self._webhooks.get(request.app_id, request.webhook_id))

    async def ListWebhooks(self, request: ws.ListWebhooksRequest, context: Ctx) -> ws.ListWebhooksResponse:
        await self._authz.require_app(context, request.app_id)
        items, token, total = await self._webhooks.list(request.app_id, request.page_size, request.page_token)
        return ws.ListWebhooksResponse(webhooks=items, next_page_token=token, total_size=total)

    async def UpdateWebhook(self, request: ws.UpdateWebhookRequest, context: Ctx) -> ws.UpdateWebhookResponse:
        await self._authz.require_app(context, request.app_id)
        webhook = await self._webhooks.update(request.app_id, request.webhook_id, request.webhook, request.update_mask)
        return ws.UpdateWebhookResponse(webhook=webhook)

    async def ReplaceWebhook(self, request: ws.ReplaceWebhookRequest, context: Ctx) -> ws.ReplaceWebhookResponse:
        await self._authz.require_app(context, request.app_id)
        webhook = await self._webhooks.replace(request.app_id, request.webhook_id, request.webhook)
        return ws.ReplaceWebhookResponse(webhook=webhook)

    async def DeleteWebhook(self, request: ws.DeleteWebhookRequest, context: Ctx) -> ws.DeleteWebhookResponse:
        await self._authz.require_app(context, request.app_id)
        return ws.DeleteWebhookResponse(webhook=await self._webhooks.delete(request.app_id, request.webhook_id))

    async def ListWebhookEvents(self, request: ws.ListWebhookEventsRequest, context: Ctx
                                ) -> ws.ListWebhookEventsResponse:
        await self._authz.require_app(context, request.app_id)
        return ws.ListWebhookEventsResponse(events=catalogue.numbers())
