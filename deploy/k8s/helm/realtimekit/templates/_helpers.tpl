{{/*
Names, labels and the per-service configuration shared by every template.

Most named templates take a context dict:
  root  the chart's root context ($)
  name  the service name (gateway, meeting, ...)
  svc   the service's configuration: defaults merged with services.<name>
*/}}

{{/* Prefix of every object name: the release name, or fullnameOverride. */}}
{{- define "realtimekit.prefix" -}}
{{- .Values.fullnameOverride | default .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "realtimekit.name" -}}
{{- .Chart.Name -}}
{{- end -}}

{{/* <prefix>-<component>; takes (dict "root" $ "name" "meeting"). */}}
{{- define "realtimekit.fullname" -}}
{{- printf "%s-%s" (include "realtimekit.prefix" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Recommended labels; takes (dict "root" $ "component" "meeting"). */}}
{{- define "realtimekit.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "realtimekit.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: realtime
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end -}}

{{/* The labels a Service or workload selects on; takes (dict "root" $ "component" "meeting"). */}}
{{- define "realtimekit.selectorLabels" -}}
app.kubernetes.io/name: {{ include "realtimekit.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
Deep merge of two maps, printed as YAML: `over` wins; nested maps merge; lists and scalars
replace; a null in `over` removes the key. (Sprig's merge functions treat false and "" as unset,
so `enabled: false` could not override a default of true.)
*/}}
{{- define "realtimekit.deepMerge" -}}
{{- $out := deepCopy (.base | default dict) -}}
{{- range $key, $value := (.over | default dict) -}}
{{- if kindIs "invalid" $value -}}
{{- $_ := unset $out $key -}}
{{- else if and (kindIs "map" $value) (kindIs "map" (get $out $key)) -}}
{{- $_ := set $out $key (include "realtimekit.deepMerge" (dict "base" (get $out $key) "over" $value) | fromYaml) -}}
{{- else -}}
{{- $_ := set $out $key $value -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/*
Prints a generated object, deep-merged with an escape-hatch map when one is given;
takes (dict "manifest" <yaml> "merge" <map or nil>).
*/}}
{{- define "realtimekit.render" -}}
{{- if .merge -}}
{{- include "realtimekit.deepMerge" (dict "base" (fromYaml .manifest) "over" .merge) -}}
{{- else -}}
{{- .manifest -}}
{{- end -}}
{{- end -}}

{{/*
The enabled services as YAML: name -> defaults deep-merged with services.<name>, plus
`workload` (Deployment, or SfuPools for the SFU, which templates/sfu.yaml renders).
Use as: $services := include "realtimekit.services" . | fromYaml
*/}}
{{- define "realtimekit.services" -}}
{{- $out := dict -}}
{{- range $name, $config := .Values.services -}}
{{- $svc := include "realtimekit.deepMerge" (dict "base" $.Values.defaults "over" $config) | fromYaml -}}
{{- if $svc.enabled -}}
{{- $_ := set $svc "workload" (ternary "SfuPools" "Deployment" (eq $name "sfu")) -}}
{{- $_ := set $out $name $svc -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* Image reference; takes the service context. */}}
{{- define "realtimekit.image" -}}
{{- $image := .svc.image -}}
{{- $repository := $image.repository | default (printf "realtime-%s" .name) -}}
{{- $tag := $image.tag | default .root.Chart.AppVersion | toString -}}
{{- if $image.registry -}}
{{- printf "%s/%s:%s" (trimSuffix "/" $image.registry) $repository $tag -}}
{{- else -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Name of the Secret with RTK_* credentials. */}}
{{- define "realtimekit.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "realtimekit.prefix" .)) -}}
{{- end -}}

{{/* Name of the Postgres StatefulSet, Service and CloudNativePG Cluster. */}}
{{- define "realtimekit.postgresName" -}}
{{- include "realtimekit.fullname" (dict "root" . "name" "postgres") -}}
{{- end -}}

{{/*
secretKeyRef of RTK_DATABASE_URL as YAML: the `uri` key of the Postgres app Secret (the chart's
for mode=statefulset, the operator's <cluster>-app for mode=cloudnativepg), else RTK_DATABASE_URL
in the chart's (or the existing) Secret.
*/}}
{{- define "realtimekit.databaseUrlRef" -}}
{{- $mode := .Values.postgres.mode -}}
{{- if eq $mode "statefulset" -}}
name: {{ include "realtimekit.postgresName" . }}
key: uri
{{- else if eq $mode "cloudnativepg" -}}
name: {{ include "realtimekit.postgresName" . }}-app
key: uri
{{- else if eq $mode "external" -}}
name: {{ include "realtimekit.secretName" . }}
key: RTK_DATABASE_URL
{{- else -}}
{{- fail (printf "postgres.mode must be statefulset, cloudnativepg or external, not %q" $mode) -}}
{{- end -}}
{{- end -}}

{{- define "realtimekit.natsUrl" -}}
{{- if .Values.nats.enabled -}}
{{- printf "nats://%s:4222" (include "realtimekit.fullname" (dict "root" . "name" "nats")) -}}
{{- else -}}
{{- required "nats.url is required when nats.enabled=false (or use secrets.existingSecret)" .Values.nats.url -}}
{{- end -}}
{{- end -}}

{{/*
The service's non-secret environment as YAML (its ConfigMap data): `config`, then chart-computed
ports and peer addresses, then services.<name>.env.
*/}}
{{- define "realtimekit.configData" -}}
{{- $root := .root -}}
{{- $data := dict -}}
{{- range $key, $value := $root.Values.config -}}
{{- $_ := set $data $key (toString $value) -}}
{{- end -}}
{{- $_ := set $data "RTK_SERVICE_NAME" .name -}}
{{- $_ := set $data "RTK_GRPC_PORT" (.svc.ports.grpc | int | toString) -}}
{{- $_ := set $data "RTK_METRICS_PORT" (.svc.ports.metrics | int | toString) -}}
{{- with .svc.ports.http -}}
{{- $_ := set $data "RTK_HTTP_PORT" (. | int | toString) -}}
{{- end -}}
{{- $_ := set $data "RTK_AUTO_MIGRATE" (ternary "false" "true" (and $root.Values.migrations.enabled .svc.database)) -}}
{{- with $root.Values.publicUrl -}}
{{- $_ := set $data "RTK_PUBLIC_URL" . -}}
{{- end -}}
{{- range $peer, $peerSvc := (include "realtimekit.services" $root | fromYaml) -}}
{{- $host := include "realtimekit.fullname" (dict "root" $root "name" $peer) -}}
{{- $_ := set $data (printf "RTK_%s_ADDR" (upper $peer)) (printf "%s:%d" $host ($peerSvc.ports.grpc | int)) -}}
{{- end -}}
{{- range $key, $value := .svc.env -}}
{{- $_ := set $data $key (toString $value) -}}
{{- end -}}
{{- toYaml $data -}}
{{- end -}}

{{/* The service's ConfigMap, final form (checksummed into the pod template). */}}
{{- define "realtimekit.configMap" -}}
{{- $manifest := include "realtimekit.configMap.manifest" . -}}
{{- include "realtimekit.render" (dict "manifest" $manifest "merge" .svc.merge.configMap) -}}
{{- end -}}

{{- define "realtimekit.configMap.manifest" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "realtimekit.fullname" (dict "root" .root "name" .name) }}
  labels:
    {{- include "realtimekit.labels" (dict "root" .root "component" .name) | nindent 4 }}
data:
  {{- include "realtimekit.configData" . | nindent 2 }}
{{- end -}}

{{/*
Pod annotations that roll the pods when their configuration changes: the service's ConfigMap,
and the secret values given in values (generated ones are kept across upgrades, so they never
change).
*/}}
{{- define "realtimekit.checksums" -}}
checksum/config: {{ include "realtimekit.configMap" . | sha256sum }}
checksum/secret: {{ dict "secrets" .root.Values.secrets "nats" .root.Values.nats.url "postgres" .root.Values.postgres.mode "external" .root.Values.postgres.external | toJson | sha256sum }}
{{- end -}}

{{/* Container securityContext of the bundled NATS and Postgres (not affected by defaults). */}}
{{- define "realtimekit.hardenedContainer" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}
