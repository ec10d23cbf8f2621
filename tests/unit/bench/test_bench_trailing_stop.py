"""The trailing-stop bench's bookkeeping: delays and misses pooled per stream, the
percentile summary and the verdict line. (Its numbers are measured, never asserted.)"""

from __future__ import annotations

from bench.bench_trailing_stop import Samples, path_table, pooled, pooled_table, summary, verdict


def samples() -> Samples:
    s = Samples()
    for path, delay in (("jump", 10.0), ("ramp", 30.0), ("blip", 2.0)):
        s.add(path, "activation", "hybrid", delay)
        s.add(path, "trigger", "hybrid", 1.0)
    s.add("blip", "activation", "legacy 5 s", None)
    s.add("jump", "activation", "legacy 5 s", 2500.0)
    return s


def test_activations_pool_over_paths_and_misses_are_counted() -> None:
    assert sorted(pooled(samples(), "hybrid")[0]) == [2.0, 10.0, 30.0]  # no trigger delays
    assert pooled(samples(), "legacy 5 s") == ([2500.0], 1)


def test_summary_is_p50_p99_max() -> None:
    assert summary([5.0]) == (5.0, 5.0, 5.0)
    p50, p99, top = summary([float(v) for v in range(1, 101)])
    assert (p50, top) == (50.5, 100.0) and 98.0 < p99 < 100.0


def test_tables_and_verdict() -> None:
    table = "\n".join(pooled_table(samples(), ["legacy 5 s", "hybrid"]))
    assert "| legacy 5 s | 1 | 1 | 2500.0 | 2500.0 | 2500.0 |" in table
    rows = path_table(samples(), ["legacy 5 s", "hybrid"])
    assert "| blip | activation | legacy 5 s | 0 | 1 | - | - | - |" in rows
    assert "target (< 1 s) is met" in verdict(samples())
    slow = Samples()
    slow.add("jump", "activation", "hybrid", 1500.0)
    assert "NOT met" in verdict(slow)
    assert "no activation" in verdict(Samples())
