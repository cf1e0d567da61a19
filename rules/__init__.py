"""The rules engine: YAML rules, their pure evaluation over jobs, and the alert lifecycle."""
