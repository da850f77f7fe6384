from rtkit.server import main

from rtk_gateway.app import build
from rtk_gateway.settings import GatewaySettings

if __name__ == "__main__":
    main(name="gateway", build=build, settings_cls=GatewaySettings)
