{{/* RBAC rules of the operator, shared by the namespaced and the cluster-wide variants.
     Least privilege: no wildcards; no secrets but the Prometheus credentials listed by name
     (the stream's credentials Secret is only referenced by name in the Deployments the
     operator builds; the kubelet reads it). */}}

{{/* Rules needed in every namespace the operator serves. */}}
{{- define "hybridstream.namespacedRules" -}}
# The custom resource: kopf watches it and writes finalizers and progress annotations with
# merge patches; the operator patches status and intent/alert annotations (never update).
- apiGroups: [hybridstream.io]
  resources: [hybridstreamrollouts]
  verbs: [get, list, watch, patch]
- apiGroups: [hybridstream.io]
  resources: [hybridstreamrollouts/status]
  verbs: [get, patch]
# Owned objects carry ownerReferences with blockOwnerDeletion: clusters running the
# OwnerReferencesPermissionEnforcement admission plugin require update on the owner's
# finalizers for that.
- apiGroups: [hybridstream.io]
  resources: [hybridstreamrollouts/finalizers]
  verbs: [update]
# Events about phase changes, analysis failures and rollbacks (core/v1, kopf's too).
- apiGroups: [""]
  resources: [events]
  verbs: [create]
# What the operator builds per rollout with server-side apply (create on first apply, patch
# after): a Deployment per revision, the routing ConfigMap, the metrics Services, and the
# stream pods' ServiceAccount, Role and RoleBinding. ownerReferences let the garbage
# collector remove them with the rollout; the one deletion by hand is the Deployment of a
# revision that fell out of status.revisions (deployments delete).
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [configmaps, services, serviceaccounts]
  verbs: [get, list, watch, create, patch]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [get, list, watch, create, patch]
# One PodDisruptionBudget per side of two or more pods: a node drain takes one at a time.
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch]
# One NetworkPolicy per rollout: ingress to the stream pods' metrics/status port only.
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch, create, patch]
# Routing acknowledgements and readiness are on the stream pods: read only, through a
# label-scoped list and watch (the operator's cache; so are Deployments and ConfigMaps,
# above). The stream pods' own Role (configmaps get/list/watch on their routing ConfigMap)
# needs those verbs held (RBAC escalation check); their ack right comes from binding the
# chart's stream-ack ClusterRole, which needs `bind` on that one ClusterRole, not pods patch.
# https://kubernetes.io/docs/reference/access-authn-authz/rbac/#privilege-escalation-prevention-and-bootstrapping
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [clusterroles]
  verbs: [bind]
  resourceNames: [{{ include "hybridstream.streamAckRole" . }}]
{{- with .Values.rbac.prometheusSecretNames }}
# Prometheus credentials (spec.analysis.prometheus.basicAuth / bearerTokenSecret): read
# every analysis pass, only these Secrets.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
  resourceNames: {{ toJson . }}
{{- end }}
{{- if .Values.peering.enabled }}
{{- if not .Values.watch.allNamespaces }}
# kopf peering (namespaced): which operator instance is active.
- apiGroups: [kopf.dev]
  resources: [kopfpeerings]
  verbs: [get, list, watch, patch]
{{- end }}
{{- end }}
{{- end }}

{{/* Cluster-scoped rules. */}}
{{- define "hybridstream.clusterRules" -}}
{{- if .Values.rbac.kopfScanning }}
# kopf re-scans served resources when CRDs change.
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [get, list, watch]
{{- if not .Values.watch.allNamespaces }}
# kopf resolves the served namespaces (and notices when one is created).
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, list, watch]
{{- end }}
{{- end }}
{{- if and .Values.peering.enabled .Values.watch.allNamespaces }}
# kopf peering (cluster-wide).
- apiGroups: [kopf.dev]
  resources: [clusterkopfpeerings]
  verbs: [get, list, watch, patch]
{{- end }}
{{- end }}
