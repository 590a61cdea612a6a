{{/* Chart name, truncated to the 63 characters names and labels allow. */}}
{{- define "maskinporten-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: the release name, plus the chart name unless it already holds it. */}}
{{- define "maskinporten-operator.fullname" -}}
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

{{- define "maskinporten-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "maskinporten-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "maskinporten-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "maskinporten-operator.labels" -}}
helm.sh/chart: {{ include "maskinporten-operator.chart" . }}
{{ include "maskinporten-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "maskinporten-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "maskinporten-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "maskinporten-operator.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* The leader election's Lease, in the release's namespace. */}}
{{- define "maskinporten-operator.leaseName" -}}
{{- default (include "maskinporten-operator.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{/* Where the CA bundle (maskinporten.caBundle) is mounted, and the file in that directory. */}}
{{- define "maskinporten-operator.caBundleDirectory" -}}
/etc/maskinporten-operator/ca
{{- end }}
{{- define "maskinporten-operator.caBundleFile" -}}
ca-bundle.pem
{{- end }}

{{/* True when an entry of watchNamespaces is a glob rather than a namespace name. */}}
{{- define "maskinporten-operator.hasNamespacePatterns" -}}
{{- range .Values.watchNamespaces }}{{ if regexMatch "[*?\\[]" . }}true{{ end }}{{ end }}
{{- end }}

{{/* Value combinations the schema cannot express, refused with a message that says what to do. */}}
{{- define "maskinporten-operator.validate" -}}
{{- $v := .Values }}
{{- if and (eq $v.maskinporten.environment "custom") (not $v.maskinporten.issuer) }}
{{- fail "maskinporten.issuer is required when maskinporten.environment is custom" }}
{{- end }}
{{- if and (ne $v.maskinporten.environment "custom") $v.maskinporten.issuer }}
{{- fail (printf "maskinporten.issuer applies only to maskinporten.environment custom (%s has its own issuer)" $v.maskinporten.environment) }}
{{- end }}
{{- if and $v.maskinporten.caBundle.configMap $v.maskinporten.caBundle.secret }}
{{- fail "maskinporten.caBundle: set configMap or secret, not both" }}
{{- end }}
{{- if lt (float64 $v.retry.maxSeconds) (float64 $v.retry.baseSeconds) }}
{{- fail "retry.maxSeconds must not be below retry.baseSeconds" }}
{{- end }}
{{- $patterns := include "maskinporten-operator.hasNamespacePatterns" . }}
{{- if and $v.rbac.namespaced (not $v.watchNamespaces) }}
{{- fail "rbac.namespaced needs watchNamespaces: the namespaces to create Roles in" }}
{{- end }}
{{- if and $v.rbac.namespaced $patterns }}
{{- fail "rbac.namespaced needs namespace names in watchNamespaces, not patterns: Roles are created in each one" }}
{{- end }}
{{- $election := $v.leaderElection }}
{{- if not (gt (float64 $election.leaseDurationSeconds) (float64 $election.renewDeadlineSeconds)) }}
{{- fail "leaderElection.leaseDurationSeconds must be above leaderElection.renewDeadlineSeconds: a leader stops acting at its renew deadline, before a standby may take over" }}
{{- end }}
{{- if not (gt (float64 $election.renewDeadlineSeconds) (float64 $election.retryPeriodSeconds)) }}
{{- fail "leaderElection.renewDeadlineSeconds must be above leaderElection.retryPeriodSeconds: the leader renews every retry period" }}
{{- end }}
{{- if and $v.tokenDelivery.promptPods (semverCompare "<1.30-0" $.Capabilities.KubeVersion.Version) }}
{{- fail (printf "tokenDelivery.promptPods needs Kubernetes 1.30 or later (this is %s): its ValidatingAdmissionPolicy bounds the operator's pod patches to one annotation. Set tokenDelivery.promptPods=false to install without prompting" $.Capabilities.KubeVersion.Version) }}
{{- end }}
{{- if and $v.networkPolicy.enabled (not $v.networkPolicy.apiServer.cidrs) }}
{{- fail "networkPolicy.apiServer.cidrs is required when networkPolicy.enabled: the Kubernetes API server's addresses (kubectl get endpointslices -n default -l kubernetes.io/service-name=kubernetes)" }}
{{- end }}
{{- if and $v.networkPolicy.enabled (not $v.networkPolicy.authorizationServer.cidrs) }}
{{- fail "networkPolicy.authorizationServer.cidrs is required when networkPolicy.enabled: Maskinporten's addresses, or your proxy's when proxy is set" }}
{{- end }}
{{- end }}

{{/* RBAC rules for what the operator does in each namespace it serves. */}}
{{- define "maskinporten-operator.namespacedRules" -}}
# The resources it serves: kopf lists, watches and patches them (finalizer, annotations).
- apiGroups: [maskinporten-operator.dev]
  resources: [maskinportenclients]
  verbs: [get, list, watch, patch]
- apiGroups: [maskinporten-operator.dev]
  resources: [maskinportenclients/status]
  verbs: [get, patch]
# Key and workload Secrets: read, created and replaced, never deleted (the garbage collector
# removes owned ones); list and watch serve a label-selected watch of its own Secrets.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch, create, update]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
{{- if .Values.tokenDelivery.promptPods }}
# Pods labelled for prompted delivery: annotated after each new token so that the kubelet syncs
# their Secret volume at once. The pod-changes ValidatingAdmissionPolicy refuses any other change.
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch, patch]
{{- end }}
{{- end }}

{{/* The one pod annotation the operator sets (tokenDelivery.promptPods). */}}
{{- define "maskinporten-operator.tokenVersionAnnotation" -}}
maskinporten-operator.dev/token-version
{{- end }}
