#!/usr/bin/env bash
# Uploads the web app to the stack's private bucket: web/static as-is, the generated config.js
# and the workflow definition the admin view draws, then invalidates CloudFront.
#   deploy/publish-site.sh STACK REGION
set -euo pipefail
stack="${1:?usage: deploy/publish-site.sh STACK REGION}"
region="${2:?usage: deploy/publish-site.sh STACK REGION}"
cd "$(dirname "$0")/.."
output() {
  aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
bucket=$(output WebBucketName)
distribution=$(output DistributionId)
deploy/write-config.sh "$stack" "$region" build/site
cp statemachine/notify.asl.json build/site/workflow.asl.json
aws s3 sync web/static "s3://$bucket/" --region "$region" --delete --exclude config.js --exclude workflow.asl.json \
  --cache-control "no-cache"
aws s3 cp build/site/config.js "s3://$bucket/config.js" --region "$region" --content-type "text/javascript; charset=utf-8" --cache-control "no-store"
aws s3 cp build/site/workflow.asl.json "s3://$bucket/workflow.asl.json" --region "$region" --content-type application/json --cache-control "no-cache"
# CloudFront is global; its API is served from us-east-1.
aws cloudfront create-invalidation --region us-east-1 --distribution-id "$distribution" --paths "/*" >/dev/null
echo "site: $(output SiteUrl)"
