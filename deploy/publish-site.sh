#!/usr/bin/env bash
# Uploads the web app to the stack's private bucket: web/static as-is, the generated config.js
# and the workflow definition the admin view draws, then invalidates CloudFront.
set -euo pipefail
stack="${1:?usage: deploy/publish-site.sh STACK}"
cd "$(dirname "$0")/.."
output() {
  aws cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
bucket=$(output WebBucketName)
distribution=$(output DistributionId)
deploy/write-config.sh "$stack" build/site
cp statemachine/notify.asl.json build/site/workflow.asl.json
aws s3 sync web/static "s3://$bucket/" --delete --exclude config.js --exclude workflow.asl.json \
  --cache-control "no-cache"
aws s3 cp build/site/config.js "s3://$bucket/config.js" --content-type "text/javascript; charset=utf-8" --cache-control "no-store"
aws s3 cp build/site/workflow.asl.json "s3://$bucket/workflow.asl.json" --content-type application/json --cache-control "no-cache"
aws cloudfront create-invalidation --distribution-id "$distribution" --paths "/*" >/dev/null
echo "site: $(output SiteUrl)"
