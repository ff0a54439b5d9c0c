"""Use cases: the only code that changes state. Each service takes its collaborators (store,
bus, settings, pushes) as arguments, commits, then publishes events."""
