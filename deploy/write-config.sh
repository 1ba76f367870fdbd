#!/usr/bin/env bash
# Writes the web app's config.js for a deployed stack: the API base URL and mode "aws".
#   deploy/write-config.sh STACK OUT_DIR     (or: deploy/write-config.sh --api-url URL OUT_DIR)
set -euo pipefail
if [ "${1:-}" = "--api-url" ]; then
  api="${2:?api url}"; out="${3:?out dir}"
else
  stack="${1:?usage: deploy/write-config.sh STACK OUT_DIR}"; out="${2:?out dir}"
  api=$(aws cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='ApiUrl'].OutputValue" --output text)
fi
case "$api" in
  https://*|http://127.0.0.1*|http://localhost*) ;;
  *) echo "write-config: unexpected API URL '$api'" >&2; exit 1 ;;
esac
mkdir -p "$out"
printf 'window.INCIDENTS_CONFIG = {"apiBase":"%s","mode":"aws"};\n' "${api%/}" > "$out/config.js"
echo "wrote $out/config.js (apiBase ${api%/})"
