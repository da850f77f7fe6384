"""Allocation-light RTP helpers for the forwarding hot path.

Everything here works on the decrypted ``bytes`` of one packet and returns plain ints, so the
forwarder never builds an :class:`aiortc.rtp.RtpPacket` per packet.
"""

from __future__ import annotations

import struct

# b0, b1, sequence number, timestamp
HDR_IN = struct.Struct("!BBHI")
# b0, b1, sequence number, timestamp, ssrc
HDR_OUT = struct.Struct("!BBHII")
U16 = struct.Struct("!H")
U32 = struct.Struct("!I")

EXT_PROFILE_ONE_BYTE = 0xBEDE
EXT_PROFILE_TWO_BYTE_MASK = 0xFFF0
EXT_PROFILE_TWO_BYTE = 0x1000


def seq_newer(a: int, b: int) -> bool:
    """True if 16-bit sequence number ``a`` is after ``b`` (RFC 1982 arithmetic)."""
    return a != b and ((a - b) & 0xFFFF) < 0x8000


def parse_header(data: bytes) -> tuple[int, int, int, int, int, int, int]:
    """Parse an RTP header without building objects.

    Returns ``(b1, seq, ts, ext_start, ext_end, payload_start, payload_end)``: ``b1`` is the
    second header byte (marker bit | payload type); ``ext_start:ext_end`` delimit the header
    extension *elements* (``0, 0`` when absent or of an unknown profile), with ``ext_start``
    negated for the two-byte-header profile (RFC 8285 §4.3); the payload excludes padding.
    Raises ValueError (or struct.error) on a truncated packet.
    """
    n = len(data)
    b0, b1, seq, ts = HDR_IN.unpack_from(data)
    off = 12 + 4 * (b0 & 0x0F)
    ext_start = ext_end = 0
    if b0 & 0x10:
        if off + 4 > n:
            raise ValueError("truncated extension header")
        profile = (data[off] << 8) | data[off + 1]
        length = ((data[off + 2] << 8) | data[off + 3]) * 4
        ext_start = off + 4
        ext_end = ext_start + length
        if profile & EXT_PROFILE_TWO_BYTE_MASK == EXT_PROFILE_TWO_BYTE:
            ext_start = -ext_start
        elif profile != EXT_PROFILE_ONE_BYTE:
            ext_start = ext_end = 0  # unknown profile: ignore the block
        off += 4 + length
    end = n
    if b0 & 0x20:
        end -= data[-1]
    if off > end:
        raise ValueError("truncated packet")
    return b1, seq, ts, ext_start, ext_end, off, end


def scan_extensions(data: bytes, start: int, end: int, id_a: int, id_b: int) -> tuple[int, int]:
    """Return the values of extensions ``id_a`` (3-byte big-endian, e.g. abs-send-time) and
    ``id_b`` (first byte, e.g. audio level); -1 when absent."""
    va = vb = -1
    if start == 0:
        return va, vb
    if start > 0:  # one-byte header (RFC 8285 4.2)
        i = start
        while i < end:
            b = data[i]
            if b == 0:
                i += 1
                continue
            xid = b >> 4
            if xid == 15:
                break
            ln = (b & 0x0F) + 1
            if xid == id_a and ln >= 3:
                va = (data[i + 1] << 16) | (data[i + 2] << 8) | data[i + 3]
            elif xid == id_b:
                vb = data[i + 1]
            i += 1 + ln
    else:  # two-byte header (RFC 8285 4.3)
        i = -start
        while i + 1 < end:
            xid = data[i]
            if xid == 0:
                i += 1
                continue
            ln = data[i + 1]
            if xid == id_a and ln >= 3:
                va = (data[i + 2] << 16) | (data[i + 3] << 8) | data[i + 4]
            elif xid == id_b and ln >= 1:
                vb = data[i + 2]
            i += 2 + ln
    return va, vb


def find_mid(data: bytes, start: int, end: int, mid_id: int) -> str | None:
    """Value of the MID header extension, used to route packets from senders without a=ssrc."""
    if start == 0 or not mid_id:
        return None
    if start > 0:
        i = start
        while i < end:
            b = data[i]
            if b == 0:
                i += 1
                continue
            xid = b >> 4
            if xid == 15:
                break
            ln = (b & 0x0F) + 1
            if xid == mid_id:
                return data[i + 1 : i + 1 + ln].decode("ascii", "replace")
            i += 1 + ln
    else:
        i = -start
        while i + 1 < end:
            xid = data[i]
            if xid == 0:
                i += 1
                continue
            ln = data[i + 1]
            if xid == mid_id:
                return data[i + 2 : i + 2 + ln].decode("ascii", "replace")
            i += 2 + ln
    return None


def vp8_is_keyframe_start(payload: bytes) -> bool:
    """RFC 7741: first packet of a key frame (S=1, PID=0, then VP8 header P bit == 0)."""
    n = len(payload)
    if n < 2:
        return False
    b = payload[0]
    if not (b & 0x10) or (b & 0x07):
        return False
    i = 1
    if b & 0x80:  # X: extended control bits
        x = payload[1]
        i = 2
        if x & 0x80:  # I: picture id
            if i >= n:
                return False
            i += 2 if payload[i] & 0x80 else 1
        if x & 0x40:  # L: TL0PICIDX
            i += 1
        if x & 0x30:  # T or K: TID/Y/KEYIDX
            i += 1
    if i >= n:
        return False
    return (payload[i] & 0x01) == 0


def h264_is_keyframe_start(payload: bytes) -> bool:
    """RFC 6184: a packet starting an IDR picture or carrying an SPS."""
    n = len(payload)
    if n < 1:
        return False
    nal = payload[0] & 0x1F
    if nal in (5, 7):
        return True
    if nal == 24:  # STAP-A
        i = 1
        while i + 2 < n:
            size = (payload[i] << 8) | payload[i + 1]
            if (payload[i + 2] & 0x1F) in (5, 7):
                return True
            i += 2 + size
        return False
    if nal == 28 and n > 1:  # FU-A
        return bool(payload[1] & 0x80) and (payload[1] & 0x1F) == 5
    return False


def keyframe_detector(mime_type: str):
    mime = mime_type.lower()
    if mime == "video/vp8":
        return vp8_is_keyframe_start
    if mime == "video/h264":
        return h264_is_keyframe_start
    return None


def build_extension_block(mid_id: int, mid: str | None, var_id: int, var_len: int) -> tuple[bytes, bytes]:
    """Pre-build a one-byte-header extension block around one per-packet element.

    Layout: ``BEDE len | [var element header] <var_len bytes supplied per packet> | mid element |
    padding``. Returns ``(prefix, suffix)``: the packet's extension block is
    ``prefix + value + suffix`` (or ``prefix + suffix`` when ``var_id`` is 0).
    """
    elems_pre = b""
    if var_id:
        elems_pre = bytes([(var_id << 4) | (var_len - 1)])
    else:
        var_len = 0
    elems_post = b""
    if mid_id and mid is not None:
        m = mid.encode("ascii")
        elems_post = bytes([(mid_id << 4) | (len(m) - 1)]) + m
    total = len(elems_pre) + var_len + len(elems_post)
    if total == 0:
        return b"", b""
    pad = (-total) % 4
    words = (total + pad) // 4
    prefix = struct.pack("!HH", EXT_PROFILE_ONE_BYTE, words) + elems_pre
    suffix = elems_post + b"\x00" * pad
    return prefix, suffix
