"""OCPP 2.0.1 handlers, and OCPP 2.1 on the same handlers (its messages used here match)."""
