"""The browser side of the gateway (docs/web.md).

    GET /web/{path}        browser Core SDK (`/web/core/index.js`), UI kit (`/web/ui/index.js`),
                           styles and the page scripts: plain ES modules from web/src, no build step
    GET /meeting           the meeting page: `/meeting?authToken=<participant token>`
    GET /v1/web/context    the caller's preset (REST form, incl. ui.design_tokens), participant and
                           meeting title, for `Authorization: Bearer <participant token>`
    GET /                  demo launcher (only with RTK_GATEWAY_DEMO=true), plus /demo/…

Registered by one line in rtk_gateway.app.create_app.
"""

from rtk_gateway.web.routes import router

__all__ = ["router"]
