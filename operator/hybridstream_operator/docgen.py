"""The default analysis table of docs/analysis.md, rendered from the defaults themselves so
the two never disagree (tests/unit/operator/test_docs.py checks it): ``python -m
hybridstream_operator.docgen`` prints it."""

from __future__ import annotations

from hybridstream_operator.models.phases import PROGRESSING
from hybridstream_operator.models.spec import Analysis, MetricKind

#: The page holding the table, relative to the repository root.
DOC_PATH = "docs/analysis.md"
BEGIN, END = "<!-- default-analysis:begin -->", "<!-- default-analysis:end -->"


def render_defaults_table() -> str:
    """A Markdown table of ``Analysis().metrics`` between the markers of ``DOC_PATH``."""
    rows = ["| metric | kind | phases | passes when | action | no data | window | query |",
            "|---|---|---|---|---|---|---|---|"]
    for m in Analysis().metrics:
        phases = "all" if set(m.phases) == set(PROGRESSING) else ", ".join(m.phases)
        kind = f"gate (warm-up {m.warmup_period.seconds // 60} min)" \
            if m.kind is MetricKind.GATE else "guard"
        window = m.window if "$window" in m.query else "—"
        query = m.query.replace("|", "\\|")
        rows.append(f"| `{m.name}` | {kind} | {phases} | `{m.condition}` | {m.action} | "
                    f"{m.no_data} | {window} | `{query}` |")
    return "\n".join([BEGIN, *rows, END])


if __name__ == "__main__":
    print(render_defaults_table())
