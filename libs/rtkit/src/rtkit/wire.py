"""Protobuf ⇄ RealtimeKit REST JSON.

Internal APIs follow Buf/AIP naming; only the edge knows RealtimeKit's wire format. The rules
are generic, driven by descriptors:

* field names are the proto names (snake_case), except `create_time`/`update_time`, which
  RealtimeKit calls `created_at`/`updated_at`;
* enum values drop their type prefix (`STAGE_STATUS_ON_STAGE` → `ON_STAGE`) unless they carry a
  `(realtime.common.v1.wire_name)` option (`"extra-rounded"`, `"hd"`); `*_UNSPECIFIED` is absent;
* Timestamps are ISO 8601 UTC with milliseconds; Struct/Value are plain JSON; maps are objects.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from google.protobuf import descriptor, field_mask_pb2, json_format, struct_pb2, timestamp_pb2
from google.protobuf.message import Message
from realtime.common.v1 import options_pb2

_RENAMES = {"create_time": "created_at", "update_time": "updated_at"}
_UNRENAMES = {v: k for k, v in _RENAMES.items()}
FD = descriptor.FieldDescriptor


def rest_name(field: descriptor.FieldDescriptor) -> str:
    return _RENAMES.get(field.name, field.name)


def _enum_prefix(enum: descriptor.EnumDescriptor) -> str:
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "_", enum.name).upper() + "_"


@cache
def _enum_tables(enum: descriptor.EnumDescriptor) -> tuple[dict[int, str], dict[str, int]]:
    prefix = _enum_prefix(enum)
    to_wire: dict[int, str] = {}
    for value in enum.values:
        if value.number == 0:
            continue
        opts = value.GetOptions()
        wire = opts.Extensions[options_pb2.wire_name] if opts.HasExtension(options_pb2.wire_name) else ""
        to_wire[value.number] = wire or value.name.removeprefix(prefix)
    return to_wire, {v: k for k, v in to_wire.items()}


def enum_to_wire(enum: descriptor.EnumDescriptor, number: int) -> str | None:
    return _enum_tables(enum)[0].get(number)


def enum_from_wire(enum: descriptor.EnumDescriptor, value: str) -> int:
    table = _enum_tables(enum)[1]
    if value not in table:
        raise ValueError(f"must be one of {sorted(table)}")
    return table[value]


def enum_values(enum: descriptor.EnumDescriptor) -> list[str]:
    return list(_enum_tables(enum)[0].values())


def timestamp_to_wire(ts: timestamp_pb2.Timestamp) -> str:
    value = ts.ToDatetime(tzinfo=dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def timestamp_from_wire(value: str) -> timestamp_pb2.Timestamp:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(parsed)
    return ts


def _is_map(field: descriptor.FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _scalar_to_wire(field: descriptor.FieldDescriptor, value: Any) -> Any:
    if field.type == FD.TYPE_ENUM:
        return enum_to_wire(field.enum_type, value)
    if field.type == FD.TYPE_MESSAGE:
        return to_rest(value)
    if field.type == FD.TYPE_BYTES:
        import base64

        return base64.b64encode(value).decode()
    return value


def to_rest(message: Message, *, omit: frozenset[str] = frozenset()) -> Any:
    """Render a message as RealtimeKit JSON (a dict, or a plain value for well-known types)."""
    full_name = message.DESCRIPTOR.full_name
    if full_name == "google.protobuf.Timestamp":
        return timestamp_to_wire(message)  # type: ignore[arg-type]
    if full_name in ("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"):
        return json_format.MessageToDict(message)
    out: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        if field.name in omit:
            continue
        name = rest_name(field)
        value = getattr(message, field.name)
        if _is_map(field):
            value_field = field.message_type.fields_by_name["value"]
            out[name] = {k: _scalar_to_wire(value_field, v) for k, v in value.items()}
        elif field.is_repeated:
            out[name] = [_scalar_to_wire(field, v) for v in value]
        elif field.type == FD.TYPE_MESSAGE:
            if message.HasField(field.name):
                out[name] = to_rest(value)
        elif field.has_presence and not message.HasField(field.name):
            out[name] = None
        elif field.type == FD.TYPE_ENUM:
            wire = enum_to_wire(field.enum_type, value)
            if wire is not None:
                out[name] = wire
        else:
            out[name] = _scalar_to_wire(field, value)
    return out


class WireError(ValueError):
    """A REST value that cannot be represented; `path` names the offending field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.reason = message


def _set_scalar(field: descriptor.FieldDescriptor, value: Any, path: str) -> Any:
    if field.type == FD.TYPE_ENUM:
        if not isinstance(value, str):
            raise WireError(path, "must be a string")
        try:
            return enum_from_wire(field.enum_type, value)
        except ValueError as exc:
            raise WireError(path, str(exc)) from None
    if field.type == FD.TYPE_BOOL:
        if not isinstance(value, bool):
            raise WireError(path, "must be a boolean")
        return value
    if field.type == FD.TYPE_STRING:
        if not isinstance(value, str):
            raise WireError(path, "must be a string")
        return value
    if field.type in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise WireError(path, "must be a number")
        return float(value)
    if field.type in (FD.TYPE_INT32, FD.TYPE_INT64, FD.TYPE_UINT32, FD.TYPE_UINT64, FD.TYPE_SINT32, FD.TYPE_SINT64):
        if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
            raise WireError(path, "must be an integer")
        bits = 32 if field.type in (FD.TYPE_INT32, FD.TYPE_UINT32, FD.TYPE_SINT32) else 63
        if not -(2**bits) <= int(value) < 2**bits:
            raise WireError(path, "is out of range")
        return int(value)
    raise WireError(path, "unsupported field type")


def from_rest(data: Any, message: Message | type[Message], *, path: str = "") -> Message:
    """Fill `message` (an instance or a class) from RealtimeKit JSON. Unknown keys raise WireError."""
    msg = message() if isinstance(message, type) else message
    full_name = msg.DESCRIPTOR.full_name
    if full_name == "google.protobuf.Timestamp":
        try:
            msg.CopyFrom(timestamp_from_wire(data))
        except (TypeError, ValueError, AttributeError):
            raise WireError(path or "timestamp", "must be an ISO 8601 date-time") from None
        return msg
    if full_name == "google.protobuf.Struct":
        if not isinstance(data, dict):
            raise WireError(path, "must be an object")
        msg.update(data)  # type: ignore[attr-defined]
        return msg
    if full_name == "google.protobuf.Value":
        json_format.ParseDict(data, msg)
        return msg
    if not isinstance(data, dict):
        raise WireError(path or msg.DESCRIPTOR.name, "must be an object")
    fields = msg.DESCRIPTOR.fields_by_name
    for key, value in data.items():
        field = fields.get(_UNRENAMES.get(key, key))
        sub = f"{path}.{key}" if path else key
        if field is None:
            raise WireError(sub, "unknown field")
        if value is None:
            continue  # null = not set
        if _is_map(field):
            if not isinstance(value, dict):
                raise WireError(sub, "must be an object")
            value_field = field.message_type.fields_by_name["value"]
            target = getattr(msg, field.name)
            for k, v in value.items():
                if value_field.type == FD.TYPE_MESSAGE:
                    from_rest(v, target[k], path=f"{sub}.{k}")
                else:
                    target[k] = _set_scalar(value_field, v, f"{sub}.{k}")
        elif field.is_repeated:
            if not isinstance(value, list):
                raise WireError(sub, "must be an array")
            target = getattr(msg, field.name)
            for i, item in enumerate(value):
                if field.type == FD.TYPE_MESSAGE:
                    from_rest(item, target.add(), path=f"{sub}[{i}]")
                else:
                    target.append(_set_scalar(field, item, f"{sub}[{i}]"))
        elif field.type == FD.TYPE_MESSAGE:
            from_rest(value, getattr(msg, field.name), path=sub)
            getattr(msg, field.name).SetInParent()
        else:
            setattr(msg, field.name, _set_scalar(field, value, sub))
    return msg


def update_mask(data: dict[str, Any], message_cls: type[Message], *, prefix: str = "") -> field_mask_pb2.FieldMask:
    """Leaf paths present in a PATCH body: nested objects merge, maps/lists/Structs replace."""
    mask = field_mask_pb2.FieldMask()
    _collect_paths(data, message_cls.DESCRIPTOR, prefix, mask.paths)
    return mask


def _collect_paths(data: dict[str, Any], desc: descriptor.Descriptor, prefix: str, out: Any) -> None:
    for key, value in data.items():
        field = desc.fields_by_name.get(_UNRENAMES.get(key, key))
        if field is None:
            continue
        path = f"{prefix}{field.name}"
        nested = (
            field.type == FD.TYPE_MESSAGE
            and not field.is_repeated
            and not _is_map(field)
            and field.message_type.full_name.split(".")[0] != "google"
            and isinstance(value, dict)
            and value
        )
        if nested:
            _collect_paths(value, field.message_type, path + ".", out)
        else:
            out.append(path)


def struct_from_dict(data: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(data)
    return s
