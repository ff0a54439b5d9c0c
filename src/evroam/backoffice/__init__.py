"""The back office: the admin REST API (and, later, the web UI). It calls services like every
other adapter."""
