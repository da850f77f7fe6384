"""FieldMask handling for partial updates (AIP-134)."""

from __future__ import annotations

from google.protobuf import field_mask_pb2
from google.protobuf.message import Message
from rtkit.errors import ApiError


def _bad(description: str) -> ApiError:
    return ApiError(
        "INVALID_FIELD", f"update_mask: {description}", field_violations=[("update_mask", description)],
        field="update_mask",
    )


def apply(
    mask: field_mask_pb2.FieldMask,
    source: Message,
    destination: Message,
    *,
    allowed_roots: frozenset[str],
) -> set[str]:
    """Copy the masked fields of `source` into `destination`; returns the top-level fields touched.

    Paths may reach into nested messages; maps, lists and Structs are replaced as a whole. A path
    whose value is unset in `source` clears the field in `destination`.
    """
    if not mask.paths:
        raise _bad("is required and must name at least one field")
    for path in mask.paths:
        root = path.split(".", 1)[0]
        if root not in allowed_roots:
            raise _bad(f"field {root!r} cannot be updated")
    if not mask.IsValidForDescriptor(source.DESCRIPTOR):
        raise _bad(f"invalid path in {list(mask.paths)}")
    normalized = field_mask_pb2.FieldMask()
    normalized.CanonicalFormFromMask(mask)
    # AIP-134: a named field absent from `source` is cleared, even when its parents are absent too
    # (MergeMessage alone would skip such paths).
    filled = type(source)()
    filled.CopyFrom(source)
    for path in normalized.paths:
        parent = filled
        for part in path.split(".")[:-1]:
            parent = getattr(parent, part)
        if parent is not filled:
            parent.SetInParent()
    source = filled
    try:
        normalized.MergeMessage(source, destination, replace_message_field=True, replace_repeated_field=True)
    except ValueError as exc:
        raise _bad(str(exc)) from None
    return {path.split(".", 1)[0] for path in normalized.paths}
