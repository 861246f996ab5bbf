#!/usr/bin/env bash
# Puts a policies folder (model.conf, lists/*.csv) into the two ConfigMaps the hub
# replicas mount, in place: the kubelet then swaps the files on every node, and
# each replica's next request after the swap is answered under the new lists.
#
#   deploy/k8s/policies.sh [POLICIES_DIR]          # default: policies/
#   deploy/k8s/policies.sh policies --dry-run      # print the manifests instead
set -euo pipefail
dir=${1:-policies}
ns=${MANDATE_NAMESPACE:-mandate}
[ -f "$dir/model.conf" ] && [ -d "$dir/lists" ] || { echo "policies.sh: $dir has no model.conf and lists/" >&2; exit 1; }
model=$(kubectl -n "$ns" create configmap mandate-policy-model \
  --from-file=model.conf="$dir/model.conf" --dry-run=client -o yaml)
lists=$(kubectl -n "$ns" create configmap mandate-policy-lists \
  --from-file="$dir/lists/" --dry-run=client -o yaml)
if [ "${2:-}" = --dry-run ]; then
  printf '%s\n---\n%s\n' "$model" "$lists"
else
  printf '%s\n' "$model" | kubectl apply -f -
  printf '%s\n' "$lists" | kubectl apply -f -
fi
