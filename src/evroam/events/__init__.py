"""Publish/subscribe between the parts of evroam. In-process by default; durable work (pushes to
partners) never relies on the bus alone: it goes through the outbox table."""

from evroam.events.bus import Bus, Event

__all__ = ["Bus", "Event"]
