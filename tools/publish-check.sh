#!/usr/bin/env bash
# Publishes the single-file linux-x64 binary (src/Kcm/Properties/PublishProfiles/<profile>.pubxml; linux-x64 is
# ReadyToRun, linux-x64-aot NativeAOT) and checks that the file runs on its own: --version and --help, with no dotnet
# on PATH and no DOTNET_ROOT.   Usage: tools/publish-check.sh [profile]
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
profile=${1:-linux-x64-aot}
dotnet publish src/Kcm -p:PublishProfile="$profile" -v q -nologo
bin=src/Kcm/bin/publish/$profile/kube-controller-manager
ls -l "src/Kcm/bin/publish/$profile/"
env -i PATH=/usr/bin:/bin "$bin" --version
env -i PATH=/usr/bin:/bin "$bin" --help | grep -q -- '--leader-elect-lease-duration' || { echo "publish-check: --help lacks the flags" >&2; exit 1; }
env -i PATH=/usr/bin:/bin "$bin" --help | grep -q 'kube-controller-manager init' || { echo "publish-check: --help lacks init" >&2; exit 1; }
echo "publish-check: $bin runs standalone ($(du -h "$bin" | cut -f1))"
