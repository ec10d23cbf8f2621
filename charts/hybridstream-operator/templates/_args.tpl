{{/* Command-line flags of `hybridstream-operator` (operator/hybridstream_operator/cli.py):
     kopf's --standalone / --peering, one --namespace per served namespace (none means
     cluster-wide) and the kopf liveness endpoint the probe hits. */}}
{{- define "hybridstream.args" -}}
{{- if .Values.peering.enabled }}
- --peering={{ .Values.peering.name }}
{{- else }}
- --standalone
{{- end }}
{{- if not .Values.watch.allNamespaces }}
{{- range $ns := include "hybridstream.watchNamespaces" . | fromJsonArray }}
- --namespace={{ $ns }}
{{- end }}
{{- end }}
- --liveness=http://0.0.0.0:{{ .Values.ports.health }}/healthz
{{- if .Values.operator.verbose }}
- --verbose
{{- end }}
{{- with .Values.operator.extraArgs }}
{{ toYaml . }}
{{- end }}
{{- end }}
