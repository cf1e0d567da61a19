"""Storage: the `Store` protocol (`store.py`), the one writer with group commit (`writer.py`),
and the implementations (`sqlite/`, the embedded default). SQL lives here alone."""
