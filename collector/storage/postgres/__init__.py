"""The PostgreSQL store: the same `Store` contract as SQLite, on a database server that
several batchgate nodes can share. Importing this package loads no driver; `store` does."""
