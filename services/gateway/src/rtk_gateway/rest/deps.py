"""Request-scoped dependencies: the gRPC clients and the caller's credentials to forward."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Path, Request
from rtkit.clients import ACCOUNT_HEADER
from rtkit.errors import ApiError

from rtk_gateway.clients import Clients

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


@dataclass(frozen=True, slots=True)
class GrpcCall:
    clients: Clients
    metadata: tuple[tuple[str, str], ...]
    account_id: str

    @property
    def timeout(self) -> float:
        return self.clients.timeout


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError("TOKEN_MISSING", "Missing 'Authorization: Bearer <api token>' header.")
    return secret.strip()


async def grpc_call(
    request: Request,
    account_id: str = Path(..., pattern=ID_PATTERN, description="Account id."),
) -> GrpcCall:
    """The caller's API token and path account, forwarded to the services that authorize them."""
    secret = _bearer(request)
    return GrpcCall(
        clients=request.app.state.clients,
        metadata=(("authorization", f"Bearer {secret}"), (ACCOUNT_HEADER, account_id)),
        account_id=account_id,
    )
