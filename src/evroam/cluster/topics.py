"""Which events leave the process that published them, and how.

- Changes of configuration and registry (sites, chargers, drivers, tokens, tariffs, locations,
  partners) go through the change feed: a row in the database, read by every node and by no
  one else. It works on the embedded default too (a command-line process changes a site, the
  server beside it hears of it), does not need Redis, and is in order.
- What happens at run time on one node and matters to work running on another (the planner of
  load management, the outbox workers) crosses nodes over Redis, when the platform has several
  nodes. These events are frequent (a meter value each) and not durable: whoever needs them
  also repairs a lost one (load management re-plans periodically, the outbox polls).
"""

from __future__ import annotations

#: recorded in the change feed (the database), heard by every node
CHANGE_TOPICS = frozenset({
    "site.changed",
    "charger.changed",
    "charger.approved",
    "driver.changed",
    "token.changed",
    "token.received",
    "tariff.changed",
    "tariff.deleted",
    "location.changed",
    "partner.registered",
    "partner.unregistered",
    "partner.changed",
    "plan.changed",
    "terminal.changed",  # a payment terminal of a PTP: created, assigned, (de)activated
})

#: sent to the other nodes over Redis (several nodes only)
RUNTIME_TOPICS = frozenset({
    "session.started",
    "session.completed",
    "session.meter",
    "charger.connected",
    "charger.disconnected",
    "charger.booted",
    "smart_session.changed",
    "outbox.enqueued",
    "command.result",
    "load.limit",
    "evse.status",  # an EVSE's new status (the back office's live views on every node)
})
