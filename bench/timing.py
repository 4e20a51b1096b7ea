"""The benchmarks' timing rule: one untimed warm-up call, then the best of `repeats` calls."""
import time


def best_of(fn, repeats):
    best = float("inf")
    for r in range(repeats + 1):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        if r > 0:
            best = min(best, dt)
    return best
