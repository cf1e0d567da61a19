"""The HTTP edge: the app factory, routes, middlewares, the front door, the handlers and the
dashboard. Handlers parse, call the ingest service or read the state, and answer."""
