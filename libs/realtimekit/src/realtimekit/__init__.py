"""RealtimeKit Core SDK for Python (signaling: session, waiting room, stage, chat, polls).

    from realtimekit import RealtimeKitClient
    meeting = await RealtimeKitClient.init(auth_token=token, base_url=gateway_url)
    await meeting.join()
"""

from realtimekit.client import RealtimeKitClient
from realtimekit.errors import AuthError, ClientError, ConnectionLost, PermissionDenied

__all__ = ["AuthError", "ClientError", "ConnectionLost", "PermissionDenied", "RealtimeKitClient"]
__version__ = "0.1.0"
