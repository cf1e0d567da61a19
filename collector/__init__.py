"""batchgate's collector: the server that receives pushes, keeps state and history, and serves them.

Importing this package is cheap on purpose: the `batchgate run` path goes through the
command line in `collector.cli` and must not pull in the server's dependencies.
"""

__version__ = "0.1.0"
