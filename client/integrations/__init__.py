"""Task queue integrations: one call in a worker and its producers reports each task's life
(queued, started, retried, finished) and each queue's depth to batchgate. Each imports its
framework only when it is called, so the SDK itself stays standard library only."""
