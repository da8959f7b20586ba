{{/* The chart name, for the app.kubernetes.io/name label. */}}
{{- define "tawa-service.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The name of every object: the release name, which the operator sets to the
service name, so the Service answers at {service}.{namespace}.svc.
*/}}
{{- define "tawa-service.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tawa-service.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: name and instance only, so they never change after install. */}}
{{- define "tawa-service.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tawa-service.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tawa-service.labels" -}}
helm.sh/chart: {{ include "tawa-service.chart" . }}
{{ include "tawa-service.selectorLabels" . }}
app.kubernetes.io/version: {{ include "tawa-service.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tawa
tawa.insureco.io/environment: {{ .Values.service.environment | quote }}
tawa.insureco.io/tier: {{ .Values.service.tier | quote }}
{{- with .Values.service.owner }}
tawa.insureco.io/owner: {{ . | quote }}
{{- end }}
{{- end }}

{{/* A label-safe version string: the tag, or the first characters of the digest. */}}
{{- define "tawa-service.imageTag" -}}
{{- if .Values.image.digest }}
{{- .Values.image.digest | replace "sha256:" "" | trunc 12 }}
{{- else }}
{{- .Values.image.tag | replace "+" "_" }}
{{- end }}
{{- end }}

{{/* The image reference; refuses to render without a repository. */}}
{{- define "tawa-service.image" -}}
{{- $repository := required "image.repository is empty: set it to the service's image, e.g. --set image.repository=ghcr.io/acme/my-api" .Values.image.repository }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (toString .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "tawa-service.httpProbe" -}}
httpGet:
  path: {{ .path }}
  port: http
initialDelaySeconds: {{ .probe.initialDelaySeconds }}
periodSeconds: {{ .probe.periodSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
{{- end }}
