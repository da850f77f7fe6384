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


def bearer_secret(header: str) -> str | None:
    """The API token of an `Authorization: Bearer <token>` header, or None."""
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    return secret if scheme.lower() == "bearer" and secret else None


def forwarded_metadata(secret: str, account_id: str) -> tuple[tuple[str, str], ...]:
    """What the services authorize: the caller's API token and the account in the path."""
    return (("authorization", f"Bearer {secret}"), (ACCOUNT_HEADER, account_id))


async def grpc_call(
    request: Request,
    account_id: str = Path(..., pattern=ID_PATTERN, description="Account id."),
) -> GrpcCall:
    """The caller's API token and path account, forwarded to the services that authorize them."""
    secret = bearer_secret(request.headers.get("authorization", ""))
    if secret is None:
        raise ApiError("TOKEN_MISSING", "Missing 'Authorization: Bearer <api token>' header.")
    return GrpcCall(clients=request.app.state.clients, metadata=forwarded_metadata(secret, account_id),
                    account_id=account_id)
