"""Media side of the recorder: encoded-frame taps on aiortc receivers, the recording timeline
(pauses removed), per-track muxers (no transcoding) and the composite encoder process.

Nothing here knows about meetings, the database or the API.
"""
