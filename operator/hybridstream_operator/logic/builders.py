"""Pure builders of every Kubernetes object a rollout owns (crate-operator's ``get_*``
split): a Deployment per revision (``<name>-legacy`` for the REST poller, revision 0;
``<name>-hybrid-<N>`` for hybrid revision N), the stable revision's Service
(``<name>-stable``: a candidate in Parallel reads stable's prices there), a
PodDisruptionBudget per side that runs more than one pod, the routing ConfigMap, and the
ServiceAccount/Role/RoleBindings the stream pods need to watch routing and acknowledge it
on their own Pod."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hybridstream.contract import (
    API_GROUP,
    CONFIGMAP_KEY,
    REVISION_LABEL,
    ROLE_LABEL,
    ROLLOUT_LABEL,
    Env,
)
from hybridstream.routing import Mode, Role, RoutingDocument

from hybridstream_operator.models.spec import API_VERSION, KIND, RolloutSpec, Workload

Manifest = dict[str, Any]
RUN_AS_USER = 10001


@dataclass(frozen=True)
class Owner:
    """The rollout that owns (and garbage-collects) every built object."""

    name: str
    namespace: str
    uid: str

    def reference(self) -> dict[str, Any]:
        """The controller ownerReference (garbage collection)."""
        return {"apiVersion": f"{API_GROUP}/{API_VERSION}", "kind": KIND, "name": self.name,
                "uid": self.uid, "controller": True, "blockOwnerDeletion": True}


#: Where a stream pod keeps events its sink has not taken (docs/delivery.md): its own
#: emptyDir, so that a full spill cannot starve /tmp. An emptyDir outlives container
#: restarts, not the pod: a pod that is replaced drains first (terminationGracePeriod).
SPILL_PATH = "/var/lib/hybridstream/spill"
SPILL_MAX_BYTES = 128 * 1024 * 1024
#: the bound plus headroom for what a shutdown persists beyond it (the memory queue):
#: the kubelet evicts a pod whose emptyDir exceeds its sizeLimit
SPILL_SIZE_LIMIT = "192Mi"
#: SIGTERM: producers stop, delivery goes on for DRAIN_SECONDS, an attempt under way gets
#: the stream's SEND_GRACE (10 s) more, then what is left is written to the spill; the
#: grace period covers all of it, with 5 s to persist and close.
DRAIN_SECONDS = 15
TERMINATION_GRACE_SECONDS = DRAIN_SECONDS + 10 + 5


def deployment_name(rollout: str, role: Role) -> str:
    """``<rollout>-legacy`` / ``<rollout>-hybrid``: per-role objects (PDBs)."""
    return f"{rollout}-{role.value}"


def revision_role(number: int) -> Role:
    """Revision 0 is the legacy REST poller; every other one runs the hybrid stream."""
    return Role.LEGACY if number == 0 else Role.HYBRID


def revision_deployment_name(rollout: str, number: int) -> str:
    """``<rollout>-legacy`` for revision 0, ``<rollout>-hybrid-<N>`` for hybrid revision N."""
    role = revision_role(number)
    return deployment_name(rollout, role) + (f"-{number}" if role is Role.HYBRID else "")


def build_revision_selector(rollout: str, number: int) -> dict[str, str]:
    """The label selector of one revision's pods."""
    return {**build_selector(rollout, revision_role(number)), REVISION_LABEL: str(number)}


def plan_retirements(idle: dict[str, tuple[int | None, int]],
                     remembered: set[int]) -> tuple[list[str], list[str]]:
    """What to do with the Deployments of revisions on neither side (name -> (revision
    label, None when unlabelled; desired replicas)): ``(scale to zero, delete)``. A
    remembered revision keeps its Deployment at zero (Argo's old ReplicaSets: ``undo`` and a
    post-mortem find it); a forgotten one goes."""
    return ([n for n, (rev, desired) in idle.items() if rev in remembered and desired],
            [n for n, (rev, _) in idle.items() if rev not in remembered])


def stable_service_name(rollout: str) -> str:
    """``<rollout>-stable``: the stable revision's pods, whichever revision that is."""
    return f"{rollout}-stable"


def stable_status_endpoint(rollout: str, port: int) -> str:
    """The routing document's ``stableStatus``: stable's Service and status port. The name
    is namespace-relative: the candidate's pods are in the rollout's namespace, and their
    DNS search path completes it."""
    return f"{stable_service_name(rollout)}:{port}"


def routing_configmap_name(rollout: str) -> str:
    """``<rollout>-routing`` (docs/CONTRACTS.md)."""
    return f"{rollout}-routing"


def service_account_name(rollout: str) -> str:
    """The stream pods' ServiceAccount (and Role, RoleBinding)."""
    return f"{rollout}-stream"


def build_labels(rollout: str, role: Role | None = None) -> dict[str, str]:
    """Labels on everything a rollout owns."""
    labels = {"app.kubernetes.io/name": "hybridstream", "app.kubernetes.io/instance": rollout,
              "app.kubernetes.io/managed-by": "hybridstream-operator",
              ROLLOUT_LABEL: rollout}
    if role is not None:
        labels[ROLE_LABEL] = role.value
    return labels


def build_selector(rollout: str, role: Role) -> dict[str, str]:
    """The label selector of one role's pods."""
    return {ROLLOUT_LABEL: rollout, ROLE_LABEL: role.value}


def _metadata(owner: Owner, name: str, role: Role | None = None) -> dict[str, Any]:
    return {"name": name, "namespace": owner.namespace, "labels": build_labels(owner.name, role),
            "ownerReferences": [owner.reference()]}


def _env(w: Workload, owner: Owner, revision: int) -> list[dict[str, Any]]:
    role = revision_role(revision)
    secret = w.credentials_secret

    def from_secret(var: str, key: str) -> dict[str, Any]:
        return {"name": var, "valueFrom": {"secretKeyRef": {"name": secret.name, "key": key}}}

    def from_field(var: str, path: str) -> dict[str, Any]:
        return {"name": var, "valueFrom": {"fieldRef": {"fieldPath": path}}}

    env = [
        {"name": Env.MODE, "value": (Mode.REST if role is Role.LEGACY else Mode.CANARY).value},
        from_secret(Env.API_KEY, secret.api_key_key),
        from_secret(Env.API_SECRET, secret.api_secret_key),
        {"name": Env.NETWORK, "value": w.network.value},
        {"name": Env.SINK, "value": w.sink.type.value},
        {"name": Env.ROUTING_CONFIGMAP, "value": routing_configmap_name(owner.name)},
        {"name": Env.ROLLOUT, "value": owner.name},  # scope label of every metric
        {"name": Env.REVISION, "value": str(revision)},  # the routing names its side
        from_field(Env.POD_NAME, "metadata.name"),
        from_field(Env.POD_NAMESPACE, "metadata.namespace"),
        {"name": Env.HTTP_PORT, "value": str(w.metrics_port)},
        {"name": Env.SPILL_DIR, "value": SPILL_PATH},
        {"name": Env.SPILL_MAX_BYTES, "value": str(SPILL_MAX_BYTES)},
        {"name": Env.DRAIN_TIMEOUT, "value": str(DRAIN_SECONDS)},
    ]
    if w.status_token_secret:
        ref = w.status_token_secret
        env.append({"name": Env.STATUS_TOKEN,
                    "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}})
    if w.sink.url_secret:  # by reference: the URL may carry a password
        ref = w.sink.url_secret
        env.append({"name": Env.SINK_URL,
                    "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}})
    elif w.sink.url:
        env.append({"name": Env.SINK_URL, "value": w.sink.url})
    return env + [{"name": e.name, "value": e.value} for e in w.env]


def build_deployment(w: Workload, owner: Owner, revision: int, replicas: int) -> Manifest:
    """Revision ``revision``'s Deployment: the legacy poller (``HYBRID_MODE=rest``) or a
    hybrid revision (``canary``, switched live by routing), hardened: non-root, read-only
    root filesystem, no capabilities."""
    port = w.metrics_port
    role = revision_role(revision)
    container = {
        "name": "stream",
        "image": w.image,
        "imagePullPolicy": w.image_pull_policy,
        "args": ["run"],
        "env": _env(w, owner, revision),
        "ports": [{"name": "http", "containerPort": port}],
        "resources": {"requests": dict(w.resources.requests), "limits": dict(w.resources.limits)},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                          "periodSeconds": 10, "failureThreshold": 6},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True, "runAsUser": RUN_AS_USER,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"},
                         {"name": "spill", "mountPath": SPILL_PATH}],
    }
    labels = {**build_labels(owner.name, role), REVISION_LABEL: str(revision)}
    metadata = _metadata(owner, revision_deployment_name(owner.name, revision), role)
    metadata["labels"][REVISION_LABEL] = str(revision)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": build_revision_selector(owner.name, revision)},
            # a new pod must be ready before an old one goes: keep the healthy copy
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": labels, "annotations": {
                    "prometheus.io/scrape": "true", "prometheus.io/port": str(port)}},
                "spec": {
                    "serviceAccountName": service_account_name(owner.name),
                    "automountServiceAccountToken": True,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": RUN_AS_USER,
                                        "fsGroup": RUN_AS_USER,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                    # one node lost must not take every pod of a side (soft: a one-node
                    # cluster still schedules them)
                    "affinity": {"podAntiAffinity": {
                        "preferredDuringSchedulingIgnoredDuringExecution": [{
                            "weight": 100, "podAffinityTerm": {
                                "labelSelector": {
                                    "matchLabels": build_selector(owner.name, role)},
                                "topologyKey": "kubernetes.io/hostname"}}]}},
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {}},
                                {"name": "spill",
                                 "emptyDir": {"sizeLimit": SPILL_SIZE_LIMIT}}],
                },
            },
        },
    }


def build_disruption_budgets(owner: Owner, replicas: Mapping[int, int]) -> list[Manifest]:
    """A voluntary disruption (node drain) takes at most one pod of a side at a time: with
    two or more replicas a side always keeps a forwarder. ``replicas``: the pods each
    running revision should have. A side (its revisions together) that runs one pod gets
    none: ``maxUnavailable: 1`` over one pod never refuses an eviction, and at a thousand
    rollouts the budgets and the disruption controller's status writes are load for nothing.
    A budget made when a side had more pods stays when it has fewer: it is still right."""
    pods = Counter[Role]()
    for revision, count in replicas.items():
        pods[revision_role(revision)] += count
    return [{
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": _metadata(owner, deployment_name(owner.name, role), role),
        "spec": {"selector": {"matchLabels": build_selector(owner.name, role)},
                 "maxUnavailable": 1},
    } for role in Role if pods[role] > 1]


def build_stable_service(owner: Owner, revision: int, port: int) -> Manifest:
    """A headless Service resolving to the stable revision's Ready pods (the legacy poller
    in the first walk, a hybrid revision later): the routing document's ``stableStatus``.
    Selected by revision, not role; it follows stable when a walk completes."""
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": _metadata(owner, stable_service_name(owner.name)),
        "spec": {"clusterIP": "None",
                 "selector": {ROLLOUT_LABEL: owner.name, REVISION_LABEL: str(revision)},
                 "ports": [{"name": "http", "port": port, "targetPort": "http"}]},
    }


def build_routing_configmap(owner: Owner, document: RoutingDocument) -> Manifest:
    """The routing ConfigMap holding ``document``."""
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": _metadata(owner, routing_configmap_name(owner.name)),
        "data": {CONFIGMAP_KEY: document.to_json()},
    }


def build_rbac(owner: Owner, ack_role: str) -> list[Manifest]:
    """ServiceAccount, Role and RoleBindings for the stream pods: watch the one routing
    ConfigMap (Role), and write the ack annotation on their own Pod through the chart's
    ClusterRole ``ack_role`` (pods get/patch), which its ValidatingAdmissionPolicy narrows to
    the pod named in the caller's token and to the ack annotation alone. Binding a
    ClusterRole needs only ``bind`` on it: the operator itself never holds pods patch."""
    name = service_account_name(owner.name)
    subjects = [{"kind": "ServiceAccount", "name": name, "namespace": owner.namespace}]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(owner, name)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": _metadata(owner, name),
         "rules": [
             # resourceNames restricts list/watch only with a metadata.name field selector,
             # which is how the stream watches it (kubernetes/kubernetes#80295).
             {"apiGroups": [""], "resources": ["configmaps"],
              "resourceNames": [routing_configmap_name(owner.name)],
              "verbs": ["get", "list", "watch"]},
         ]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": _metadata(owner, name),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
         "subjects": subjects},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": _metadata(owner, f"{name}-ack"),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": ack_role},
         "subjects": subjects},
    ]


def build_network_policy(spec: RolloutSpec, owner: Owner, ports: list[int]) -> Manifest:
    """Ingress to the rollout's stream pods: their metrics/status ports only (one per
    running revision: a new revision may change it), from the rollout's own namespace (a
    candidate reads stable's status there) and ``networkPolicy.fromNamespaces``. Egress is
    left open: the pods dial the exchange and the API server."""
    peers: list[dict[str, Any]] = [{"podSelector": {}}]  # this namespace
    peers += [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}
              for ns in spec.workload.network_policy.from_namespaces]
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": _metadata(owner, f"{owner.name}-stream"),
        "spec": {"podSelector": {"matchLabels": {ROLLOUT_LABEL: owner.name}},
                 "policyTypes": ["Ingress"],
                 "ingress": [{"from": peers,
                              "ports": [{"port": port, "protocol": "TCP"} for port in ports]}]},
    }


def build_static_resources(spec: RolloutSpec, owner: Owner, ack_role: str,
                           running: Mapping[int, Workload], *,
                           replicas: Mapping[int, int], stable: int) -> list[Manifest]:
    """Everything but the Deployments and the routing ConfigMap; ``running``: the
    workload of each revision that runs (stable's and the candidate's), ``replicas``: the
    pods each should have."""
    ports = sorted({w.metrics_port for w in running.values()})
    policy = ([build_network_policy(spec, owner, ports)]
              if spec.workload.network_policy.enabled else [])
    return [*build_rbac(owner, ack_role), *build_disruption_budgets(owner, replicas),
            build_stable_service(owner, stable, running[stable].metrics_port), *policy]
