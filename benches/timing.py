"""Timing shared by the Python benches: one warm-up run, then the median of `runs`."""

import statistics
import time


def median_ms(runs, run):
    """Median wall time of `runs` calls of `run` in ms, after one warm-up call."""
    run()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)
