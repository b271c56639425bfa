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
