#!/usr/bin/env bash
# Writes the web app's config.js for a deployed stack: the API base URL, mode "aws" and the
# region (for links to the Step Functions console).
#   deploy/write-config.sh STACK REGION OUT_DIR     (or: deploy/write-config.sh --api-url URL REGION OUT_DIR)
set -euo pipefail
if [ "${1:-}" = "--api-url" ]; then
  api="${2:?api url}"; region="${3:?region}"; out="${4:?out dir}"
else
  stack="${1:?usage: deploy/write-config.sh STACK REGION OUT_DIR}"; region="${2:?region}"; out="${3:?out dir}"
  api=$(aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='ApiUrl'].OutputValue" --output text)
fi
case "$api" in
  https://*|http://127.0.0.1*|http://localhost*) ;;
  *) echo "write-config: unexpected API URL '$api'" >&2; exit 1 ;;
esac
case "$region" in
  *[!a-z0-9-]*|"") echo "write-config: unexpected region '$region'" >&2; exit 1 ;;
esac
mkdir -p "$out"
printf 'window.INCIDENTS_CONFIG = {"apiBase":"%s","mode":"aws","region":"%s"};\n' "${api%/}" "$region" > "$out/config.js"
echo "wrote $out/config.js (apiBase ${api%/}, region $region)"
