"""What ``kubectl hsr`` completes, from the plugin's own parser (no cluster needed)."""

from __future__ import annotations

import pytest
from hybridstream_operator.completion import Plan, Want, plan_completion
from hybridstream_operator.plugin import build_parser

VERBS = ("abort", "dashboard", "get", "history", "pause", "promote", "resume", "retry", "undo")


@pytest.mark.parametrize(("words", "plan"), [
    ([""], Plan(Want.WORDS, VERBS)),
    (["p"], Plan(Want.WORDS, ("pause", "promote"))),
    (["-n", "ns", "h"], Plan(Want.WORDS, ("history",))),
    (["promote", "--f"], Plan(Want.WORDS, ("--full",))),
    (["get", "--all"], Plan(Want.WORDS, ("--all-namespaces",))),
    (["abort", ""], Plan(Want.ROLLOUTS)),
    (["abort", "-n", "ns", "po"], Plan(Want.ROLLOUTS)),
    (["--namespace=ns", "get", ""], Plan(Want.ROLLOUTS)),
    (["abort", "pos", ""], Plan(Want.NOTHING)),  # the name is given
    (["abort", "--reason", ""], Plan(Want.NOTHING)),  # a free value
    (["-n", ""], Plan(Want.NOTHING)),
    (["undo", "pos", "--to-revision", ""], Plan(Want.NOTHING)),
    (["dashboard", ""], Plan(Want.NOTHING)),  # takes no name
])
def test_plan(words: list[str], plan: Plan) -> None:
    assert plan_completion(words, build_parser()) == plan


def test_every_flag_of_a_sub_command_is_offered() -> None:
    offered = plan_completion(["undo", "--"], build_parser()).words
    assert set(offered) == {"--namespace", "--context", "--kubeconfig", "--to-revision",
                            "--help"}
