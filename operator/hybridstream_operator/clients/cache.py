"""Watch-backed caches of what a pass reads besides the rollout itself: the rollouts'
Deployments, stream pods and routing ConfigMaps, label-scoped (only objects carrying the
rollout label) and kept as small projections. One list, then one watch, per resource and
served namespace (or one cluster-wide); a change that matters to a rollout wakes it, and a
pass reads memory instead of the API server (client-go's informer, in miniature).

The operator's own writes are recorded from the API's response at once (read your writes):
a pass right after a publish must see the new routing, or it would republish."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hybridstream.contract import CONFIGMAP_KEY, REVISION_LABEL, ROLLOUT_LABEL
from hybridstream.routing import RoutingDocument
from kubernetes_asyncio.client.exceptions import ApiException
from pydantic import ValidationError

from hybridstream_operator.clients.kube import Kube, parse_ack, pod_ready
from hybridstream_operator.logic.builders import routing_configmap_name
from hybridstream_operator.models.observations import Acks, DeploymentState

log = logging.getLogger(__name__)
#: Server-side watch timeout: the watch ends and resumes from its last version this often,
#: so a silently dead connection cannot freeze a cache.
WATCH_SECONDS = 240
RELIST_BACKOFF_CAP = 30.0

Wake = Callable[[str, str], None]


@dataclass(frozen=True)
class DeploymentInfo:
    """One of a rollout's Deployments: its owners' uids, the revision it runs (its label)
    and its counts."""

    owners: frozenset[str]
    revision: int | None
    state: DeploymentState


@dataclass(frozen=True)
class PodInfo:
    revision: int | None
    ready: bool
    ack: int


def _revision_of(labels: Mapping[str, str]) -> int | None:
    try:
        return int(labels[REVISION_LABEL])
    except (KeyError, ValueError):
        return None


def project_deployment(obj: Mapping[str, Any]) -> DeploymentInfo:
    meta, status = obj["metadata"], obj.get("status") or {}
    return DeploymentInfo(
        frozenset(ref["uid"] for ref in meta.get("ownerReferences") or []),
        _revision_of(meta.get("labels") or {}),
        DeploymentState(exists=True, desired=(obj.get("spec") or {}).get("replicas") or 0,
                        ready=status.get("readyReplicas") or 0,
                        available=status.get("availableReplicas") or 0))


def project_pod(obj: Mapping[str, Any]) -> PodInfo:
    meta = obj["metadata"]
    return PodInfo(_revision_of(meta.get("labels") or {}), pod_ready(obj),
                   parse_ack(meta.get("annotations")))


def project_routing(obj: Mapping[str, Any]) -> RoutingDocument | None:
    """The document of a routing ConfigMap (None: not ours, or not a valid document)."""
    meta = obj["metadata"]
    if meta["name"] != routing_configmap_name((meta.get("labels") or {})[ROLLOUT_LABEL]):
        return None
    try:
        return RoutingDocument.parse((obj.get("data") or {}).get(CONFIGMAP_KEY, ""))
    except (ValidationError, ValueError):
        log.warning("routing ConfigMap %s/%s is not a valid document", meta["namespace"],
                    meta["name"])
        return None


def _version(obj: Mapping[str, Any]) -> int:
    """The object's resourceVersion as a number (etcd's revision; -1 when opaque): a
    recorded write is never replaced by an older event still in flight on the watch."""
    try:
        return int(obj["metadata"]["resourceVersion"])
    except (KeyError, ValueError):
        return -1


@dataclass
class Informer:
    """One resource kind: a list, then watch events, into ``(namespace, rollout) -> name ->
    projection``; ``wake`` is called for a rollout whose projections changed."""

    kind: str
    list_call: Callable[..., Any]  # list_namespaced_x (namespace first) or ..._for_all_namespaces
    namespace: str | None
    project: Callable[[Mapping[str, Any]], Any]
    wake: Wake
    synced: asyncio.Event = field(default_factory=asyncio.Event)
    by_rollout: dict[tuple[str, str], dict[str, tuple[int, Any]]] = field(
        default_factory=lambda: defaultdict(dict))

    def items(self, namespace: str, rollout: str) -> dict[str, Any]:
        """``name -> projection`` of one rollout's objects."""
        return {name: view for name, (_, view) in
                self.by_rollout.get((namespace, rollout), {}).items()}

    def record(self, obj: Mapping[str, Any], deleted: bool = False) -> None:
        """Take one object's state (an event, or our own write's response)."""
        meta = obj["metadata"]
        rollout = (meta.get("labels") or {}).get(ROLLOUT_LABEL)
        if rollout is None:
            return
        key = (meta["namespace"], rollout)
        held = self.by_rollout[key].get(meta["name"])
        version = _version(obj)
        if held is not None and 0 <= version < held[0]:
            return  # older than what we hold (our write came back before its event)
        if deleted:
            self.by_rollout[key].pop(meta["name"], None)
            if not self.by_rollout[key]:
                del self.by_rollout[key]
        else:
            view = self.project(obj)
            self.by_rollout[key][meta["name"]] = (version, view)
            if held is not None and held[1] == view:
                return  # nothing a pass reads changed (a heartbeat, a label we ignore)
        self.wake(*key)

    async def _open(self, **kwargs: Any) -> Any:
        """The raw response of a list or watch (JSON parsed here: no model objects)."""
        args = (self.namespace,) if self.namespace else ()
        response = await self.list_call(*args, label_selector=ROLLOUT_LABEL,
                                        _preload_content=False, **kwargs)
        if response.status != 200:  # raw responses raise nothing themselves
            async with response:
                raise ApiException(status=response.status, reason=await response.text())
        return response

    async def _list(self) -> str:
        response = await self._open(_request_timeout=60)
        async with response:
            found = json.loads(await response.read())
        before = self.by_rollout
        self.by_rollout = defaultdict(dict)
        for obj in found["items"]:
            meta = obj["metadata"]
            rollout = (meta.get("labels") or {})[ROLLOUT_LABEL]
            self.by_rollout[meta["namespace"], rollout][meta["name"]] = (_version(obj),
                                                                         self.project(obj))
        # a relist after a gap: what changed meanwhile wakes its rollout
        for key in before.keys() | self.by_rollout.keys():
            if ({n: v for n, (_, v) in before.get(key, {}).items()}
                    != {n: v for n, (_, v) in self.by_rollout.get(key, {}).items()}):
                self.wake(*key)
        self.synced.set()
        return found["metadata"]["resourceVersion"]

    async def _watch(self, version: str) -> str | None:
        """Follow events from ``version`` until the server ends the watch; the version to
        resume from, or None when it expired (410: list again)."""
        try:
            response = await self._open(watch=True, resource_version=version,
                                        allow_watch_bookmarks=True,
                                        timeout_seconds=WATCH_SECONDS,
                                        _request_timeout=WATCH_SECONDS + 30)
        except ApiException as exc:
            if exc.status == 410:
                return None
            raise
        async with response:
            while line := await response.content.readline():
                event = json.loads(line)
                obj = event["object"]
                if event["type"] == "ERROR":
                    if obj.get("code") == 410:
                        return None
                    raise RuntimeError(f"watch of {self.kind}: {obj.get('message')}")
                version = obj["metadata"]["resourceVersion"]
                if event["type"] != "BOOKMARK":
                    self.record(obj, deleted=event["type"] == "DELETED")
        return version

    async def run(self) -> None:
        """List and watch until cancelled; any failure lists again after a backoff."""
        failures = 0
        while True:
            try:
                version: str | None = await self._list()
                failures = 0
                while version is not None:
                    version = await self._watch(version)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                log.warning("watch of %s failed (%s: %s); listing again", self.kind,
                            type(exc).__name__, exc)
                await asyncio.sleep(min(RELIST_BACKOFF_CAP, 2.0 ** failures))


@dataclass
class Caches:
    """The three caches of one operator process, over its served namespaces (None:
    cluster-wide)."""

    deployments: list[Informer]
    pods: list[Informer]
    routing: list[Informer]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def build(cls, kube: Kube, namespaces: list[str] | None, wake: Wake) -> Caches:
        def informers(kind: str, namespaced: Any, everywhere: Any,
                      project: Callable[[Mapping[str, Any]], Any]) -> list[Informer]:
            if not namespaces:
                return [Informer(kind, everywhere, None, project, wake)]
            return [Informer(kind, namespaced, ns, project, wake) for ns in namespaces]
        return cls(
            informers("deployments", kube.apps.list_namespaced_deployment,
                      kube.apps.list_deployment_for_all_namespaces, project_deployment),
            informers("pods", kube.core.list_namespaced_pod,
                      kube.core.list_pod_for_all_namespaces, project_pod),
            informers("configmaps", kube.core.list_namespaced_config_map,
                      kube.core.list_config_map_for_all_namespaces, project_routing))

    @property
    def _all(self) -> list[Informer]:
        return [*self.deployments, *self.pods, *self.routing]

    def start(self) -> None:
        self.tasks = [asyncio.create_task(i.run(), name=f"watch {i.kind} {i.namespace or '*'}")
                      for i in self._all]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait_synced(self) -> None:
        """Until every cache has listed once (a pass before that would see nothing)."""
        for informer in self._all:
            await informer.synced.wait()

    @staticmethod
    def _serving(informers: list[Informer], namespace: str) -> Informer:
        return next(i for i in informers if i.namespace in (None, namespace))

    def record(self, kind: str, obj: Mapping[str, Any]) -> None:
        """Our own write of a watched object, from the API's response."""
        informers = {"Deployment": self.deployments, "ConfigMap": self.routing}.get(kind)
        if informers is not None:
            self._serving(informers, obj["metadata"]["namespace"]).record(obj)

    def deployments_of(self, namespace: str, rollout: str,
                       uid: str) -> dict[str, DeploymentInfo]:
        """Every Deployment the rollout owns, by name; one merely labelled like ours is
        not ours."""
        found = self._serving(self.deployments, namespace).items(namespace, rollout)
        return {name: info for name, info in found.items() if uid in info.owners}

    def acks(self, namespace: str, rollout: str, revision: int | None) -> Acks:
        """Acks of the Ready, non-terminating pods of one revision."""
        if revision is None:
            return Acks()
        pods = self._serving(self.pods, namespace).items(namespace, rollout).values()
        return Acks(tuple(p.ack for p in pods if p.ready and p.revision == revision))

    def routing_of(self, namespace: str, rollout: str) -> RoutingDocument | None:
        """The published routing document, or None when missing or invalid."""
        found = self._serving(self.routing, namespace).items(namespace, rollout)
        return found.get(routing_configmap_name(rollout))
