"""The OCPI adapter: transport, one folder per module (server routes and client), version
mappings, and the outbox worker that pushes to partners."""
