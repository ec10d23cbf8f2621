"""``kubectl hsr`` reads its command line as kubectl does: -n/--namespace, --context and
--kubeconfig before or after the sub-command, the context's namespace when -n is absent,
-A/--all-namespaces for listing only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hybridstream_operator.plugin import build_table, parse_args, resolve_namespace

FLAGS = ["-n", "trading", "--context", "kind-hs", "--kubeconfig", "/tmp/kc"]


@pytest.mark.parametrize("argv", [
    [*FLAGS, "get", "positions"],
    ["get", "positions", *FLAGS],
    ["get", *FLAGS, "positions"],
    ["-n", "trading", "get", "positions", "--context", "kind-hs", "--kubeconfig", "/tmp/kc"],
    ["--namespace=trading", "get", "--context=kind-hs", "positions", "--kubeconfig=/tmp/kc"],
])
def test_global_flags_before_or_after_the_sub_command(argv):
    args = parse_args(argv)
    assert (args.command, args.name) == ("get", "positions")
    assert (args.namespace, args.context, args.kubeconfig) == ("trading", "kind-hs", "/tmp/kc")
    assert args.all_namespaces is False


@pytest.mark.parametrize("verb", ["promote", "pause", "resume", "abort", "retry", "history"])
def test_every_sub_command_takes_the_flags_after_the_name(verb):
    args = parse_args([verb, "positions", "-n", "trading", "--context", "c"])
    assert (args.command, args.name, args.namespace, args.context) == \
        (verb, "positions", "trading", "c")


def test_absent_flags_are_none_and_a_later_flag_wins():
    args = parse_args(["promote", "positions", "--full", "--reason", "ok"])
    assert (args.namespace, args.context, args.kubeconfig) == (None, None, None)
    assert args.full and args.reason == "ok"
    # a sub-command without -n keeps the one given before it (argparse would reset it)
    assert parse_args(["-n", "a", "get"]).namespace == "a"
    assert parse_args(["-n", "a", "get", "-n", "b"]).namespace == "b"


@pytest.mark.parametrize("argv", [["get", "-A"], ["-A", "get"], ["get", "--all-namespaces", "-w"]])
def test_all_namespaces_lists(argv):
    args = parse_args(argv)
    assert args.all_namespaces and args.command == "get" and args.name is None


@pytest.mark.parametrize("argv", [["get", "positions", "-A"], ["-A", "abort", "positions"],
                                  ["-A", "history", "positions"]])
def test_all_namespaces_never_names_a_rollout(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    assert "-A/--all-namespaces only lists rollouts" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "port", "everywhere"), [
    (["dashboard"], 3100, False), (["dashboard", "--port", "0", "-A"], 0, True),
    (["-A", "dashboard", "-n", "trading", "--port=8088"], 8088, True)])
def test_dashboard_takes_a_port_and_lists_one_or_every_namespace(argv, port, everywhere):
    args = parse_args(argv)
    assert (args.command, args.port, args.all_namespaces) == ("dashboard", port, everywhere)


def test_all_namespaces_is_not_a_flag_of_intents():
    with pytest.raises(SystemExit):
        parse_args(["abort", "positions", "-A"])


def test_namespace_comes_from_the_flag_then_the_context_then_default():
    context = {"name": "kind-hs", "context": {"cluster": "c", "namespace": "trading"}}
    assert resolve_namespace("ops", context) == "ops"
    assert resolve_namespace(None, context) == "trading"
    assert resolve_namespace(None, {"name": "x", "context": {"cluster": "c"}}) == "default"
    assert resolve_namespace(None, None) == "default"


def test_all_namespaces_table_has_a_namespace_column():
    obj = {"metadata": {"name": "positions", "namespace": "trading",
                        "creationTimestamp": "2026-01-01T00:00:00Z"},
           "status": {"phase": "Canary", "message": "watching"}}
    now = datetime(2026, 1, 1, 1, tzinfo=UTC)
    header, row = build_table([obj], now, all_namespaces=True).splitlines()
    assert header.split()[:2] == ["NAMESPACE", "NAME"]
    assert row.split()[:3] == ["trading", "positions", "Canary"]
    assert build_table([obj], now).splitlines()[0].split()[0] == "NAME"
