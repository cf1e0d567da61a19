"""batchgate's client SDK: standard library only."""
