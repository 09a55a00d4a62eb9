{{/* Names ------------------------------------------------------------------ */}}

{{- define "dht.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- /*
The release's full name; also the StatefulSet's name, so the pods are
<fullname>-0, <fullname>-1, ... and so are the node ids. Kept to 52
characters so that pod names (plus "-NN") and the controller-revision-hash
label stay within Kubernetes' limits.
*/}}
{{- define "dht.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "dht.headlessName" -}}
{{- printf "%s-headless" (include "dht.fullname" .) }}
{{- end }}

{{- define "dht.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dht.labels" -}}
helm.sh/chart: {{ include "dht.chart" . }}
{{ include "dht.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "dht.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dht.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "dht.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dht.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "dht.secretName" -}}
{{- default (include "dht.fullname" .) .Values.secret.existingSecret }}
{{- end }}

{{- define "dht.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}

{{/* Ports ------------------------------------------------------------------ */}}

{{- /*
dht.port: the port of a config listen address ("127.0.0.1:8080" -> 8080).
Called with (list $root "http.listen"). The chart listens on 0.0.0.0 and
publishes that port, so it must be fixed: port 0 (pick a free one) is refused.
*/}}
{{- define "dht.port" -}}
{{- $root := index . 0 }}
{{- $key := index . 1 }}
{{- $parts := splitList "." $key }}
{{- $addr := index (index $root.Values.config (index $parts 0)) (index $parts 1) | toString }}
{{- $port := regexFind "[0-9]+$" $addr }}
{{- if not (regexMatch "^.*:[0-9]+$" $addr) }}
{{- fail (printf "config.%s must be host:port with a numeric port (the chart listens on 0.0.0.0 and uses the port), got %q" $key $addr) }}
{{- end }}
{{- if or (eq (int $port) 0) (gt (int $port) 65535) }}
{{- fail (printf "config.%s: the chart needs a fixed port from 1 to 65535, got %q" $key $addr) }}
{{- end }}
{{- int $port }}
{{- end }}

{{- define "dht.httpPort" -}}{{ include "dht.port" (list . "http.listen") }}{{- end }}
{{- define "dht.gossipPort" -}}{{ include "dht.port" (list . "cluster.gossip_listen") }}{{- end }}
{{- define "dht.remotePort" -}}{{ include "dht.port" (list . "cluster.remote_listen") }}{{- end }}

{{- /*
dht.metricsPort: the port of http.metrics_listen, or nothing when it is
empty (metrics and probes are then on the HTTP port).
*/}}
{{- define "dht.metricsPort" -}}
{{- if ne (toString (default "" .Values.config.http.metrics_listen)) "" }}
{{- $port := include "dht.port" (list . "http.metrics_listen") }}
{{- if eq $port (include "dht.httpPort" .) }}
{{- fail (printf "config.http.metrics_listen must have another port than config.http.listen (%s)" $port) }}
{{- end }}
{{- $port }}
{{- end }}
{{- end }}

{{- /*
dht.probePort: the container port name the probes, the scrape annotations
and the ServiceMonitor use: "metrics" when http.metrics_listen is set, else
"http".
*/}}
{{- define "dht.probePortName" -}}
{{- if include "dht.metricsPort" . }}metrics{{ else }}http{{ end }}
{{- end }}

{{- /* dht.probeScheme: HTTPS when the port the probes use serves TLS. */}}
{{- define "dht.probeScheme" -}}
{{- if and (include "dht.httpTLS" .) (not (include "dht.metricsPort" .)) }}HTTPS{{ else }}HTTP{{ end }}
{{- end }}

{{/* TLS -------------------------------------------------------------------- */}}

{{- /*
dht.tlsMode: where the node certificates come from: "existingSecret",
"certManager", or nothing (TLS off). Fails on values that cannot work.
*/}}
{{- define "dht.tlsMode" -}}
{{- $t := .Values.tls }}
{{- if and $t.existingSecret $t.certManager.enabled }}
{{- fail "tls.existingSecret and tls.certManager.enabled are two sources of the node certificates: set one" }}
{{- end }}
{{- if and $t.http.requireClientCert (not $t.http.enabled) }}
{{- fail "tls.http.requireClientCert needs tls.http.enabled: client certificates are asked for by the HTTPS listener" }}
{{- end }}
{{- if $t.existingSecret }}existingSecret
{{- else if $t.certManager.enabled }}
{{- if not $t.certManager.issuerRef.name }}
{{- fail "tls.certManager.issuerRef.name is required with tls.certManager.enabled: the cert-manager Issuer or ClusterIssuer that signs the node certificates" }}
{{- end }}certManager
{{- end }}
{{- end }}

{{- /* dht.httpTLS: "true" when the HTTP API serves HTTPS. */}}
{{- define "dht.httpTLS" -}}
{{- if and (include "dht.tlsMode" .) .Values.tls.http.enabled }}true{{ end }}
{{- end }}

{{- /* dht.podNames: the pods' names, which are the node ids. */}}
{{- define "dht.podNames" -}}
{{- $names := list }}
{{- range $i := until (int .Values.replicaCount) }}
{{- $names = append $names (printf "%s-%d" (include "dht.fullname" $) $i) }}
{{- end }}
{{- toJson $names }}
{{- end }}

{{- /* dht.tlsSecretName: the Secret cert-manager keeps a pod's certificate in. */}}
{{- define "dht.tlsSecretName" -}}
{{- printf "%s-tls-%s" (include "dht.fullname" .root) .pod }}
{{- end }}

{{- /*
dht.tlsFiles: the paths of the CA, the node certificate and its key inside
the dhtd container, as a JSON object {ca, cert, key}, with $(POD_NAME) for
the pod's own name (the kubelet expands it in env values). The volume "tls"
is mounted at /etc/dht-tls:
  existingSecret: the whole Secret: ca.crt, <pod>.crt, <pod>.key;
  certManager:    each pod's Secret under <pod>/: ca.crt, tls.crt, tls.key.
*/}}
{{- define "dht.tlsMountPath" -}}/etc/dht-tls{{- end }}
{{- define "dht.tlsFiles" -}}
{{- $dir := include "dht.tlsMountPath" . }}
{{- $mode := include "dht.tlsMode" . }}
{{- if eq $mode "existingSecret" }}
{{- dict "ca" (printf "%s/ca.crt" $dir) "cert" (printf "%s/$(POD_NAME).crt" $dir) "key" (printf "%s/$(POD_NAME).key" $dir) | toJson }}
{{- else if eq $mode "certManager" }}
{{- dict "ca" (printf "%s/$(POD_NAME)/ca.crt" $dir) "cert" (printf "%s/$(POD_NAME)/tls.crt" $dir) "key" (printf "%s/$(POD_NAME)/tls.key" $dir) | toJson }}
{{- else }}
{{- dict | toJson }}
{{- end }}
{{- end }}

{{- /*
dht.tlsCASecret: the Secret and key holding the cluster CA, for consumers
outside the pods (the ServiceMonitor), as JSON {name, key}.
*/}}
{{- define "dht.tlsCASecret" -}}
{{- $mode := include "dht.tlsMode" . }}
{{- if eq $mode "existingSecret" }}
{{- dict "name" .Values.tls.existingSecret "key" "ca.crt" | toJson }}
{{- else if eq $mode "certManager" }}
{{- dict "name" (include "dht.tlsSecretName" (dict "root" . "pod" (printf "%s-0" (include "dht.fullname" .)))) "key" "ca.crt" | toJson }}
{{- else }}
{{- dict | toJson }}
{{- end }}
{{- end }}

{{/* Durations -------------------------------------------------------------- */}}

{{- /*
dht.durationSeconds: a Go duration ("10s", "1m30s", "500ms", or 0) in whole
seconds, rounded up. Helm has no duration parser; this covers Go's syntax
except signs.
*/}}
{{- define "dht.durationSeconds" -}}
{{- $s := toString . }}
{{- $unit := "(ns|us|µs|ms|s|m|h)" }}
{{- $number := "[0-9]+(\\.[0-9]*)?" }}
{{- if not (or (eq $s "0") (regexMatch (printf "^(%s%s)+$" $number $unit) $s)) }}
{{- fail (printf "not a duration such as \"10s\" or \"1m30s\": %q" $s) }}
{{- end }}
{{- $scale := dict "ns" 0.000000001 "us" 0.000001 "µs" 0.000001 "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0 }}
{{- $total := 0.0 }}
{{- range regexFindAll (printf "%s%s" $number $unit) $s -1 }}
{{- $n := regexFind (printf "^%s" $number) . }}
{{- $total = addf $total (mulf (float64 $n) (get $scale (trimPrefix $n .))) }}
{{- end }}
{{- ceil $total | int }}
{{- end }}

{{- define "dht.terminationGracePeriodSeconds" -}}
{{- $drain := add (include "dht.durationSeconds" .Values.config.http.shutdown_timeout | int) (include "dht.durationSeconds" (.Values.config.http.lame_duck | default "0s") | int) }}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- add $drain (int .Values.terminationGraceMarginSeconds) }}
{{- else }}
{{- $set := int .Values.terminationGracePeriodSeconds }}
{{- if lt $set $drain }}
{{- fail (printf "terminationGracePeriodSeconds (%d) is shorter than config.http.lame_duck plus shutdown_timeout (%ds): pods would be killed while draining" $set $drain) }}
{{- end }}
{{- $set }}
{{- end }}
{{- end }}

{{/* Config ------------------------------------------------------------------ */}}

{{- /*
dht.seeds: the gossip addresses of the first seeds.count pods, by their
stable DNS names under the headless service.
*/}}
{{- define "dht.seeds" -}}
{{- $n := min (int .Values.seeds.count) (int .Values.replicaCount) | int }}
{{- $seeds := list }}
{{- range $i := until $n }}
{{- $seeds = append $seeds (printf "%s-%d.%s.%s.svc.%s:%s" (include "dht.fullname" $) $i (include "dht.headlessName" $) $.Release.Namespace $.Values.clusterDomain (include "dht.gossipPort" $)) }}
{{- end }}
{{- join "," $seeds }}
{{- end }}

{{- /*
dht.config: .Values.config as the pods' config.yaml, with the keys that the
chart owns set for Kubernetes (see values.yaml). The structure stays that of
config.yaml: no key is added or removed, so dhtd, which rejects unknown keys,
accepts it.
*/}}
{{- define "dht.config" -}}
{{- $cfg := deepCopy .Values.config }}
{{- if ne (toString (default "" $cfg.node.id)) "" }}
{{- fail "config.node.id must stay empty: every pod of the StatefulSet would get the same id; each pod uses its own name" }}
{{- end }}
{{- range $key := list "gossip_advertise" "remote_advertise" "http_advertise" }}
{{- if ne (toString (default "" (index $cfg.cluster $key))) "" }}
{{- fail (printf "config.cluster.%s must stay empty: the chart sets each pod's own address (DHT_CLUSTER_%s from the pod IP)" $key (upper $key)) }}
{{- end }}
{{- end }}
{{- range $key := list "ca_file" "cert_file" "key_file" }}
{{- if ne (toString (default "" (index $cfg.cluster.tls $key))) "" }}
{{- fail (printf "config.cluster.tls.%s must stay empty: set tls.existingSecret or tls.certManager, and the chart mounts each pod's certificate and sets DHT_CLUSTER_TLS_%s" $key (upper $key)) }}
{{- end }}
{{- end }}
{{- range $key := list "cert_file" "key_file" "client_ca_file" }}
{{- if ne (toString (default "" (index $cfg.http.tls $key))) "" }}
{{- fail (printf "config.http.tls.%s must stay empty: with tls.existingSecret or tls.certManager set, tls.http.enabled serves the API with each pod's certificate (DHT_HTTP_TLS_%s)" $key (upper $key)) }}
{{- end }}
{{- end }}
{{- $_ := set $cfg.http "listen" (printf "0.0.0.0:%s" (include "dht.httpPort" .)) }}
{{- with include "dht.metricsPort" . }}
{{- $_ = set $cfg.http "metrics_listen" (printf "0.0.0.0:%s" .) }}
{{- end }}
{{- $_ = set $cfg.cluster "gossip_listen" (printf "0.0.0.0:%s" (include "dht.gossipPort" .)) }}
{{- $_ = set $cfg.cluster "remote_listen" (printf "0.0.0.0:%s" (include "dht.remotePort" .)) }}
{{- $dataDir := toString (default "" $cfg.node.data_dir) }}
{{- if and $dataDir (not (isAbs $dataDir)) }}
{{- $_ = set $cfg.node "data_dir" (printf "%s/%s" .Values.persistence.mountPath $dataDir | clean) }}
{{- end }}
{{- if eq (toString (default "" $cfg.cluster.seeds)) "" }}
{{- $_ = set $cfg.cluster "seeds" (include "dht.seeds" .) }}
{{- end }}
{{- /* Secrets live in the Secret and reach dhtd through the environment. */}}
{{- $_ = set $cfg.cluster "gossip_key" "" }}
{{- $_ = set $cfg.http "client_token" "" }}
{{- $_ = set $cfg.http "admin_token" "" }}
{{- $_ = set $cfg.security "context_secret" "" }}
{{- $_ = set $cfg.security "previous_context_secret" "" }}
{{- toYaml $cfg }}
{{- end }}

{{- /* dht.zoneFromNode: whether the init container fills cluster.zone. */}}
{{- define "dht.zoneFromNode" -}}
{{- if and (eq .Values.zone.source "nodeLabel") (eq (toString (default "" .Values.config.cluster.zone)) "") }}true{{ end }}
{{- end }}
