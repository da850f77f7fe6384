{{/*
Pod template shared by the Deployments (templates/deployments.yaml) and the SFU StatefulSets
(templates/sfu.yaml). Takes the service context (root, name, svc); the SFU passes a svc whose
extraPorts, extraEnv, lifecycle, hostNetwork, affinity and terminationGracePeriodSeconds carry
its pool's settings.
*/}}
{{- define "realtimekit.podTemplate" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
metadata:
  labels:
    {{- include "realtimekit.labels" (dict "root" $root "component" .name) | nindent 4 }}
    {{- with $svc.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    {{- include "realtimekit.checksums" . | nindent 4 }}
    {{- with $svc.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "realtimekit.serviceAccountName" . }}
  automountServiceAccountToken: false
  {{- if $svc.hostNetwork }}
  hostNetwork: true
  dnsPolicy: ClusterFirstWithHostNet
  {{- end }}
  {{- with $svc.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $svc.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml $svc.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ $svc.terminationGracePeriodSeconds | int }}
  containers:
    - name: {{ .name }}
      image: {{ include "realtimekit.image" . }}
      imagePullPolicy: {{ $svc.image.pullPolicy }}
      # The image's entrypoint is `python -m rtk_<service>`; only args are set, so a dev image
      # (Tilt's restart wrapper) can replace the entrypoint.
      args: [serve]
      ports:
        {{- range $portName, $port := $svc.ports }}
        - name: {{ $portName }}
          containerPort: {{ $port | int }}
          protocol: TCP
        {{- end }}
        {{- with $svc.extraPorts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      envFrom:
        - configMapRef:
            name: {{ include "realtimekit.fullname" (dict "root" $root "name" .name) }}
      env:
        {{- include "realtimekit.env" . | nindent 8 }}
      startupProbe:
        grpc:
          port: {{ $svc.ports.grpc | int }}
          service: liveness
        {{- toYaml $svc.probes.startup | nindent 8 }}
      readinessProbe:
        grpc:
          port: {{ $svc.ports.grpc | int }}
          service: ""
        {{- toYaml $svc.probes.readiness | nindent 8 }}
      livenessProbe:
        grpc:
          port: {{ $svc.ports.grpc | int }}
          service: liveness
        {{- toYaml $svc.probes.liveness | nindent 8 }}
      {{- with $svc.lifecycle }}
      lifecycle:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      resources:
        {{- toYaml $svc.resources | nindent 8 }}
      securityContext:
        {{- toYaml $svc.securityContext | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- with $svc.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: {{ $svc.tmpSizeLimit }}
    {{- with $svc.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $svc.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $svc.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $svc.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if or $svc.topologySpreadConstraints $svc.spreadAcrossNodes }}
  topologySpreadConstraints:
    {{- with $svc.topologySpreadConstraints }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- if $svc.spreadAcrossNodes }}
    - maxSkew: 1
      topologyKey: kubernetes.io/hostname
      whenUnsatisfiable: ScheduleAnyway
      labelSelector:
        matchLabels:
          {{- include "realtimekit.selectorLabels" (dict "root" $root "component" .name) | nindent 10 }}
    {{- end }}
  {{- end }}
{{- end -}}

{{/*
Env of a service container (and its migration Job): OTEL_SERVICE_NAME from the component label,
the secret keys the service needs, RTK_DATABASE_URL for table owners, then extraEnv.
*/}}
{{- define "realtimekit.env" -}}
{{- $root := .root -}}
- name: OTEL_SERVICE_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.labels['app.kubernetes.io/component']
{{- range $key, $wanted := .svc.secretEnv }}
{{- if $wanted }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ include "realtimekit.secretName" $root }}
      key: {{ $key }}
{{- end }}
{{- end }}
{{- if .svc.database }}
- name: RTK_DATABASE_URL
  valueFrom:
    secretKeyRef:
      {{- include "realtimekit.databaseUrlRef" $root | nindent 6 }}
{{- end }}
{{- with .svc.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "realtimekit.serviceAccountName" -}}
{{- if .svc.serviceAccount.create -}}
{{- include "realtimekit.fullname" (dict "root" .root "name" .name) -}}
{{- else -}}
{{- .svc.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}
