"""Settings of the gateway's web module (browser SDK, UI kit, meeting page, demo launcher)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from rtkit.config import ServiceSettings

# services/gateway/src/rtk_gateway/web/settings.py → the repository root holds web/.
_REPO_WEB = Path(__file__).resolve().parents[5] / "web"


class WebSettings(ServiceSettings):
    gateway_demo: bool = Field(
        default=False,
        description="Serve the demo launcher at / (creates meetings and hands out host/participant links "
        "without authentication: only for the local dev stack).",
    )
    gateway_demo_app_id: str = Field(
        default="", description="App of the demo launcher; default: app_id of $RTK_DATA_DIR/credentials.json."
    )
    gateway_web_dir: str = Field(
        default="",
        description="Directory holding the browser SDK and UI kit (web/ of the repository by default).",
    )
    data_dir: str = Field(default="", description="Data directory of the dev stack (credentials.json).")

    def web_root(self) -> Path:
        """The served directory: `<web dir>/src`."""
        base = Path(self.gateway_web_dir) if self.gateway_web_dir else _REPO_WEB
        return (base / "src").resolve()
