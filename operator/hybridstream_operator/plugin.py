"""``kubectl hsr`` (installed as ``kubectl-hsr``): the rollout from a terminal, like
``kubectl argo rollouts``. Intents are annotations the operator applies exactly once.

    kubectl hsr get [NAME] [--watch] [-A]  table, or one rollout in detail (live with --watch)
    kubectl hsr promote NAME [--full]      finish the current step now (or jump to production)
    kubectl hsr pause|resume|abort|retry NAME [--reason TEXT]
    kubectl hsr history NAME               revisions, phase history and the last failure
    kubectl hsr undo NAME [--to-revision N]  walk an earlier revision again (default: back
                                           to stable mid-walk, else the previous stable)
    kubectl hsr dashboard [--port 3100] [-A]  the rollouts in a browser, on 127.0.0.1

As with kubectl, -n/--namespace, --context and --kubeconfig go before or after the
sub-command; without -n the namespace is the context's (else "default").
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from hybridstream_operator.clients.kube import (
    Kube,
    fetch_rollout,
    list_rollouts,
    replace_rollout_workload,
    send_intent,
)
from hybridstream_operator.dashboard.server import serve
from hybridstream_operator.logic.revisions import UndoRefused, choose_undo_target
from hybridstream_operator.models.observations import IntentKind
from hybridstream_operator.models.spec import RolloutSpec
from hybridstream_operator.models.status import RevisionRef, RolloutStatus, Verdict

COLUMNS = ("NAME", "PHASE", "STEP", "HYBRID%", "STABLE", "CANDIDATE", "ROUTING", "AGE",
           "MESSAGE")
#: Flags kubectl accepts anywhere on the line; they are defined on the main parser and on
#: every sub-command, with SUPPRESS defaults so a sub-command's absent flag never overwrites
#: one given before it (argparse copies sub-parser defaults over the main namespace).
_GLOBAL_FLAGS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("-n", "--namespace"), "namespace (default: the context's, else \"default\")"),
    (("--context",), "kubeconfig context (default: the current one)"),
    (("--kubeconfig",), "kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)"),
)


def _age(created: str | None, now: datetime) -> str:
    if not created:
        return "-"
    seconds = int((now - datetime.fromisoformat(created.replace("Z", "+00:00"))).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def build_table(rollouts: list[dict[str, Any]], now: datetime,
                all_namespaces: bool = False) -> str:
    """The ``get`` table (with a NAMESPACE column first for ``-A``, as kubectl does)."""
    rows: list[tuple[str, ...]] = [("NAMESPACE", *COLUMNS) if all_namespaces else COLUMNS]
    for obj in rollouts:
        st = RolloutStatus.model_validate(obj.get("status") or {})
        r = st.routing
        row = (obj["metadata"]["name"], st.phase.value, st.step_label or "-",
               str(st.hybrid_percent), _label(st.stable_revision),
               _label(st.candidate_revision), f"g{r.generation} h{r.hybrid_high} l{r.legacy_low}",
               _age(obj["metadata"].get("creationTimestamp"), now), st.message)
        rows.append((obj["metadata"].get("namespace", ""), *row) if all_namespaces else row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1]
        for row in rows)


def _label(ref: RevisionRef | None) -> str:
    return ref.label.replace(" ", "") if ref else "-"


def build_detail(obj: dict[str, Any]) -> str:
    """One rollout: phase, routing, replicas, analysis counters, last failure."""
    st = RolloutStatus.model_validate(obj.get("status") or {})
    r = st.routing
    lines = [
        f"Name:      {obj['metadata']['namespace']}/{obj['metadata']['name']}",
        f"Phase:     {st.phase.value}  step {st.step_label}  hybrid {st.hybrid_percent}%",
        f"Routing:   generation {r.generation} mode {r.hybrid_mode.value} "
        f"hybrid [0,{r.hybrid_high}) legacy [{r.legacy_low},100)",
        f"Revisions: stable {_label(st.stable_revision)}  candidate "
        f"{_label(st.candidate_revision)}",
        f"Replicas:  stable {st.replicas.stable}  candidate {st.replicas.candidate}",
        f"Message:   {st.message}",
        "Analysis:  metric  pass/fail/held/inconclusive/error/n.a.  last",
    ]
    # "held": unmet during a gate's warm-up; "n.a.": not applicable (e.g. an idle account)
    lines += [f"  {m.name}  {m.passed}/{m.failed}/{m.held}/{m.inconclusive}/{m.errored}/"
              f"{m.not_applicable}  {_verdict_label(m.last_verdict)} {m.last_value or ''}"
              for m in st.analysis.metrics]
    if st.last_failure:
        f = st.last_failure
        lines.append(f"Failure:   {f.source} {f.name} = {f.value} → {f.action}: {f.message}")
    return "\n".join(lines)


def _verdict_label(verdict: Verdict | None) -> str:
    if verdict is None:
        return "-"
    return "not applicable" if verdict is Verdict.NOT_APPLICABLE else verdict.value


def build_history(obj: dict[str, Any]) -> str:
    """The ``history`` view: the revisions (image, how each walk ended), then one line per
    transition."""
    st = RolloutStatus.model_validate(obj.get("status") or {})
    lines = [f"revision {r.label:<20} {r.image:<40} "
             f"{r.outcome.value if r.outcome else 'walking':<11}"
             + (f" stable since {r.stable_since.isoformat()}" if r.stable_since else "")
             + (f" failed: {r.failure.name} = {r.failure.value}" if r.failure else "")
             for r in st.revisions]
    lines += [f"{h.at.isoformat()}  {h.phase.value:<12} "
              f"{'' if h.step_index is None else h.step_index:<3} {h.reason}"
              for h in st.history]
    return "\n".join(lines) or "no history yet"


async def undo(kube: Kube, ns: str, name: str, to_revision: int | None) -> str:
    """Make a recorded revision's pod inputs the spec again (replicas stay as they are):
    the operator then walks it like any change. Refused with the reason as text."""
    obj = await fetch_rollout(kube, ns, name)
    if obj is None:
        return f"error: rollout {ns}/{name} not found"
    status = RolloutStatus.model_validate(obj.get("status") or {})
    try:
        target = choose_undo_target(status, to_revision)
    except UndoRefused as exc:
        return f"error: {exc}"
    replicas = RolloutSpec.model_validate(obj["spec"]).workload.replicas
    workload = target.workload.model_copy(update={"replicas": replicas})
    await replace_rollout_workload(kube, ns, name, obj["metadata"]["resourceVersion"],
                                   workload.model_dump(by_alias=True, mode="json",
                                                       exclude_none=True))
    return f"undo: {ns}/{name} walks revision {target.label} ({target.image})"


def resolve_namespace(flag: str | None, context: dict[str, Any] | None) -> str:
    """kubectl's rule: ``-n``, else the kubeconfig context's namespace, else ``default``."""
    return flag or ((context or {}).get("context") or {}).get("namespace") or "default"


async def _run(args: argparse.Namespace) -> int:
    loader = await config.load_kube_config(config_file=args.kubeconfig, context=args.context)
    async with client.ApiClient() as api:
        kube = Kube.from_api_client(api)
        ns = resolve_namespace(args.namespace, loader.current_context)
        if args.command == "dashboard":
            await serve(kube, None if args.all_namespaces else ns, args.port)
            return 0
        if args.command == "get" and not args.name:
            while True:
                found = await list_rollouts(kube, None if args.all_namespaces else ns)
                print(build_table(found, datetime.now(UTC), args.all_namespaces), flush=True)
                if not args.watch:
                    return 0
                await asyncio.sleep(1)
                print()
        if args.command in ("get", "history"):
            while True:
                obj = await kube.custom.get_namespaced_custom_object(
                    "hybridstream.io", "v1alpha1", ns, "hybridstreamrollouts", args.name)
                print(build_detail(obj) if args.command == "get" else build_history(obj),
                      flush=True)
                if not getattr(args, "watch", False):
                    return 0
                await asyncio.sleep(1)
                print()
        if args.command == "undo":
            message = await undo(kube, ns, args.name, args.to_revision)
            print(message, file=sys.stderr if message.startswith("error") else sys.stdout)
            return 1 if message.startswith("error") else 0
        kind = IntentKind.PROMOTE_FULL if args.command == "promote" and args.full \
            else IntentKind(args.command)
        await send_intent(kube, ns, args.name, kind, args.reason)
        print(f"{kind.value} requested for {ns}/{args.name}")
        return 0


def _add_global_flags(parser: argparse.ArgumentParser, all_namespaces: bool) -> None:
    for names, text in _GLOBAL_FLAGS:
        parser.add_argument(*names, default=argparse.SUPPRESS, help=text)
    if all_namespaces:
        parser.add_argument("-A", "--all-namespaces", action="store_true",
                            default=argparse.SUPPRESS, help="list rollouts in every namespace")


def build_parser() -> argparse.ArgumentParser:
    """Sub-commands and flags of ``kubectl hsr``."""
    p = argparse.ArgumentParser(prog="kubectl hsr", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_global_flags(p, all_namespaces=True)
    sub = p.add_subparsers(dest="command", required=True)
    get = sub.add_parser("get", help="list rollouts or show one")
    _add_global_flags(get, all_namespaces=True)
    get.add_argument("name", nargs="?")
    get.add_argument("-w", "--watch", action="store_true", help="refresh every second")
    history = sub.add_parser("history", help="phase history")
    _add_global_flags(history, all_namespaces=False)
    history.add_argument("name")
    undo_cmd = sub.add_parser("undo", help="walk an earlier revision again")
    _add_global_flags(undo_cmd, all_namespaces=False)
    undo_cmd.add_argument("name")
    undo_cmd.add_argument("--to-revision", type=int, default=None,
                          help="revision number (kubectl hsr history NAME lists them)")
    dashboard = sub.add_parser("dashboard", help="serve a web UI on 127.0.0.1 (your "
                               "kubeconfig's access; nothing is exposed in the cluster)")
    _add_global_flags(dashboard, all_namespaces=True)
    dashboard.add_argument("--port", type=int, default=3100, help="0 picks a free port")
    for verb in ("promote", "pause", "resume", "abort", "retry"):
        cmd = sub.add_parser(verb, help=f"request {verb}")
        _add_global_flags(cmd, all_namespaces=False)
        cmd.add_argument("name")
        cmd.add_argument("--reason", default="")
        if verb == "promote":
            cmd.add_argument("--full", action="store_true", help="skip to production")
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, flags in any position, with every global flag set (None/False when
    absent). ``-A`` only lists: like kubectl, a named rollout is never looked up in every
    namespace, and intents name one rollout in one namespace."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for names, _ in _GLOBAL_FLAGS:
        dest = names[-1].lstrip("-")
        setattr(args, dest, getattr(args, dest, None))
    args.all_namespaces = getattr(args, "all_namespaces", False)
    if args.all_namespaces and (args.command not in ("get", "dashboard")
                                or getattr(args, "name", None)):
        parser.error("-A/--all-namespaces only lists rollouts (kubectl hsr get -A); "
                     "name one rollout with -n NAMESPACE")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``kubectl-hsr``."""
    args = parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except KeyboardInterrupt:
        return 130
    except ApiException as exc:
        print(f"error: {exc.status} {exc.reason}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
