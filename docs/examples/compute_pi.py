"""A computation with iterations: estimate pi by Monte Carlo, reporting percent and estimate.

    python docs/examples/compute_pi.py [--iterations 2000000] [--seed 1]

Monitored with explicit calls rather than `with`, as code with its own structure does:
start(), progress(percent=...) and metric() inside the loop, then success() or fail().
"""

from __future__ import annotations

import argparse
import math
import random

from batchgate import Job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    job = Job("compute_pi", labels={"method": "monte_carlo"}, heartbeat=5).start()
    rng = random.Random(args.seed)
    inside = 0
    step = max(1, args.iterations // 1000)
    try:
        for i in range(1, args.iterations + 1):
            x, y = rng.random(), rng.random()
            inside += x * x + y * y <= 1.0
            if i % step == 0:
                estimate = 4 * inside / i
                job.progress(percent=100 * i / args.iterations)
                job.metric("pi_estimate", estimate)
                job.metric("pi_error", abs(estimate - math.pi))
    except BaseException as error:
        job.fail(f"{type(error).__name__}: {error}")
        raise
    estimate = 4 * inside / args.iterations
    job.metric("pi_estimate", estimate)
    job.success(f"pi ~ {estimate:.6f} after {args.iterations:,} samples")
    print(f"pi ~ {estimate:.6f} (error {abs(estimate - math.pi):.2e})")


if __name__ == "__main__":
    main()
