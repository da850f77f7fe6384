"""What a client's publishing offer sends: the kind of every sending m-line.

The SFU does not take the client's labels on trust for anything but naming: every label is
authorized with the orchestrator before the track is forwarded. Unlabelled sending m-lines get
the label they already had, else the router's default order (first audio → audio, second →
screenshare_audio; first video → video, second → screenshare), so the labels authorized here
are exactly the labels the media plane uses.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiortc import sdp as aiortc_sdp
from rtkit.errors import ApiError

from rtk_sfu.media import MEDIA_KIND, TRACK_KINDS

SENDING = ("sendonly", "sendrecv")


def bad_offer(message: str, **metadata: object) -> ApiError:
    return ApiError("INVALID_FIELD", message, problem="badOffer", field="mediaOffer.sdp", **metadata)


def sending_labels(sdp: str, given: Mapping[str, str], published: Mapping[str, str]) -> dict[str, str]:
    """mid → track kind (audio | video | screenshare | screenshare_audio) of every m-line the
    offer sends on. `given`: the client's labels; `published`: mid → kind published so far."""
    for mid, label in given.items():
        if label not in TRACK_KINDS:
            raise bad_offer(f"Unknown track kind {label!r} for mid {mid}.", mid=mid)
    try:
        description = aiortc_sdp.SessionDescription.parse(sdp)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the client's
        raise bad_offer(f"Invalid SDP offer: {str(exc)[:200]}") from None
    if not description.media:
        raise bad_offer("The offer has no m-line.")
    labels: dict[str, str] = {}
    sending = [m for m in description.media if m.kind in ("audio", "video") and m.direction in SENDING]
    # explicit and previously published labels first, then defaults for the rest
    for media in sending:
        mid = media.rtp.muxId
        label = given.get(mid) or published.get(mid)
        if label is not None:
            if MEDIA_KIND[label] != media.kind:
                raise bad_offer(f"mid {mid} is {media.kind}, it cannot carry {label}.", mid=mid)
            labels[mid] = label
    for media in sending:
        mid = media.rtp.muxId
        if mid in labels:
            continue
        used = set(labels.values())
        if media.kind == "audio":
            labels[mid] = "audio" if "audio" not in used else "screenshare_audio"
        else:
            labels[mid] = "video" if "video" not in used else "screenshare"
    seen: dict[str, str] = {}
    for mid, label in labels.items():
        if label in seen:
            raise bad_offer(f"mids {seen[label]} and {mid} both carry {label}; publish one track per kind.",
                            mid=mid)
        seen[label] = mid
    return labels
