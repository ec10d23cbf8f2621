"""What a metric's PromQL means for one rollout at one instant: ``$selector`` becomes the
candidate revision's pods (the scope labels every stream pod exports, plus
``spec.analysis.selector``), ``$stable_selector`` the stable revision's, and ``$window`` the
age of the current step, so no query ever judges another team's pods, the stable revision
walking beside the candidate, or the previous step's (or the failed attempt's) data."""

from __future__ import annotations

from datetime import datetime, timedelta

from hybridstream.routing import SCOPE_NAMESPACE, SCOPE_REVISION, SCOPE_ROLLOUT

from hybridstream_operator.models.base import parse_duration
from hybridstream_operator.models.spec import MIN_WINDOW, Analysis, Metric


def build_selector(namespace: str, name: str, extra: str = "",
                   revision: int | None = None) -> str:
    """Label matchers of this rollout's pods (of one revision, if given), then the user's
    own (``extra``)."""
    scope = f'{SCOPE_NAMESPACE}="{namespace}",{SCOPE_ROLLOUT}="{name}"'
    if revision is not None:
        scope += f',{SCOPE_REVISION}="{revision}"'
    extra = extra.strip().strip(",")
    return f"{scope},{extra}" if extra else scope


def build_window(metric: Metric, start: datetime | None, now: datetime) -> str | None:
    """``$window``: the step's age, at most the metric's ``window``, in whole seconds
    (``95s``); None while the step is younger than MIN_WINDOW (too few scrapes to judge on
    its own data, and reaching further back would judge it on the previous step's)."""
    longest = parse_duration(metric.window)
    age = now - start if start is not None else longest
    if age < parse_duration(MIN_WINDOW):
        return None
    return f"{max(1, int(min(longest, age) / timedelta(seconds=1)))}s"


#: ``$age`` when no step start is known: no clamp at all.
UNKNOWN_AGE = 10**9


def build_age(start: datetime | None, now: datetime) -> str:
    """``$age``: whole seconds since the step's data start."""
    if start is None:
        return str(UNKNOWN_AGE)
    return str(max(0, int((now - start) / timedelta(seconds=1))))


def render_query(metric: Metric, selector: str, window: str, age: str = str(UNKNOWN_AGE),
                 stable_selector: str | None = None) -> str:
    """The metric's PromQL with ``$stable_selector``, ``$selector``, ``$window`` and
    ``$age`` substituted (without revisions, both selectors are the rollout's)."""
    return (metric.query.replace("$stable_selector", stable_selector or selector)
            .replace("$selector", selector).replace("$window", window).replace("$age", age))


def build_queries(analysis: Analysis, metrics: list[Metric], namespace: str, name: str, *,
                  start: datetime | None, now: datetime,
                  revisions: tuple[int, int | None] | None = None) -> dict[str, str]:
    """``metric name -> PromQL`` of one analysis pass of the rollout ``namespace/name``
    whose ``(stable, candidate)`` revisions are ``revisions``; windowed metrics are left out
    until the step is MIN_WINDOW old."""
    stable, candidate = revisions or (None, None)
    selector = build_selector(namespace, name, analysis.selector, candidate)
    stable_selector = build_selector(namespace, name, analysis.selector, stable)
    queries = {}
    for metric in metrics:
        window = build_window(metric, start, now)
        if window is None and "$window" in metric.query:
            continue  # measured once the step has data of its own
        queries[metric.name] = render_query(metric, selector, window or "",
                                            build_age(start, now), stable_selector)
    return queries
