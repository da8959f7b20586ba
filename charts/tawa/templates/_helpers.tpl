{{/* Chart name, overridable. */}}
{{- define "tawa.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified name. */}}
{{- define "tawa.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "tawa.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "tawa.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tawa.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "tawa.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tawa
{{- end -}}

{{- define "tawa.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tawa.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of one component: call with (dict "root" $ "component" "gateway"). */}}
{{- define "tawa.componentLabels" -}}
{{ include "tawa.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "tawa.componentSelectorLabels" -}}
{{ include "tawa.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "tawa.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "tawa.identityIssuer" -}}
{{- default (printf "https://bio.%s" .Values.baseDomain) .Values.identity.issuer -}}
{{- end -}}

{{/* Fail early, with the value to set, when required configuration is missing. */}}
{{- define "tawa.validateValues" -}}
{{- if not .Values.internalKey.existingSecret -}}
{{- fail "internalKey.existingSecret is required: create a Secret with key `internal-key` (e.g. kubectl create secret generic tawa-internal --from-literal=internal-key=$(openssl rand -hex 32)) and set internalKey.existingSecret=tawa-internal" -}}
{{- end -}}
{{- if and (not .Values.mongodb.bundled) (not .Values.mongodb.existingSecret) -}}
{{- fail "mongodb.existingSecret is required when mongodb.bundled=false: a Secret with key `uri` holding the MongoDB connection string" -}}
{{- end -}}
{{- if and (not .Values.redis.bundled) (not .Values.redis.existingSecret) -}}
{{- fail "redis.existingSecret is required when redis.bundled=false: a Secret with key `url` holding the Redis URL" -}}
{{- end -}}
{{- end -}}

{{/* Environment shared by every component. */}}
{{- define "tawa.commonEnv" -}}
- name: TAWA_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: TAWA_BASE_DOMAIN
  value: {{ .Values.baseDomain | quote }}
- name: TAWA_INTERNAL_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.internalKey.existingSecret }}
      key: {{ .Values.internalKey.key }}
- name: TAWA_MONGODB_URI
{{- if .Values.mongodb.bundled }}
  value: {{ printf "mongodb://%s-mongodb:27017/tawa" (include "tawa.fullname" .) | quote }}
{{- else }}
  valueFrom:
    secretKeyRef:
      name: {{ .Values.mongodb.existingSecret }}
      key: uri
{{- end }}
- name: TAWA_REDIS_URL
{{- if .Values.redis.bundled }}
  value: {{ printf "redis://%s-redis:6379/0" (include "tawa.fullname" .) | quote }}
{{- else }}
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret }}
      key: url
{{- end }}
- name: TAWA_REGISTRY_URL
  value: {{ printf "http://%s-registry" (include "tawa.fullname" .) | quote }}
- name: TAWA_GATEWAY_URL
  value: {{ printf "http://%s-gateway" (include "tawa.fullname" .) | quote }}
- name: TAWA_IDENTITY_URL
  value: {{ printf "http://%s-identity" (include "tawa.fullname" .) | quote }}
- name: TAWA_IDENTITY_ISSUER
  value: {{ include "tawa.identityIssuer" . | quote }}
- name: TAWA_IDENTITY_JWKS_URL
  value: {{ printf "http://%s-identity/.well-known/jwks.json" (include "tawa.fullname" .) | quote }}
- name: TAWA_WALLET_URL
  value: {{ printf "http://%s-wallet" (include "tawa.fullname" .) | quote }}
{{- end -}}

{{/*
One HTTP component (registry, gateway, identity, wallet): Deployment and
Service. Call with (dict "root" $ "component" "wallet" "values" .Values.wallet).
*/}}
{{- define "tawa.httpComponent" -}}
{{- $root := .root -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "tawa.fullname" $root }}-{{ .component }}
  labels:
    {{- include "tawa.componentLabels" . | nindent 4 }}
spec:
  {{- if not (and (eq .component "gateway") .values.autoscaling.enabled) }}
  replicas: {{ .values.replicas }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "tawa.componentSelectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "tawa.componentSelectorLabels" . | nindent 8 }}
    spec:
      automountServiceAccountToken: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      containers:
        - name: {{ .component }}
          image: {{ include "tawa.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: ["python", "-m", "tawa.{{ .component }}", "--host", "0.0.0.0", "--port", "8080"]
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
          env:
            {{- include "tawa.commonEnv" $root | nindent 12 }}
          livenessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 10
          readinessProbe:
            httpGet: {path: /readyz, port: http}
            periodSeconds: 5
          resources:
            {{- toYaml .values.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.containerSecurityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir: {}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "tawa.fullname" $root }}-{{ .component }}
  labels:
    {{- include "tawa.componentLabels" . | nindent 4 }}
spec:
  type: {{ if eq .component "gateway" }}{{ .values.service.type }}{{ else }}ClusterIP{{ end }}
  selector:
    {{- include "tawa.componentSelectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: 80
      targetPort: http
      protocol: TCP
{{- end -}}
