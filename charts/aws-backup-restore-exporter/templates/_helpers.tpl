{{/*
Name of the chart, or nameOverride; cut to 63 characters (the DNS label limit of names).
*/}}
{{- define "aws-backup-restore-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's resources: fullnameOverride, or "<release>-<name>", or the release name
alone when it already contains the name. Distinct per release, so several releases can share a
namespace.
*/}}
{{- define "aws-backup-restore-exporter.fullname" -}}
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

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "aws-backup-restore-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Namespace of the release's resources.
*/}}
{{- define "aws-backup-restore-exporter.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every resource: the chart's, then commonLabels (which cannot replace the selector
labels). Built as a map, so that a key set twice is written once.
*/}}
{{- define "aws-backup-restore-exporter.labels" -}}
{{- $chart := dict
  "helm.sh/chart" (include "aws-backup-restore-exporter.chart" .)
  "app.kubernetes.io/version" ((.Values.image.tag | default .Chart.AppVersion) | trunc 63 | trimSuffix "-")
  "app.kubernetes.io/managed-by" .Release.Service
  "app.kubernetes.io/part-of" "aws-backup-restore-exporter" }}
{{- $selector := include "aws-backup-restore-exporter.selectorLabels" . | fromYaml }}
{{- toYaml (merge $selector ($chart) (.Values.commonLabels | default dict)) }}
{{- end }}

{{/*
Labels of a resource with labels of its own: (list $ extraLabels). The selector labels win, then
the extra labels, then the common ones.
*/}}
{{- define "aws-backup-restore-exporter.labelsWith" -}}
{{- $ctx := index . 0 }}
{{- $selector := include "aws-backup-restore-exporter.selectorLabels" $ctx | fromYaml }}
{{- $common := include "aws-backup-restore-exporter.labels" $ctx | fromYaml }}
{{- toYaml (merge $selector ((index . 1) | default dict) $common) }}
{{- end }}

{{/*
Selector labels: the name and the release, so that one release never selects another's pods.
*/}}
{{- define "aws-backup-restore-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aws-backup-restore-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Name of the ServiceAccount the pods run as.
*/}}
{{- define "aws-backup-restore-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "aws-backup-restore-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Name of the ConfigMap holding the exporter's config.yaml.
*/}}
{{- define "aws-backup-restore-exporter.configMapName" -}}
{{- default (include "aws-backup-restore-exporter.fullname" .) .Values.existingConfigMap }}
{{- end }}

{{/*
Image reference: repository@digest, or repository:tag with the tag defaulting to appVersion.
*/}}
{{- define "aws-backup-restore-exporter.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
Fails with a message saying what to set: when there is nothing to export (no targets, no
organisation and no ConfigMap of the user's own), and when sharding meets a replica count other
than 1 (the shards are the replicas).
*/}}
{{- define "aws-backup-restore-exporter.validate" -}}
{{- if and (not .Values.existingConfigMap) (not .Values.config.targets) (not .Values.config.organization) }}
{{- fail "\n\nNothing to export: set config.targets to the AWS accounts and regions to read (e.g. --set 'config.targets[0].region=us-east-1', or -f values with config.targets: [{name: prod-use1, region: us-east-1}]), or config.organization to discover every account of an AWS Organization (at least config.organization.member_role_arn, e.g. \"arn:aws:iam::{account_id}:role/aws-backup-restore-exporter\"), or existingConfigMap to a ConfigMap holding config.yaml. See examples/ and docs/kubernetes.md." }}
{{- end }}
{{- if and .Values.sharding.enabled (ne (int .Values.replicaCount) 1) }}
{{- fail (printf "\n\nsharding.enabled runs one pod per shard (sharding.shards: %d): leave replicaCount at 1 (it is %d). To run more pods, raise sharding.shards." (int .Values.sharding.shards) (int .Values.replicaCount)) }}
{{- end }}
{{- if and .Values.webConfig.certificate.certManager.enabled (not .Values.webConfig.certificate.certManager.issuerRef.name) }}
{{- fail "\n\nwebConfig.certificate.certManager.enabled needs webConfig.certificate.certManager.issuerRef.name (an Issuer or ClusterIssuer of cert-manager)." }}
{{- end }}
{{- if and .Values.webConfig.certificate.existingSecret .Values.webConfig.certificate.certManager.enabled }}
{{- fail "\n\nwebConfig.certificate: set existingSecret or certManager.enabled, not both." }}
{{- end }}
{{- end }}

{{/*
"true" when the exporter runs with --web.config.file: a web config, or a certificate alone
(which turns TLS on).
*/}}
{{- define "aws-backup-restore-exporter.webConfig.enabled" -}}
{{- if or .Values.webConfig.existingSecret .Values.webConfig.inline (include "aws-backup-restore-exporter.webConfig.certSecretName" .) }}true{{ end }}
{{- end }}

{{/*
"true" when the chart writes the web config Secret itself (from inline, or for a certificate
alone).
*/}}
{{- define "aws-backup-restore-exporter.webConfig.chartSecret" -}}
{{- if and (include "aws-backup-restore-exporter.webConfig.enabled" .) (not .Values.webConfig.existingSecret) }}true{{ end }}
{{- end }}

{{/*
Name of the Secret holding the web config file.
*/}}
{{- define "aws-backup-restore-exporter.webConfig.secretName" -}}
{{- default (printf "%s-web-config" (include "aws-backup-restore-exporter.fullname" . | trunc 52 | trimSuffix "-")) .Values.webConfig.existingSecret }}
{{- end }}

{{/*
Name of the Secret holding the server certificate, or "" when the chart mounts none.
*/}}
{{- define "aws-backup-restore-exporter.webConfig.certSecretName" -}}
{{- if .Values.webConfig.certificate.existingSecret }}
{{- .Values.webConfig.certificate.existingSecret }}
{{- else if .Values.webConfig.certificate.certManager.enabled }}
{{- printf "%s-tls" (include "aws-backup-restore-exporter.fullname" . | trunc 59 | trimSuffix "-") }}
{{- end }}
{{- end }}

{{/*
The inline web config as the chart writes it: with a mounted certificate, tls_server_config gets
its cert_file and key_file unless it has its own.
*/}}
{{- define "aws-backup-restore-exporter.webConfig.inline" -}}
{{- $config := deepCopy (.Values.webConfig.inline | default dict) }}
{{- if include "aws-backup-restore-exporter.webConfig.certSecretName" . }}
{{- $tls := get $config "tls_server_config" | default dict }}
{{- $_ := set $config "tls_server_config" (merge $tls (dict "cert_file" "/run/secrets/aws-backup-restore-exporter/tls/tls.crt" "key_file" "/run/secrets/aws-backup-restore-exporter/tls/tls.key")) }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/*
"true" when the exporter serves HTTPS.
*/}}
{{- define "aws-backup-restore-exporter.webConfig.tls" -}}
{{- if .Values.webConfig.existingSecret }}
{{- if .Values.webConfig.tls }}true{{ end }}
{{- else if include "aws-backup-restore-exporter.webConfig.chartSecret" . }}
{{- if hasKey (include "aws-backup-restore-exporter.webConfig.inline" . | fromYaml) "tls_server_config" }}true{{ end }}
{{- end }}
{{- end }}

{{/*
"true" when the exporter requires a client certificate, which the kubelet's probes cannot send.
*/}}
{{- define "aws-backup-restore-exporter.webConfig.clientCertificateRequired" -}}
{{- if .Values.webConfig.existingSecret }}
{{- if .Values.webConfig.clientCertificateRequired }}true{{ end }}
{{- else if .Values.webConfig.inline }}
{{- $tls := get (.Values.webConfig.inline | default dict) "tls_server_config" | default dict }}
{{- if eq (get $tls "client_auth_type" | default "") "RequireAndVerifyClientCert" }}true{{ end }}
{{- end }}
{{- end }}

{{/*
A probe of /healthz (list $ timings): a TCP connect when client certificates are required (the
handshake needs one before any path is read), an HTTPS GET under TLS (the kubelet does not
verify the certificate), an HTTP GET otherwise. /healthz needs no basic auth.
*/}}
{{- define "aws-backup-restore-exporter.probe" -}}
{{- $ctx := index . 0 }}
{{- if include "aws-backup-restore-exporter.webConfig.clientCertificateRequired" $ctx }}
tcpSocket:
  port: http
{{- else }}
httpGet:
  path: /healthz
  port: http
  {{- if include "aws-backup-restore-exporter.webConfig.tls" $ctx }}
  scheme: HTTPS
  {{- end }}
{{- end }}
{{ toYaml (index . 1) }}
{{- end }}

{{/*
"true" when the chart runs a StatefulSet of shards instead of the Deployment.
*/}}
{{- define "aws-backup-restore-exporter.sharded" -}}
{{- if .Values.sharding.enabled }}true{{ end }}
{{- end }}

{{/*
Name of the headless Service that governs the StatefulSet of shards (per-pod DNS names
<fullname>-<ordinal>.<this>.<namespace>.svc).
*/}}
{{- define "aws-backup-restore-exporter.headlessServiceName" -}}
{{- printf "%s-headless" (include "aws-backup-restore-exporter.fullname" . | trunc 54 | trimSuffix "-") }}
{{- end }}

{{/*
The pod template (metadata and spec) shared by the Deployment and the StatefulSet of shards. A
shard takes its number from its pod name: the StatefulSet's ordinal, through the downward API.
*/}}
{{- define "aws-backup-restore-exporter.podTemplate" -}}
{{- $sharded := include "aws-backup-restore-exporter.sharded" . -}}
metadata:
  annotations:
    {{- if not .Values.existingConfigMap }}
    # A change of the config changes this hash and so rolls the pods: the exporter reads its
    # config once, at start-up.
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- end }}
    {{- if include "aws-backup-restore-exporter.webConfig.chartSecret" . }}
    checksum/web-config: {{ include (print $.Template.BasePath "/webconfig-secret.yaml") . | sha256sum }}
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  labels:
    {{- include "aws-backup-restore-exporter.labelsWith" (list . .Values.podLabels) | nindent 4 }}
spec:
  serviceAccountName: {{ include "aws-backup-restore-exporter.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
  enableServiceLinks: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with .Values.podSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: exporter
      image: {{ include "aws-backup-restore-exporter.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - --config.file=/etc/aws-backup-restore-exporter/config.yaml
        - --web.listen-address=:9798
        - --log.level={{ .Values.logLevel }}
        - --log.format={{ .Values.logFormat }}
        {{- if $sharded }}
        # This pod's shard: the trailing ordinal of its StatefulSet pod name.
        - --shard=$(POD_NAME)
        - --total-shards={{ .Values.sharding.shards }}
        {{- end }}
        {{- if include "aws-backup-restore-exporter.webConfig.enabled" . }}
        - --web.config.file=/run/secrets/aws-backup-restore-exporter/web/{{ ternary .Values.webConfig.existingSecretKey "web.yml" (not (empty .Values.webConfig.existingSecret)) }}
        {{- end }}
        {{- range .Values.extraArgs }}
        - {{ . | quote }}
        {{- end }}
      {{- if or .Values.env .Values.extraEnv $sharded }}
      env:
        {{- if $sharded }}
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- end }}
        {{- range $name, $value := .Values.env }}
        - name: {{ $name }}
          value: {{ $value | toString | quote }}
        {{- end }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      {{- with .Values.envFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      ports:
        - name: http
          containerPort: 9798
          protocol: TCP
      livenessProbe:
        {{- include "aws-backup-restore-exporter.probe" (list . .Values.livenessProbe) | trim | nindent 8 }}
      readinessProbe:
        {{- include "aws-backup-restore-exporter.probe" (list . .Values.readinessProbe) | trim | nindent 8 }}
      {{- with .Values.securityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        - name: config
          mountPath: /etc/aws-backup-restore-exporter
          readOnly: true
        {{- if include "aws-backup-restore-exporter.webConfig.enabled" . }}
        - name: web-config
          mountPath: /run/secrets/aws-backup-restore-exporter/web
          readOnly: true
        {{- end }}
        {{- if include "aws-backup-restore-exporter.webConfig.certSecretName" . }}
        - name: tls
          mountPath: /run/secrets/aws-backup-restore-exporter/tls
          readOnly: true
        {{- end }}
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "aws-backup-restore-exporter.configMapName" . }}
    {{- if include "aws-backup-restore-exporter.webConfig.enabled" . }}
    - name: web-config
      secret:
        secretName: {{ include "aws-backup-restore-exporter.webConfig.secretName" . }}
        defaultMode: 0440
    {{- end }}
    {{- with include "aws-backup-restore-exporter.webConfig.certSecretName" . }}
    - name: tls
      secret:
        secretName: {{ . }}
        defaultMode: 0440
    {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
