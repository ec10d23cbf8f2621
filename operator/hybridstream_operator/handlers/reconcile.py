"""One reconcile pass of one rollout (argo-rollouts' ``rolloutContext`` in Python): read the
object fresh, gather observations (from the watch-backed caches), ``decide``, apply the
actions idempotently, persist the status once, and say when the next pass is due. Every
step is safe to repeat, so an operator killed anywhere in here resumes from the last
persisted status without skipping or doubling a step."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp
from kubernetes_asyncio.client.exceptions import ApiException
from pydantic import ValidationError

from hybridstream_operator.clients.cache import Caches
from hybridstream_operator.clients.kube import (
    Kube,
    NotOwned,
    SecretUnavailable,
    apply_event,
    delete_deployment,
    fetch_rollout,
    patch_rollout_annotations,
    patch_rollout_conditions,
    patch_rollout_status,
    read_secret_key,
    scale_deployment,
    write_manifest,
)
from hybridstream_operator.clients.prometheus import authorization, fetch_samples
from hybridstream_operator.handlers import observability
from hybridstream_operator.logic.builders import (
    Owner,
    build_deployment,
    build_routing_configmap,
    build_static_resources,
    plan_retirements,
    revision_deployment_name,
)
from hybridstream_operator.logic.conditions import RECONCILED, redact, set_condition
from hybridstream_operator.logic.intents import (
    build_alert_cleanup,
    parse_alerts,
    parse_intent,
    pending_request,
)
from hybridstream_operator.logic.phase_machine import Decision, decide
from hybridstream_operator.logic.queries import build_queries
from hybridstream_operator.logic.revisions import find_record, observed_sides
from hybridstream_operator.logic.steps import assess_analysis_due, data_start, measured_metrics
from hybridstream_operator.models.actions import EmitEvent, PublishRouting
from hybridstream_operator.models.base import parse_duration
from hybridstream_operator.models.observations import DeploymentState, Observations, Sample
from hybridstream_operator.models.spec import Prometheus, RolloutSpec
from hybridstream_operator.models.status import RolloutStatus

log = logging.getLogger(__name__)
T = TypeVar("T")
#: While an analysis query runs longer than this, the rollout is re-read for an intent.
INTERRUPT_POLL = 1.0
#: Status writes of one pass that lost only to changes it does not read (then it decides again).
STATUS_WRITE_ATTEMPTS = 3


class Wakeups:
    """Per-rollout wake-ups: the rollout's loop runs its next pass now instead of when due.
    ``wake``: the rollout object changed (a new spec, an intent or alert in kopf's watch,
    the webhook's write), so the pass reads it again. ``nudge``: something it depends on
    changed (the caches' Deployments, pods, routing), so the object the last pass ended
    with is still the one stored."""

    def __init__(self) -> None:
        self._events: dict[tuple[str, str], asyncio.Event] = defaultdict(asyncio.Event)
        self._changed: set[tuple[str, str]] = set()

    def wake(self, namespace: str, name: str) -> None:
        """The rollout changed: its loop runs its next pass now, on the object read again."""
        self._changed.add((namespace, name))
        self._events[namespace, name].set()

    def nudge(self, namespace: str, name: str) -> None:
        """Something the rollout depends on changed: its loop runs its next pass now."""
        self._events[namespace, name].set()

    def is_woken(self, namespace: str, name: str) -> bool:
        """Whether a wake-up or nudge is waiting for the rollout's loop."""
        return self._events[namespace, name].is_set()

    async def wait(self, namespace: str, name: str, seconds: float) -> bool:
        """Sleep up to ``seconds`` or until woken or nudged; whether the next pass must read
        the rollout again: it was woken, or a timer ran out (timers and the resync read it
        fresh). A pass at once or on a nudge may decide from the object the last pass
        ended with."""
        key = (namespace, name)
        event = self._events[key]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)
        nudged = event.is_set()
        event.clear()
        woken = key in self._changed
        self._changed.discard(key)
        return woken or not (nudged or seconds <= 0)


@dataclass
class Runtime:
    """Long-lived clients and caches of one operator process."""

    kube: Kube
    http: aiohttp.ClientSession
    caches: Caches
    wakeups: Wakeups
    prometheus_gate: asyncio.Semaphore
    resync: float = 30.0  # OperatorSettings.reconcile_interval
    ack_role: str = "hybridstream-stream-ack"  # OperatorSettings.stream_ack_role

    @classmethod
    def create(cls, kube: Kube, http: aiohttp.ClientSession, namespaces: list[str] | None,
               *, prometheus_concurrency: int = 16, **settings: Any) -> Runtime:
        """A runtime over ``namespaces`` (None: cluster-wide) whose caches wake the rollout
        a watched change concerns (the caches start with ``caches.start()``)."""
        wakeups = Wakeups()
        return cls(kube, http, Caches.build(kube, namespaces, wakeups.nudge), wakeups,
                   asyncio.Semaphore(prometheus_concurrency), **settings)


async def fetch_unless_interrupted(rt: Runtime, namespace: str, name: str,
                                   status: RolloutStatus,
                                   work: Coroutine[Any, Any, T]) -> T | None:
    """``work``'s result, or None (``work`` cancelled) as soon as the rollout is woken (an
    alert, the emergency endpoint) or an intent appears on it (``kubectl hsr abort``): a
    slow Prometheus never delays them. Polls the object only while ``work`` is slow."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=INTERRUPT_POLL)
            if done:
                return task.result()
            if rt.wakeups.is_woken(namespace, name):
                return None
            obj = await fetch_rollout(rt.kube, namespace, name)
            if obj is None or pending_request(obj["metadata"].get("annotations") or {},
                                              status):
                return None
    finally:
        task.cancel()


async def prometheus_headers(kube: Kube, namespace: str, prom: Prometheus) -> dict[str, str]:
    """The Authorization header from the Secrets the spec references, read every pass so a
    rotated credential is used at once."""
    if prom.basic_auth:
        username = prom.basic_auth.username
        user, password = await asyncio.gather(
            read_secret_key(kube, namespace, username),
            read_secret_key(kube, namespace, prom.basic_auth.password))
        if ":" in user:  # RFC 7617: it would shift the password's first characters
            raise SecretUnavailable(f"Secret {username.name!r} key {username.key!r}: a "
                                    "basic-auth username cannot contain ':'")
        return authorization((user, password), None)
    if prom.bearer_token_secret:
        return authorization(None, await read_secret_key(kube, namespace,
                                                         prom.bearer_token_secret))
    return {}


async def measure(rt: Runtime, ns: str, name: str, spec: RolloutSpec, status: RolloutStatus,
                  *, now: datetime) -> tuple[Sample, ...] | None:
    """This pass's samples (None: interrupted); unreadable credentials are every metric's
    error, so they count as inconclusive and say why in status."""
    queries = build_queries(spec.analysis, measured_metrics(spec, status), ns, name,
                            start=data_start(status), now=now, revisions=observed_sides(status))
    prom = spec.analysis.prometheus
    try:
        headers = await prometheus_headers(rt.kube, ns, prom)
    except SecretUnavailable as exc:
        return tuple(Sample(metric, error=str(exc)) for metric in queries)
    timeout = parse_duration(prom.timeout).total_seconds()

    async def gated() -> tuple[Sample, ...]:
        # one Prometheus shared by every rollout: a bounded number of passes query at once
        async with rt.prometheus_gate:
            return await fetch_samples(rt.http, prom.address, queries, timeout, headers=headers)
    return await fetch_unless_interrupted(rt, ns, name, status, gated())


async def gather_observations(rt: Runtime, obj: dict[str, Any], spec: RolloutSpec,
                              status: RolloutStatus, now: datetime) -> Observations:
    """Everything ``decide`` needs: the caches' Deployments, acks and routing, and the
    samples when analysis is due (not in a pass that has an intent or alert to act on: it
    acts first)."""
    ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
    annotations = obj["metadata"].get("annotations") or {}
    samples = None
    if assess_analysis_due(spec, status, now) and not pending_request(annotations, status):
        samples = await measure(rt, ns, name, spec, status, now=now)
    stable, candidate = observed_sides(status)
    caches = rt.caches
    deployments = caches.deployments_of(ns, name, obj["metadata"]["uid"])

    def state(revision: int | None) -> DeploymentState:
        info = None if revision is None else deployments.get(
            revision_deployment_name(name, revision))
        return info.state if info else DeploymentState()
    return Observations(rollout=name, legacy=state(stable), hybrid=state(candidate),
                        legacy_acks=caches.acks(ns, name, stable),
                        hybrid_acks=caches.acks(ns, name, candidate),
                        published=caches.routing_of(ns, name), samples=samples,
                        intent=parse_intent(annotations), alerts=parse_alerts(annotations),
                        deployments={n: (i.revision, i.state.desired)
                                     for n, i in deployments.items()})


async def apply_decision(rt: Runtime, obj: dict[str, Any], spec: RolloutSpec,
                         obs: Observations, decision: Decision, *,
                         prior: RolloutStatus) -> None:
    """Publish routing in order, converge the Deployments (and the other objects, whenever
    the spec, a replica count or the routing changed: a new stable revision moves the
    stable Service the document names). An object the caches or the status say cannot
    exist yet is created in one request (a thousand new rollouts make ≈ 9 objects each:
    a read before each write would double adoption's requests)."""
    meta = obj["metadata"]
    owner = Owner(meta["name"], meta["namespace"], meta["uid"])
    status = decision.status
    published = False
    for action in decision.actions:
        if isinstance(action, PublishRouting):
            routing = build_routing_configmap(owner, action.document)
            rt.caches.record("ConfigMap", await write_manifest(
                rt.kube, routing, create=obs.published is None))
            published = True
    stable, candidate = observed_sides(status)
    wanted = {stable: status.replicas.stable}
    if candidate is not None:
        wanted[candidate] = status.replicas.candidate
    names = {revision_deployment_name(owner.name, r): r for r in wanted}
    stale = (published or status.observed_generation != meta.get("generation")
             or any(obs.deployments.get(n, (None, -1))[1] != wanted[r]
                    for n, r in names.items()))
    if stale:
        records = {r: find_record(status, r) for r in wanted}
        running = {r: record.workload for r, record in records.items() if record}
        assert len(running) == len(wanted)  # stable and candidate are never trimmed
        manifests = build_static_resources(spec, owner, rt.ack_role, running,
                                           replicas=wanted, stable=stable)
        for revision, replicas in wanted.items():
            manifests.append(build_deployment(running[revision], owner, revision, replicas))
        never_reconciled = prior.observed_generation is None
        for manifest in manifests:  # only when something changed: the reads are rare
            name = manifest["metadata"]["name"]
            create = (name not in obs.deployments if manifest["kind"] == "Deployment"
                      else never_reconciled)
            rt.caches.record(manifest["kind"], await write_manifest(rt.kube, manifest,
                                                                    create=create))
    # Retire only revisions the status already written puts on neither side: the pass that
    # makes a candidate stable scales the old stable down on the next pass, once the swap
    # is durable. Killed before its status write, an operator would otherwise republish a
    # document naming a stable revision it had just left without pods.
    keep = set(names) | {revision_deployment_name(owner.name, r)
                         for r in observed_sides(prior) if r is not None}
    idle = {n: found for n, found in obs.deployments.items() if n not in keep}
    to_zero, to_delete = plan_retirements(idle, {r.number for r in status.revisions})
    for name in to_zero:
        rt.caches.record("Deployment", await scale_deployment(rt.kube, owner.namespace, name, 0))
    for name in to_delete:
        await delete_deployment(rt.kube, owner.namespace, name)


async def post_events(rt: Runtime, obj: dict[str, Any], decision: Decision) -> None:
    """The decision's Events, once its status is persisted: a pass whose status write lost
    a conflict decides again, and its Events must not be posted twice."""
    for action in decision.actions:
        if isinstance(action, EmitEvent):
            await apply_event(rt.kube, obj, action.type.value, action.reason, action.message)


def decision_inputs(obj: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a pass decides from on the rollout object itself: its spec (and generation),
    status, annotations (intents, alerts) and deletion; not its finalizers, labels or
    managed fields."""
    meta = obj["metadata"]
    return (meta.get("generation"), obj.get("spec"), obj.get("status"),
            meta.get("annotations"), meta.get("deletionTimestamp"))


async def write_status(kube: Kube, obj: dict[str, Any],
                       status: dict[str, Any]) -> dict[str, Any] | None:
    """Persist ``status``, decided from ``obj``, only if nobody changed what it was decided
    from; the rollout as stored after (None: the next pass decides again from the fresh
    object). A write that lost to a change of nothing it was decided from is made again on
    the fresh version: kopf adds its finalizer while a new rollout's first pass runs, and
    deciding that pass again would write every object it had just made a second time (four
    requests each)."""
    meta = obj["metadata"]
    namespace, name, version = meta["namespace"], meta["name"], meta["resourceVersion"]
    for _ in range(STATUS_WRITE_ATTEMPTS):
        if (stored := await patch_rollout_status(kube, namespace, name, version,
                                                 status)) is not None:
            return stored
        fresh = await fetch_rollout(kube, namespace, name)
        if fresh is None or decision_inputs(fresh) != decision_inputs(obj):
            return None
        version = fresh["metadata"]["resourceVersion"]
    return None


async def reconcile_rollout(rt: Runtime, namespace: str, name: str,
                            known: dict[str, Any] | None = None
                            ) -> tuple[float, dict[str, Any] | None]:
    """One full pass, on ``known`` (the object the last pass ended with, still the one
    stored) or the rollout read now. Returns the seconds until the next pass is due: at
    once when this pass changed the status (the machine may have more to do with what it
    decided), else when its next timer falls due, at most ``rt.resync`` (watched changes,
    intents and alerts wake it sooner); and the object as stored after it (None when this
    pass cannot know it). Raises on API errors (the caller counts and retries with
    backoff)."""
    started = time.monotonic()
    obj = known or await fetch_rollout(rt.kube, namespace, name)
    if obj is None or obj["metadata"].get("deletionTimestamp"):
        return rt.resync, None
    spec = RolloutSpec.model_validate(obj["spec"])
    status = RolloutStatus.model_validate(obj.get("status") or {})
    now = datetime.now(UTC)
    obs = await gather_observations(rt, obj, spec, status, now)
    decision = decide(spec, status, obs, now)
    await apply_decision(rt, obj, spec, obs, decision, prior=status)
    new_status = decision.status
    new_status.observed_generation = obj["metadata"].get("generation")
    new_status.conditions = set_condition(new_status.conditions, True, RECONCILED, "", now)
    body = new_status.model_dump(by_alias=True, mode="json")
    # Unchanged (nothing due, nothing observed moved): no write, and no new resourceVersion
    # for every watcher of the rollout to receive.
    changed = body != status.model_dump(by_alias=True, mode="json")
    stored = await write_status(rt.kube, obj, body) if changed else obj
    if stored is not None and ((new_status.phase, new_status.step_index)
                               != (status.phase, status.step_index)):
        log.info("%s/%s: %s → %s %s (%s)", namespace, name, status.phase.value,
                 new_status.phase.value, new_status.step_label, new_status.message)
    if stored is not None:
        await post_events(rt, obj, decision)
        observability.record_pass(namespace, name, status, new_status, decision.verdicts)
        # handled alerts are in status now: their annotations can go
        cleanup = build_alert_cleanup(obj["metadata"].get("annotations") or {},
                                      new_status.handled_alerts)
        if cleanup:
            await patch_rollout_annotations(rt.kube, namespace, name, cleanup)
            stored = None  # changed again: read it
    else:
        observability.STATUS_CONFLICTS.labels(namespace, name).inc()
    observability.RECONCILE_SECONDS.observe(time.monotonic() - started)
    if changed:  # written, or lost a conflict: re-decide from the fresh object right away
        return 0.0, stored
    if decision.next_at is None:
        return rt.resync, stored
    return min(rt.resync, max(0.0, (decision.next_at - datetime.now(UTC)).total_seconds())), stored


def describe_failure(exc: BaseException) -> tuple[str, str]:
    """A failed pass as a condition's ``(reason, message)``: short, secret-free."""
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False))
        return "InvalidSpec", redact(f"spec: {problems}")
    if isinstance(exc, NotOwned):
        return "NotOwned", redact(str(exc))
    if isinstance(exc, ApiException):
        try:
            detail = json.loads(exc.body or "{}").get("message", "")
        except ValueError:
            detail = ""
        return "APIError", redact(f"{exc.status} {exc.reason}: {detail}".strip())
    return "InternalError", redact(f"{type(exc).__name__}: {exc}")


async def record_failure(rt: Runtime, namespace: str, name: str, reason: str,
                         message: str) -> None:
    """Best effort: ``Reconciled=False`` with why, written only when it changed."""
    obj = await fetch_rollout(rt.kube, namespace, name)
    if obj is None:
        return
    status = RolloutStatus.model_validate(obj.get("status") or {})
    conditions = set_condition(status.conditions, False, reason, message, datetime.now(UTC))
    if conditions is status.conditions:
        return
    body = [c.model_dump(by_alias=True, mode="json") for c in conditions]
    await patch_rollout_conditions(rt.kube, namespace, name, body)
