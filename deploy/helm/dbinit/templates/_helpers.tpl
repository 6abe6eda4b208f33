{{- define "dbinit.name" -}}
{{- printf "%s-dbinit" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dbinit.labels" -}}
app.kubernetes.io/name: dbinit
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "dbinit.migrationsConfigMap" -}}
{{- if .Values.migrations.existingConfigMap -}}
{{ .Values.migrations.existingConfigMap }}
{{- else if or .Values.migrations.files .Values.migrations.archive -}}
{{ include "dbinit.name" . }}-migrations
{{- end -}}
{{- end -}}

{{/* The dbinit container: the hook Job's, and the initContainer snippet's with other args. */}}
{{- define "dbinit.container" -}}
name: dbinit
image: "{{ .root.Values.image.repository }}:{{ .root.Values.image.tag }}"
imagePullPolicy: {{ .root.Values.image.pullPolicy }}
args: {{ toJson .args }}
env:
  # The audit trail: each history record names the pod and namespace that applied it.
  - name: POD_NAME
    valueFrom: {fieldRef: {fieldPath: metadata.name}}
  - {name: POD_NAMESPACE, value: {{ .root.Release.Namespace | quote }}}
{{- range $name, $value := .root.Values.env }}
  - {name: {{ $name }}, value: {{ $value | quote }}}
{{- end }}
{{- if and .root.Values.migrations.archive (not .root.Values.migrations.existingConfigMap) }}
  - {name: DBINIT_MIGRATIONS, value: /migrations/migrations.tar.gz}
{{- end }}
{{- if and .shards (gt (int .root.Values.job.shards) 1) }}
  - {name: DBINIT_SHARDS, value: {{ .root.Values.job.shards | quote }}}
{{- end }}
{{- range $name, $key := .root.Values.credentials.keys }}
  - name: {{ $name }}
    valueFrom: {secretKeyRef: {name: {{ $.root.Values.credentials.existingSecret }}, key: {{ $key }}}}
{{- end }}
securityContext: {{ toJson .root.Values.securityContext }}
resources: {{ toJson .root.Values.resources }}
{{- if include "dbinit.migrationsConfigMap" .root }}
volumeMounts:
  - {name: dbinit-migrations, mountPath: /migrations, readOnly: true}
{{- if .root.Values.migrations.initFiles }}
  - {name: dbinit-init, mountPath: /init, readOnly: true}
{{- end }}
{{- if .root.Values.migrations.tenantFiles }}
  - {name: dbinit-tenant-migrations, mountPath: /tenant-migrations, readOnly: true}
{{- end }}
{{- end }}
{{- end -}}

{{/* The volumes the container mounts; add them to the pod that includes the initContainer. */}}
{{- define "dbinit.volumes" -}}
{{- if include "dbinit.migrationsConfigMap" . }}
- name: dbinit-migrations
  configMap: {name: {{ include "dbinit.migrationsConfigMap" . }}}
{{- if .Values.migrations.initFiles }}
- name: dbinit-init
  configMap: {name: {{ include "dbinit.name" . }}-init}
{{- end }}
{{- if .Values.migrations.tenantFiles }}
- name: dbinit-tenant-migrations
  configMap: {name: {{ include "dbinit.name" . }}-tenant-migrations}
{{- end }}
{{- end }}
{{- end -}}

{{/* For the application's own Deployment: initContainers: [ {{ include "dbinit.initContainer" . }} ] */}}
{{- define "dbinit.initContainer" -}}
{{ include "dbinit.container" (dict "root" . "args" .Values.initContainer.args) }}
{{- end -}}


{{/* A hook Job running dbinit with .args: the migrate, post-deploy and rollback Jobs. */}}
{{- define "dbinit.job" -}}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "dbinit.name" .root }}{{ .suffix }}
  labels: {{- include "dbinit.labels" .root | nindent 4 }}
  annotations:
    helm.sh/hook: {{ .hook }}
    helm.sh/hook-weight: "0"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: {{ .root.Values.job.backoffLimit }}
  activeDeadlineSeconds: {{ .root.Values.job.activeDeadlineSeconds }}
  {{- if gt (int .root.Values.job.shards) 1 }}
  # A fleet's shares: pod i takes the tenants whose share is i (JOB_COMPLETION_INDEX), all at once.
  completionMode: Indexed
  completions: {{ .root.Values.job.shards }}
  parallelism: {{ .root.Values.job.shards }}
  {{- end }}
  template:
    metadata:
      labels: {{- include "dbinit.labels" .root | nindent 8 }}
    spec:
      restartPolicy: Never
      securityContext: {{- toYaml .root.Values.podSecurityContext | nindent 8 }}
      containers:
        - {{- include "dbinit.container" (dict "root" .root "args" .args "shards" true) | nindent 10 }}
      {{- with include "dbinit.volumes" .root }}
      volumes: {{- . | nindent 8 }}
      {{- end }}
{{- end -}}
