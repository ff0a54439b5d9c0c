"""The back office's pages, one module per page of the navigation."""

from evroam.web.pages import (
    cdrs,
    chargers,
    drivers,
    live,
    log,
    overview,
    partners,
    sessions,
    signin,
    sites,
    statistics,
    tariffs,
)

ROUTERS = [signin.router, overview.router, chargers.router, sessions.router, cdrs.router, tariffs.router,
           partners.router, sites.router, drivers.router, statistics.router, log.router, live.router]
