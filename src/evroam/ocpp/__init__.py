"""The OCPP adapter: the WebSocket gateway chargers connect to, and one handler set per OCPP
version (1.6, 2.0.1, 2.1) built on the `ocpp` library. Handlers translate messages into
service calls and nothing more."""
