"""SfuService: thin servicer over rtk_sfu.domain.rooms.RoomManager (internal callers only)."""

from __future__ import annotations

import hmac

import grpc
from realtime.sfu.v1 import sfu_service_pb2, sfu_service_pb2_grpc
from rtkit.clients import INTERNAL_TOKEN_HEADER
from rtkit.errors import ApiError

from rtk_sfu.domain.rooms import PeerContext, RoomManager

SERVICE_NAME = sfu_service_pb2.DESCRIPTOR.services_by_name["SfuService"].full_name
_LOOPBACK_PEERS = ("ipv4:127.", "ipv6:[::1]", "ipv6:[::ffff:127.", "unix:")

pb = sfu_service_pb2


def _context(peer: pb.PeerContext) -> PeerContext:
    return PeerContext(peer.peer_id, peer.session_id, peer.app_id, peer.meeting_id, peer.participant_id)


class SfuServicer(sfu_service_pb2_grpc.SfuServiceServicer):
    def __init__(self, rooms: RoomManager, internal_token: str) -> None:
        self._rooms = rooms
        self._token = internal_token.encode()

    def _authorize(self, context: grpc.aio.ServicerContext) -> None:
        """`x-rtk-internal-token` when RTK_INTERNAL_TOKEN is set; otherwise loopback callers only."""
        md = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        presented = md.get(INTERNAL_TOKEN_HEADER)
        if self._token:
            if presented is None:
                raise ApiError("TOKEN_MISSING", f"Missing '{INTERNAL_TOKEN_HEADER}'.")
            if not hmac.compare_digest(presented.encode(), self._token):
                raise ApiError("API_CREDENTIALS_INVALID", "Invalid internal credentials.")
            return
        if not (context.peer() or "").startswith(_LOOPBACK_PEERS):
            raise ApiError("FORBIDDEN", "Without RTK_INTERNAL_TOKEN only local callers may use the SFU.")

    async def Negotiate(self, request: pb.NegotiateRequest, context: grpc.aio.ServicerContext) -> pb.NegotiateResponse:
        self._authorize(context)
        ctx = _context(request.peer)
        which = request.WhichOneof("description")
        if which == "offer":
            return pb.NegotiateResponse(answer=await self._rooms.publisher_offer(ctx, request.offer))
        if which == "answer":
            await self._rooms.subscriber_answer(ctx, request.answer)
            return pb.NegotiateResponse()
        raise ApiError("INVALID_FIELD", "Give an offer or an answer.", field="description")

    async def Subscribe(self, request: pb.SubscribeRequest, context: grpc.aio.ServicerContext) -> pb.SubscribeResponse:
        self._authorize(context)
        tracks = await self._rooms.subscribe(_context(request.peer), request.selection)
        return pb.SubscribeResponse(tracks=tracks)

    async def RemovePeer(self, request: pb.RemovePeerRequest, context: grpc.aio.ServicerContext) -> pb.RemovePeerResponse:
        self._authorize(context)
        removed = await self._rooms.remove_peer(request.peer_id, request.reason or "RemovePeer")
        return pb.RemovePeerResponse(removed=removed)

    async def GetPeerMedia(self, request: pb.GetPeerMediaRequest,
                           context: grpc.aio.ServicerContext) -> pb.GetPeerMediaResponse:
        self._authorize(context)
        return pb.GetPeerMediaResponse(**self._rooms.describe(request.peer_id))
