"""What batchgate says about itself and its jobs on /metrics (`metrics.py`, `job_metrics.py`),
and its log lines (`logs.py`)."""
