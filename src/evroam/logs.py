"""Logging of `evroam` processes: the level of the settings for evroam's own messages, and the
libraries that would print secrets at DEBUG (SQL parameters with partners' tokens, WebSocket
handshake headers with chargers' passwords, HTTP headers) held at INFO whatever the level."""

from __future__ import annotations

import logging

#: loggers that print request headers or SQL parameters at DEBUG
CHATTY = ("aiosqlite", "asyncpg", "websockets", "httpx", "httpcore", "uvicorn.access", "hpack", "multipart",
          "stripe")  # stripe: request parameters and answers (client secrets) at DEBUG


def configure(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_libraries()


def quiet_libraries() -> None:
    """Keep the libraries' DEBUG output (which carries secrets) out of the log."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    for name in ("sqlalchemy.engine", "sqlalchemy.pool"):  # their INFO is every statement with its values
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in CHATTY:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO or logger.level < logging.INFO:
            logger.setLevel(logging.INFO)
