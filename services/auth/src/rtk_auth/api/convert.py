"""Domain records → protobuf messages."""

from __future__ import annotations

import datetime as dt

from google.protobuf import timestamp_pb2
from realtime.auth.v1 import account_pb2, api_token_pb2, app_pb2, token_pb2

from rtk_auth.domain.models import Account, ApiToken, App, KeyState, StoredKey, TokenClaims

_KEY_STATES = {
    KeyState.ACTIVE: token_pb2.SIGNING_KEY_STATE_ACTIVE,
    KeyState.VERIFY_ONLY: token_pb2.SIGNING_KEY_STATE_VERIFY_ONLY,
    KeyState.RETIRED: token_pb2.SIGNING_KEY_STATE_RETIRED,
}


def timestamp(value: dt.datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts


def account(a: Account) -> account_pb2.Account:
    return account_pb2.Account(id=a.id, name=a.name, create_time=timestamp(a.create_time))


def app(a: App) -> app_pb2.App:
    return app_pb2.App(id=a.id, account_id=a.account_id, name=a.name, create_time=timestamp(a.create_time))


def api_token(t: ApiToken) -> api_token_pb2.ApiToken:
    message = api_token_pb2.ApiToken(
        id=t.id, account_id=t.account_id, name=t.name, create_time=timestamp(t.create_time)
    )
    if t.revoke_time is not None:
        message.revoke_time.CopyFrom(timestamp(t.revoke_time))
    return message


def signing_key(k: StoredKey) -> token_pb2.SigningKey:
    message = token_pb2.SigningKey(
        kid=k.kid,
        algorithm=k.algorithm,
        state=_KEY_STATES[k.state],
        public_key_pem=k.public_key_pem,
        create_time=timestamp(k.create_time),
    )
    if k.retire_time is not None:
        message.retire_time.CopyFrom(timestamp(k.retire_time))
    return message


def claims(c: TokenClaims) -> token_pb2.ParticipantTokenClaims:
    return token_pb2.ParticipantTokenClaims(
        org_id=c.org_id, meeting_id=c.meeting_id, participant_id=c.participant_id, preset_id=c.preset_id,
        iat=c.iat, exp=c.exp, token_id=c.token_id,
    )
