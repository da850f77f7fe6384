"""`python -m rtk_sfu [serve|drain]`.

    serve   run the node (gRPC: SfuNodeService + health; NATS heartbeats; media)
    drain   ask the local node to drain and wait until it has stopped (Kubernetes preStop)
"""

from __future__ import annotations

from rtkit.server import main

from rtk_sfu.app import build
from rtk_sfu.node.drain import drain_command
from rtk_sfu.settings import SfuSettings

if __name__ == "__main__":
    main(name="sfu", build=build, settings_cls=SfuSettings, commands={"drain": drain_command})
