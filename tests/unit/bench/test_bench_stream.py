"""The stream bench's bookkeeping: how arrivals are joined to the simulator's tick log and
pooled over rounds. (The bench's numbers themselves are measured, never asserted.)"""

from __future__ import annotations

import argparse

import pytest

from bench.bench_stream import (
    CLIENTS,
    REFERENCES,
    latencies_ms,
    parse_loads,
    summarise,
    tick_time,
    window_order,
)

TICKS = {1_000: 1.000_2, 1_050: 1.050_999}  # ts (ms) -> unix s when the simulator took it


def test_tick_time_finds_the_tick_across_a_millisecond_boundary() -> None:
    assert tick_time(TICKS, 1_000) == 1.000_2
    assert tick_time(TICKS, 1_051) == 1.050_999  # the stamp fell just after the log
    assert tick_time(TICKS, 1_052) is None


def test_latencies_join_arrivals_to_ticks_and_skip_unlogged_pushes() -> None:
    samples = {"A|1000": 1.001_7, "B|1051": 1.052_999, "C|9999": 2.0}
    assert [round(x, 3) for x in latencies_ms(samples, TICKS)] == [1.5, 2.0]


def test_summary_pools_rounds_and_keeps_each_round_p99() -> None:
    rounds = [{"messages": 300, "cpu_s": 0.1, "samples": {"A|1000": 1.001_2, "B|1000": 1.003_2}},
              {"messages": 100, "cpu_s": 0.1, "samples": {"A|1050": 1.060_999}}]
    summary = summarise(rounds, TICKS)
    assert (summary["messages"], summary["cpu_s"], summary["msgs_per_cpu_s"]) == (400, 0.2, 2000.0)
    assert summary["samples"] == 3
    assert summary["p99_ms"] > summary["p50_ms"] and len(summary["round_p99_ms"]) == 2
    assert summary["round_p99_ms"][1] == pytest.approx(10.0)


def test_rounds_alternate_the_order_of_every_client() -> None:
    names = list(CLIENTS + REFERENCES)
    assert window_order(0) == names and window_order(1) == names[::-1]
    assert window_order(2) == names


def test_loads_parse_and_reject_nonsense() -> None:
    assert parse_loads("60x50, 500x100") == [(60, 50), (500, 100)]
    with pytest.raises(argparse.ArgumentTypeError, match="SYMBOLSxINTERVAL_MS"):
        parse_loads("60by50")
