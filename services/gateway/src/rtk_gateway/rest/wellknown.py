"""Public key documents: `/.well-known/jwks.json` (participant tokens) and
`/.well-known/webhooks.json` (webhook signatures, RealtimeKit's shape, reference §6.2).

Both are unauthenticated on the wire; the gateway asks the auth service with the internal token.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from realtime.auth.v1 import auth_service_pb2
from rtkit.clients import internal_metadata

router = APIRouter(prefix="/.well-known", tags=["Well-known"])

_CACHE = "public, max-age=300"


def _call_args(request: Request) -> dict:
    clients = request.app.state.clients
    return {"metadata": internal_metadata(request.app.state.settings.internal_token), "timeout": clients.timeout}


@router.get("/jwks.json", summary="Participant-token verification keys (JWKS)")
async def jwks(request: Request) -> Response:
    response = await request.app.state.clients.auth.GetJwks(auth_service_pb2.GetJwksRequest(), **_call_args(request))
    body = response.jwks_json or orjson.dumps({"keys": []}).decode()
    return Response(body, media_type="application/json", headers={"Cache-Control": _CACHE})


@router.get("/webhooks.json", summary="Webhook signature verification key")
async def webhooks(request: Request) -> Response:
    response = await request.app.state.clients.auth.GetWebhookPublicKey(
        auth_service_pb2.GetWebhookPublicKeyRequest(), **_call_args(request)
    )
    body = orjson.dumps({"success": True, "data": {"publicKey": response.public_key_pem}, "message": ""})
    return Response(body, media_type="application/json", headers={"Cache-Control": _CACHE})
