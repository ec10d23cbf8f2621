"""The README's default analysis table is the code's (rendered from the defaults)."""

from __future__ import annotations

from pathlib import Path

from hybridstream_operator.docgen import BEGIN, END, render_defaults_table
from hybridstream_operator.models.defaults import DEFAULT_ALERT_NAMES
from hybridstream_operator.models.spec import Analysis

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_default_analysis_table_matches_the_defaults():
    text = README.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    assert text[start:end] == render_defaults_table(), (
        "README's default analysis table is stale; replace it with the output of "
        "python -m hybridstream_operator.docgen")


def test_every_default_metric_and_alert_name_is_in_the_readme():
    text = README.read_text()
    for metric in Analysis().metrics:
        assert f"`{metric.name}`" in text, metric.name
    for alert in DEFAULT_ALERT_NAMES:
        assert f"`{alert}`" in text, alert
