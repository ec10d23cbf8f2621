"""``kubectl_complete-hsr``: shell completion for ``kubectl hsr``. kubectl (1.26+) runs this
executable for the words after ``kubectl hsr`` when the shell asks it to complete them, so
completion works in every shell kubectl's own completion is set up for.

It prints cobra's completion protocol: one candidate per line, then ``:<directive>``. The
sub-commands and flags come from the plugin's own parser (one source); rollout names are
listed from the cluster with the same ``-n``/``--context``/``--kubeconfig`` the line gives.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from enum import Enum

from hybridstream.kubeconfig import build_api_client

from hybridstream_operator.clients.kube import Kube, list_rollouts
from hybridstream_operator.plugin import build_parser, resolve_namespace

#: cobra.ShellCompDirectiveNoFileComp: never fall back to file names
NO_FILE_COMPLETION = 4
_NAMESPACE_FLAGS = ("-n", "--namespace")


class Want(Enum):
    """What the word being typed is."""

    WORDS = "words"  # sub-commands or flags, known without the cluster
    ROLLOUTS = "rollouts"  # a rollout's name
    NOTHING = "nothing"  # a free value (a reason, a port, a revision number)


@dataclass(frozen=True)
class Plan:
    want: Want
    words: tuple[str, ...] = ()


def _sub_commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps sub-parsers only here
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _flags(parser: argparse.ArgumentParser) -> tuple[set[str], set[str]]:
    """``(every flag, the flags that take a value)``."""
    every, valued = set(), set()
    for action in parser._actions:
        every.update(action.option_strings)
        if action.nargs != 0:
            valued.update(action.option_strings)
    every.discard("-h")  # --help is enough to offer
    return every, valued


def plan_completion(words: list[str], parser: argparse.ArgumentParser) -> Plan:
    """What the last of ``words`` (the one being typed, maybe empty) completes to."""
    *typed, current = words or [""]
    commands = _sub_commands(parser)
    command: str | None = None
    positional: list[str] = []
    skip = False
    for word in typed:
        active = commands.get(command, parser) if command else parser
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = "=" not in word and word in _flags(active)[1]
        elif command is None and word in commands:
            command = word
        else:
            positional.append(word)
    active = commands[command] if command else parser
    if skip:  # the value of a flag: names are not guessed, except none at all for files
        return Plan(Want.NOTHING)
    if current.startswith("-"):
        return Plan(Want.WORDS, tuple(sorted(f for f in _flags(active)[0]
                                             if f.startswith(current))))
    if command is None:
        return Plan(Want.WORDS, tuple(sorted(c for c in commands if c.startswith(current))))
    takes_name = any(a.dest == "name" for a in active._actions)
    return Plan(Want.ROLLOUTS if takes_name and not positional else Want.NOTHING)


def _flag_value(words: list[str], names: tuple[str, ...]) -> str | None:
    """The value given to a flag on the line (``-n x`` or ``--namespace=x``), last wins."""
    found = None
    for i, word in enumerate(words):
        if word in names and i + 1 < len(words):
            found = words[i + 1]
        elif "=" in word and word.split("=", 1)[0] in names:
            found = word.split("=", 1)[1]
    return found


async def list_rollout_names(words: list[str]) -> list[str]:
    """The rollouts of the namespace the line names (else the context's)."""
    api, context = await build_api_client(
        config_file=_flag_value(words, ("--kubeconfig",)),
        context=_flag_value(words, ("--context",)), in_cluster=False)
    async with api:
        found = await list_rollouts(Kube.from_api_client(api),
                                    resolve_namespace(_flag_value(words, _NAMESPACE_FLAGS),
                                                      context))
    return sorted(obj["metadata"]["name"] for obj in found)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``kubectl_complete-hsr``."""
    words = list(sys.argv[1:] if argv is None else argv)
    plan = plan_completion(words, build_parser())
    candidates = list(plan.words)
    if plan.want is Want.ROLLOUTS:
        current = words[-1] if words else ""
        try:
            candidates = [n for n in asyncio.run(list_rollout_names(words))
                          if n.startswith(current)]
        except Exception as exc:  # an unreachable cluster offers nothing, and says why
            print(f"kubectl hsr completion: cannot list rollouts ({exc.__class__.__name__})",
                  file=sys.stderr)
    for candidate in candidates:
        print(candidate)
    print(f":{NO_FILE_COMPLETION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
