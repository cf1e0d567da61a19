"""`batchgate demo`: simulated jobs, through the SDK, against a server it starts or is given.
A client of the server: it imports the SDK, never the server's modules."""
