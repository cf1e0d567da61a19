"""Alerting in the server: the rules engine over the live state, silences, the notification
outbox and its delivery, and their settings. The rules themselves (pure) are in `rules/`."""
