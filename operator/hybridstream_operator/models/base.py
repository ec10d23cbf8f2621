"""Shared pydantic configuration and the duration type of the custom resource.

Kubernetes objects speak camelCase; Python speaks snake_case. Every model of the CR
inherits :class:`CamelModel` so both spellings load and dumps use the API spelling.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

#: Go-style durations as Kubernetes users write them: ``90s``, ``5m``, ``1h30m``, ``0s``.
#: At most six digits a part and four parts: nothing can overflow (Go's or Python's) clocks.
DURATION_PATTERN = r"^([0-9]{1,6}(\.[0-9]{1,6})?(ms|s|m|h)){1,4}$"
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
#: The longest duration anywhere in a rollout: a year.
MAX_DURATION = "8760h"

Duration = Annotated[str, Field(pattern=DURATION_PATTERN, max_length=40)]


def bounded_duration(low: str, high: str = MAX_DURATION) -> Any:
    """A duration type between ``low`` and ``high``, checked by pydantic and, through the
    CEL rule it carries into the CRD, by the API server: one source for both."""
    lowest, highest = parse_duration(low), parse_duration(high)
    message = f"must be between {low} and {high}"

    def check(text: str) -> str:
        if not lowest <= parse_duration(text) <= highest:
            raise ValueError(message)
        return text

    rule = {"rule": f"duration(self) >= duration('{low}') && duration(self) <= duration('{high}')",
            "message": message}
    return Annotated[str, Field(pattern=DURATION_PATTERN, max_length=40,
                                json_schema_extra={"x-kubernetes-validations": [rule]}),
                     AfterValidator(check)]


def parse_duration(text: str) -> timedelta:
    """``"1h30m"`` → ``timedelta(hours=1, minutes=30)`` (the CRD pattern validated it)."""
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"invalid duration {text!r}: use e.g. 30s, 5m, 1h30m")
    return timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text)))


class CamelModel(BaseModel):
    """camelCase on the wire, snake_case in Python, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )
