"""batchgate's collector: the server that receives pushes, keeps state and history, and serves them.

Importing this package is cheap on purpose: the `batchgate run` path goes through the
command line in `batchgate.collector.cli` and must not pull in the server's dependencies.
The layers below it, and which may import which, are drawn in docs/architecture.md.
"""

from batchgate import __version__

__all__ = ["__version__"]
