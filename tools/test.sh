#!/usr/bin/env bash
# The test command: installs what the tests need when it is missing, then runs `dotnet test Kcm.sln`.
#   promtool (Debian package prometheus) lints our /metrics output;
#   kubectl (Debian kubectl, else kubernetes-client) drives the API servers in the kubectl tests.
# Arguments go on to `dotnet test` (e.g. --filter, --no-build). Set KCM_TEST_KUBECONFIG (see the README) to run
# the integration tests against a real cluster instead of the embedded server.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

need=()
command -v promtool >/dev/null || need+=(prometheus)
command -v kubectl >/dev/null || need+=(kubectl)
if [ ${#need[@]} -gt 0 ]; then
  echo "tools/test.sh: installing ${need[*]} (apt-get)" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  for pkg in "${need[@]}"; do
    if [ "$pkg" = kubectl ]; then
      $sudo apt-get install -y -qq kubectl || $sudo apt-get install -y -qq kubernetes-client
    else
      # Only the promtool binary is needed: do not pull in or start the Prometheus server's recommends.
      $sudo apt-get install -y -qq --no-install-recommends "$pkg"
    fi
  done
  for tool in promtool kubectl; do
    command -v "$tool" >/dev/null || { echo "tools/test.sh: $tool still missing after apt-get; install it and retry" >&2; exit 1; }
  done
fi

exec dotnet test Kcm.sln "$@"
