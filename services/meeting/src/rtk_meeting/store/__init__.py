"""asyncpg queries of the `meeting` schema. Every query filters by app_id.

Functions take an `asyncpg.Connection` (or pool) so that the domain decides transactions.
Nested configuration is stored as proto JSON (enum names, snake_case field names).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, TypeVar

from google.protobuf import json_format, timestamp_pb2
from google.protobuf.message import Message

T = TypeVar("T", bound=Message)


def to_json(message: Message | None) -> str | None:
    if message is None:
        return None
    return json_format.MessageToJson(message, preserving_proto_field_name=True, indent=None)


def from_json(raw: Any, cls: type[T]) -> T:
    if isinstance(raw, str):
        raw = json.loads(raw)
    return json_format.ParseDict(raw or {}, cls(), ignore_unknown_fields=True)


def ts(value: dt.datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


def from_ts(value: timestamp_pb2.Timestamp) -> dt.datetime:
    return value.ToDatetime(tzinfo=dt.UTC)
