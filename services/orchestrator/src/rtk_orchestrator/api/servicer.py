"""SessionService gRPC servicer: authorize, convert, call the domain, convert back."""

from __future__ import annotations

import datetime as dt

import grpc
from realtime.session.v1 import peer_pb2, session_pb2, session_service_pb2_grpc
from realtime.session.v1 import session_service_pb2 as pb
from rtkit.authz import Authorizer
from rtkit.errors import invalid_field

from rtk_orchestrator.domain.orchestrator import Orchestrator

Ctx = grpc.aio.ServicerContext
MAX_PAGE = 100


def _page(page_size: int, skip: int, page_token: str) -> tuple[int, int]:
    size = page_size or 20
    if not 1 <= size <= 1000:
        raise invalid_field("page_size", "must be 1 … 1000")
    size = min(size, MAX_PAGE)
    offset = skip
    if page_token:
        try:
            offset = int(page_token)
        except ValueError:
            raise invalid_field("page_token", "is not a token from next_page_token") from None
    if offset < 0:
        raise invalid_field("skip", "must not be negative")
    return size, offset


def _next(offset: int, count: int, total: int) -> str:
    return str(offset + count) if offset + count < total else ""


class SessionServicer(session_service_pb2_grpc.SessionServiceServicer):
    def __init__(self, authorizer: Authorizer, orchestrator: Orchestrator) -> None:
        self._authz = authorizer
        self._orch = orchestrator

    # -- signaling (internal) -----------------------------------------------------------------
    async def JoinSession(self, request: pb.JoinSessionRequest, context: Ctx) -> pb.JoinSessionResponse:
        await self._authz.require_internal(context)
        join = await self._orch.join(
            app_id=request.app_id, meeting_id=request.meeting_id, participant_id=request.participant_id,
            preset_id=request.preset_id, token_id=request.token_id, peer_id=request.peer_id,
            resume_token=request.resume_token, display_name=request.display_name,
            client=request.client if request.HasField("client") else None,
            socket_session_id=request.socket_session_id)
        return pb.JoinSessionResponse(join=join)

    async def LeavePeer(self, request: pb.LeavePeerRequest, context: Ctx) -> pb.LeavePeerResponse:
        await self._authz.require_internal(context)
        await self._orch.leave(request.peer_id)
        return pb.LeavePeerResponse()

    async def PeerHeartbeat(self, request: pb.PeerHeartbeatRequest, context: Ctx) -> pb.PeerHeartbeatResponse:
        await self._authz.require_internal(context)
        return pb.PeerHeartbeatResponse(room_state=await self._orch.heartbeat(request.peer_id))

    async def DisconnectPeer(self, request: pb.DisconnectPeerRequest, context: Ctx) -> pb.DisconnectPeerResponse:
        await self._authz.require_internal(context)
        await self._orch.disconnect(request.peer_id)
        return pb.DisconnectPeerResponse()

    async def HandleClientMessage(self, request: pb.HandleClientMessageRequest,
                                  context: Ctx) -> pb.HandleClientMessageResponse:
        await self._authz.require_internal(context)
        return pb.HandleClientMessageResponse(reply=await self._orch.handle(request.peer_id, request.message))

    async def AuthorizeProducer(self, request: pb.AuthorizeProducerRequest,
                                context: Ctx) -> pb.AuthorizeProducerResponse:
        await self._authz.require_internal(context)
        peer, refusal = await self._orch.authorize_producer(request.peer_id, request.kind)
        response = pb.AuthorizeProducerResponse(allowed=refusal is None)
        if refusal is not None:
            response.reason, response.message = refusal.reason, refusal.message
        if peer is not None:
            response.session_id, response.app_id = peer.session_id, peer.app_id
            response.meeting_id, response.participant_id = peer.meeting_id, peer.participant_id
        return response

    # -- REST reads ---------------------------------------------------------------------------
    async def ListSessions(self, request: pb.ListSessionsRequest, context: Ctx) -> pb.ListSessionsResponse:
        await self._authz.require_app(context, request.app_id)
        size, offset = _page(request.page_size, request.skip, request.page_token)
        status = {session_pb2.SESSION_STATUS_LIVE: "LIVE", session_pb2.SESSION_STATUS_ENDED: "ENDED"}.get(
            request.status)
        sessions, total = await self._orch.list_sessions(
            app_id=request.app_id, status=status, meeting_id=request.meeting_id or None,
            search=request.search or None,
            start=request.start_time.ToDatetime(tzinfo=dt.UTC)
            if request.HasField("start_time") else None,
            end=request.end_time.ToDatetime(tzinfo=dt.UTC)
            if request.HasField("end_time") else None,
            min_participants=request.min_participants, max_participants=request.max_participants,
            order_by="minutes" if request.sort_by == pb.SESSION_SORT_FIELD_MINUTES_CONSUMED else "created",
            descending=request.sort_order != session_pb2.SORT_ORDER_ASC, limit=size, offset=offset)
        return pb.ListSessionsResponse(sessions=sessions, total_size=total,
                                       next_page_token=_next(offset, len(sessions), total))

    async def GetSession(self, request: pb.GetSessionRequest, context: Ctx) -> pb.GetSessionResponse:
        await self._authz.require_app(context, request.app_id)
        return pb.GetSessionResponse(session=await self._orch.get_session(request.app_id, request.session_id))

    async def ListSessionParticipants(self, request: pb.ListSessionParticipantsRequest,
                                      context: Ctx) -> pb.ListSessionParticipantsResponse:
        await self._authz.require_app(context, request.app_id)
        size, offset = _page(request.page_size, request.skip, request.page_token)
        peers, total = await self._orch.list_peers(
            request.app_id, request.session_id, search=request.search or None,
            order_by="duration" if request.sort_by == pb.PEER_SORT_FIELD_DURATION else "joined",
            descending=request.sort_order == session_pb2.SORT_ORDER_DESC, limit=size, offset=offset,
            include_events=request.include_peer_events)
        return pb.ListSessionParticipantsResponse(peers=peers, total_size=total,
                                                  next_page_token=_next(offset, len(peers), total))

    async def GetSessionParticipant(self, request: pb.GetSessionParticipantRequest,
                                    context: Ctx) -> pb.GetSessionParticipantResponse:
        await self._authz.require_app(context, request.app_id)
        peer = await self._orch.get_peer(request.app_id, request.peer_id, session_id=request.session_id,
                                         include_events=request.include_peer_events)
        return pb.GetSessionParticipantResponse(peer=peer)

    async def GetPeerReport(self, request: pb.GetPeerReportRequest, context: Ctx) -> pb.GetPeerReportResponse:
        await self._authz.require_app(context, request.app_id)
        peer = await self._orch.get_peer(request.app_id, request.peer_id, include_events=request.include_peer_events)
        report = peer_pb2.PeerReport()
        meta = report.metadata
        meta.sdk_name, meta.sdk_version, meta.user_agent = peer.client.sdk_name, peer.client.sdk_version, \
            peer.client.user_agent
        meta.os, meta.is_mobile, meta.ip_address = peer.client.os, peer.client.is_mobile, peer.client.ip_address
        meta.room_view_type = peer.view_type
        return pb.GetPeerReportResponse(peer=peer, report=report)

    async def GetSessionChat(self, request: pb.GetSessionChatRequest, context: Ctx) -> pb.GetSessionChatResponse:
        await self._authz.require_app(context, request.app_id)
        url, expiry, count = await self._orch.session_chat(request.app_id, request.session_id)
        return pb.GetSessionChatResponse(chat_download_url=url, chat_download_url_expire_time=expiry,
                                         message_count=count)

    async def ExportSessionChat(self, request: pb.ExportSessionChatRequest,
                                context: Ctx) -> pb.ExportSessionChatResponse:
        await self._authz.require_internal(context)
        csv = await self._orch.export_chat(request.app_id, request.session_id, request.expires, request.signature)
        return pb.ExportSessionChatResponse(csv=csv, file_name=f"chat-{request.session_id}.csv")

    async def GetActiveSession(self, request: pb.GetActiveSessionRequest,
                               context: Ctx) -> pb.GetActiveSessionResponse:
        await self._authz.require_app(context, request.app_id)
        return pb.GetActiveSessionResponse(
            session=await self._orch.active_session(request.app_id, request.meeting_id))

    # -- REST live moderation -----------------------------------------------------------------
    async def KickParticipants(self, request: pb.KickParticipantsRequest, context: Ctx) -> pb.KickParticipantsResponse:
        await self._authz.require_app(context, request.app_id)
        participants = await self._orch.kick_participants(
            request.app_id, request.meeting_id, list(request.participant_ids), list(request.custom_participant_ids))
        return pb.KickParticipantsResponse(participants=participants)

    async def KickAllParticipants(self, request: pb.KickAllParticipantsRequest,
                                  context: Ctx) -> pb.KickAllParticipantsResponse:
        await self._authz.require_app(context, request.app_id)
        count, session = await self._orch.kick_all(request.app_id, request.meeting_id)
        return pb.KickAllParticipantsResponse(kicked_participants_count=count, session=session)

    async def MuteParticipants(self, request: pb.MuteParticipantsRequest, context: Ctx) -> pb.MuteParticipantsResponse:
        await self._authz.require_app(context, request.app_id)
        participants = await self._orch.mute_participants(
            request.app_id, request.meeting_id, list(request.participant_ids), list(request.custom_participant_ids),
            list(request.kinds), request.allow_unmute)
        return pb.MuteParticipantsResponse(participants=participants)

    async def MuteAllParticipants(self, request: pb.MuteAllParticipantsRequest,
                                  context: Ctx) -> pb.MuteAllParticipantsResponse:
        await self._authz.require_app(context, request.app_id)
        participants = await self._orch.mute_participants(
            request.app_id, request.meeting_id, [], [], list(request.kinds), request.allow_unmute, everyone=True)
        return pb.MuteAllParticipantsResponse(muted_participants_count=len(participants))

    async def CreatePoll(self, request: pb.CreatePollRequest, context: Ctx) -> pb.CreatePollResponse:
        await self._authz.require_app(context, request.app_id)
        poll = await self._orch.create_poll_rest(
            request.app_id, request.meeting_id, question=request.question, options=list(request.options),
            anonymous=request.anonymous, hide_votes=request.hide_votes)
        return pb.CreatePollResponse(poll=poll)
