"""The operators' back office in the browser, served at `/` by `evroam serve`: server-rendered
pages (Jinja2), htmx for forms, uPlot for charts, server-sent events for what changes live. It
is an adapter like the admin API: every page reads and acts through the same services (the
platform's), so there is no second path to any state. See docs/ui.md."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def install(app: FastAPI, platform) -> None:
    """Add the back office's pages, assets and live events to the HTTP application."""
    from starlette.staticfiles import StaticFiles

    from evroam.web import auth, render
    from evroam.web.live import LiveHub
    from evroam.web.mapview import MapCache
    from evroam.web.pages import ROUTERS

    app.state.live = LiveHub(platform.bus)
    app.state.map_cache = MapCache(platform.store, platform.bus,
                                   (platform.settings.country_code, platform.settings.party_id))
    app.mount(render.ASSETS, StaticFiles(directory=render.HERE / "static"), name="backoffice-assets")
    for router in ROUTERS:
        app.include_router(router, prefix=render.PREFIX, include_in_schema=False)

    @app.exception_handler(auth.NotSignedIn)
    async def _not_signed_in(request, exc):
        return auth.sign_in_redirect(request)

    @app.exception_handler(auth.Refused)
    async def _refused(request, exc):
        return render.error_page(request, exc.status, exc.message)
