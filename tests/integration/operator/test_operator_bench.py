"""The operator scale bench (bench/bench_operator.py), short: N=5 rollouts against a real
operator process on the kwok control plane. No timing is asserted (bench/ measures): the
bench must produce its report with every figure present and sane."""

from __future__ import annotations

from pathlib import Path

from bench.bench_operator import Bench, percentile, render, run


async def test_bench_reports_sane_figures_for_five_rollouts(cluster, operator_crds,
                                                            tmp_path: Path) -> None:
    bench = Bench(cluster.kubeconfig, cluster.kubectl_bin, window=3, samples=2,
                  workdir=tmp_path)
    [figures] = await run(bench, [5], baseline=None)
    assert (figures.label, figures.n, figures.adopted) == ("this", 5, 5)
    assert 0 < figures.adopt_s < 600
    assert figures.background_rps > 0 and figures.api_rps + figures.background_rps > 0
    # five idle rollouts can use under one clock tick in the window: 0 % is a measurement
    assert 0 <= figures.cpu_pct < 100 * 64 and 10 < figures.rss_mib < 4096
    assert len(figures.abort_ms) == len(figures.alert_ms) == 2
    assert all(0 < ms < 30_000 for ms in (*figures.abort_ms, *figures.alert_ms))
    # each rollout's one Service (stable's) was created (one request, no read before)
    assert figures.adopt_requests["POST services"] >= 5, figures.adopt_requests
    # the steady state by kind: only kinds above their background rate, which add up to at
    # least the net rate (five idle rollouts may make no request at all in 3 s)
    assert all(r > 0 for r in figures.steady_rps.values()), figures.steady_rps
    assert figures.steady_rps.total() >= figures.api_rps - 1e-9, figures
    report = render([figures], "test", "")
    assert "| this | 5 | " in report.split("Requests per rollout during adoption")[1], report
    assert ("Steady-state requests per rollout" in report) == bool(figures.steady_rps), report
    row = next(line for line in report.splitlines() if line.startswith("| this | 5 |"))
    assert f"{percentile(figures.alert_ms, 99):.0f} |" in row, row
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0 and percentile([1.0, 9.0], 99) == 9.0
