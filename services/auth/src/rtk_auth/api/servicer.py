"""AuthService gRPC servicer: authorise, convert, call the domain, convert back."""

from __future__ import annotations

import grpc
import orjson
from realtime.auth.v1 import app_pb2, auth_service_pb2_grpc, token_pb2
from realtime.auth.v1 import auth_service_pb2 as pb
from rtkit.authz import Authorizer, Principal
from rtkit.errors import ApiError, invalid_field

from rtk_auth.api import convert
from rtk_auth.domain.directory import Directory
from rtk_auth.domain.keyring import KeyRing
from rtk_auth.domain.participant_tokens import ParticipantTokens, TokenRequest
from rtk_auth.domain.webhooks import MAX_BODY, WebhookSigner

Ctx = grpc.aio.ServicerContext


def _account_scope(principal: Principal, requested: str, *, required: bool) -> str | None:
    """The account a call acts on: the API token's own, or (internal callers) the one requested."""
    if not principal.internal:
        if requested and requested != principal.account_id:
            raise ApiError("FORBIDDEN", "The API token does not belong to this account.", accountId=requested)
        return principal.account_id
    scope = requested or principal.account_id
    if required and not scope:
        raise invalid_field("account_id", "required for internal callers")
    return scope


class AuthServicer(auth_service_pb2_grpc.AuthServiceServicer):
    def __init__(
        self,
        authz: Authorizer,
        directory: Directory,
        tokens: ParticipantTokens,
        signing_keys: KeyRing,
        webhooks: WebhookSigner,
    ) -> None:
        self._authz, self._directory, self._tokens = authz, directory, tokens
        self._keys, self._webhooks = signing_keys, webhooks

    # --- accounts and API tokens (internal) -----------------------------------------------

    async def CreateAccount(self, request: pb.CreateAccountRequest, context: Ctx) -> pb.CreateAccountResponse:
        await self._authz.require_internal(context)
        account = await self._directory.create_account(request.name)
        return pb.CreateAccountResponse(account=convert.account(account))

    async def CreateApiToken(self, request: pb.CreateApiTokenRequest, context: Ctx) -> pb.CreateApiTokenResponse:
        await self._authz.require_internal(context)
        token, secret = await self._directory.create_api_token(request.account_id, request.name)
        return pb.CreateApiTokenResponse(api_token=convert.api_token(token), secret=secret)

    async def RevokeApiToken(self, request: pb.RevokeApiTokenRequest, context: Ctx) -> pb.RevokeApiTokenResponse:
        await self._authz.require_internal(context)
        token = await self._directory.revoke_api_token(request.token_id)
        return pb.RevokeApiTokenResponse(api_token=convert.api_token(token))

    async def AuthenticateApiToken(
        self, request: pb.AuthenticateApiTokenRequest, context: Ctx
    ) -> pb.AuthenticateApiTokenResponse:
        await self._authz.require_internal(context)
        token = await self._directory.authenticate_api_token(request.secret)
        if token is None:
            raise ApiError("API_CREDENTIALS_INVALID", "The API token is invalid or revoked.")
        return pb.AuthenticateApiTokenResponse(account_id=token.account_id, token_id=token.id)

    async def Bootstrap(self, request: pb.BootstrapRequest, context: Ctx) -> pb.BootstrapResponse:
        await self._authz.require_internal(context)
        result = await self._directory.bootstrap(request.account_name, request.app_name)
        response = pb.BootstrapResponse(
            account=convert.account(result.account),
            app=convert.app(result.app),
            api_token_secret=result.secret,
            created=result.created,
        )
        if result.api_token is not None:
            response.api_token.CopyFrom(convert.api_token(result.api_token))
        return response

    # --- apps (public) --------------------------------------------------------------------

    async def CreateApp(self, request: pb.CreateAppRequest, context: Ctx) -> pb.CreateAppResponse:
        principal = await self._authz.principal(context)
        account_id = _account_scope(principal, request.account_id, required=True)
        assert account_id is not None
        app = await self._directory.create_app(account_id, request.name)
        return pb.CreateAppResponse(app=convert.app(app))

    async def ListApps(self, request: pb.ListAppsRequest, context: Ctx) -> pb.ListAppsResponse:
        principal = await self._authz.principal(context)
        account_id = _account_scope(principal, request.account_id, required=False)
        page = await self._directory.list_apps(
            account_id,
            page_size=request.page_size,
            page_token=request.page_token,
            skip=request.skip,
            search=request.search,
            descending=request.order != app_pb2.SORT_ORDER_ASC,
        )
        return pb.ListAppsResponse(
            apps=[convert.app(a) for a in page.apps], next_page_token=page.next_page_token, total_size=page.total_size
        )

    async def GetApp(self, request: pb.GetAppRequest, context: Ctx) -> pb.GetAppResponse:
        principal = await self._authz.principal(context)
        app = await self._directory.get_app(request.app_id, principal.account_id)
        return pb.GetAppResponse(app=convert.app(app))

    # --- participant tokens ---------------------------------------------------------------

    async def IssueParticipantToken(
        self, request: pb.IssueParticipantTokenRequest, context: Ctx
    ) -> pb.IssueParticipantTokenResponse:
        await self._authz.require_internal(context)
        token, record = await self._tokens.issue(
            request.app_id,
            request.meeting_id,
            request.participant_id,
            request.preset_id,
            request.ttl_seconds if request.HasField("ttl_seconds") else None,
        )
        return pb.IssueParticipantTokenResponse(
            token=token, token_id=record.jti, expire_time=convert.timestamp(record.expire_time)
        )

    async def BatchIssueParticipantTokens(
        self, request: pb.BatchIssueParticipantTokensRequest, context: Ctx
    ) -> pb.BatchIssueParticipantTokensResponse:
        await self._authz.require_internal(context)
        issued = await self._tokens.issue_many([
            TokenRequest(r.app_id, r.meeting_id, r.participant_id, r.preset_id,
                         r.ttl_seconds if r.HasField("ttl_seconds") else None)
            for r in request.requests
        ])
        return pb.BatchIssueParticipantTokensResponse(responses=[
            pb.IssueParticipantTokenResponse(
                token=token, token_id=record.jti, expire_time=convert.timestamp(record.expire_time)
            )
            for token, record in issued
        ])

    async def VerifyParticipantToken(
        self, request: pb.VerifyParticipantTokenRequest, context: Ctx
    ) -> pb.VerifyParticipantTokenResponse:
        principal = await self._authz.principal(context)
        claims = await self._tokens.verify(
            request.token,
            meeting_id=request.meeting_id if request.HasField("meeting_id") else None,
            account_id=None if principal.internal else principal.account_id,
        )
        return pb.VerifyParticipantTokenResponse(claims=convert.claims(claims))

    async def RevokeParticipantTokens(
        self, request: pb.RevokeParticipantTokensRequest, context: Ctx
    ) -> pb.RevokeParticipantTokensResponse:
        await self._authz.require_internal(context)
        count = await self._tokens.revoke(request.app_id, request.participant_id, request.except_token_id)
        return pb.RevokeParticipantTokensResponse(revoked_count=count)

    # --- signing keys ---------------------------------------------------------------------

    async def GetJwks(self, request: pb.GetJwksRequest, context: Ctx) -> pb.GetJwksResponse:
        await self._authz.principal(context)
        jwks = self._keys.jwks()
        return pb.GetJwksResponse(
            jwks_json=orjson.dumps(jwks).decode(), keys=[token_pb2.Jwk(**k) for k in jwks["keys"]]
        )

    async def RotateSigningKey(self, request: pb.RotateSigningKeyRequest, context: Ctx) -> pb.RotateSigningKeyResponse:
        await self._authz.require_internal(context)
        key = await self._keys.rotate()
        return pb.RotateSigningKeyResponse(kid=key.kid, signing_key=convert.signing_key(key))

    async def RetireSigningKey(self, request: pb.RetireSigningKeyRequest, context: Ctx) -> pb.RetireSigningKeyResponse:
        await self._authz.require_internal(context)
        if not request.kid:
            raise invalid_field("kid", "required")
        key = await self._keys.retire(request.kid)
        return pb.RetireSigningKeyResponse(signing_key=convert.signing_key(key))

    async def ListSigningKeys(self, request: pb.ListSigningKeysRequest, context: Ctx) -> pb.ListSigningKeysResponse:
        await self._authz.require_internal(context)
        await self._keys.reload()
        return pb.ListSigningKeysResponse(signing_keys=[convert.signing_key(k) for k in self._keys.records()])

    # --- webhooks -------------------------------------------------------------------------

    async def GetWebhookPublicKey(
        self, request: pb.GetWebhookPublicKeyRequest, context: Ctx
    ) -> pb.GetWebhookPublicKeyResponse:
        await self._authz.principal(context)
        kid, pem = self._webhooks.public_key()
        return pb.GetWebhookPublicKeyResponse(public_key_pem=pem, kid=kid)

    async def SignWebhookPayload(
        self, request: pb.SignWebhookPayloadRequest, context: Ctx
    ) -> pb.SignWebhookPayloadResponse:
        await self._authz.require_internal(context)
        if len(request.body) > MAX_BODY:
            raise invalid_field("body", f"at most {MAX_BODY} bytes")
        kid, signature = self._webhooks.sign(request.body)
        return pb.SignWebhookPayloadResponse(signature=signature, kid=kid)
