"""The driver API (we are the eMSP): what a driver's app calls, at /driver/v1. Each driver
authenticates with their own API key (`Authorization: Bearer <key>`, issued by `evroam drivers
add` / `evroam drivers key`) and sees only their own sessions, CDRs and invoices."""
