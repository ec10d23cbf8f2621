{{/* Names, labels and small computed values shared by every template. */}}

{{- define "hybridstream.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hybridstream.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "hybridstream.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "hybridstream.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hybridstream
{{- end }}

{{- define "hybridstream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hybridstream.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "hybridstream.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hybridstream.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "hybridstream.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{- define "hybridstream.webhookSecretName" -}}
{{- default (printf "%s-webhook" (include "hybridstream.fullname" .)) .Values.webhook.existingSecret }}
{{- end }}

{{/* Namespaces served when not cluster-wide: the release namespace first, then the extras,
     without duplicates. Rendered as a JSON list so callers can fromJsonArray it. */}}
{{- define "hybridstream.watchNamespaces" -}}
{{- prepend .Values.watch.namespaces .Release.Namespace | uniq | toJson }}
{{- end }}

{{/* PromQL label matchers for a stream series: the given fixed matchers plus the user's
     monitoring.prometheusRule.selector, e.g. {source="hybrid",namespace="trading"}. */}}
{{- define "hybridstream.matchers" -}}
{{- $root := index . 0 }}
{{- $fixed := index . 1 }}
{{- $all := list }}
{{- with $fixed }}{{ $all = append $all . }}{{ end }}
{{- with $root.Values.monitoring.prometheusRule.selector }}{{ $all = append $all . }}{{ end }}
{{- printf "{%s}" (join "," $all) }}
{{- end }}

{{/* The ClusterRole (and admission policy) letting stream pods write their own routing ack. */}}
{{- define "hybridstream.streamAckRole" -}}
{{- printf "%s-stream-ack" (include "hybridstream.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
