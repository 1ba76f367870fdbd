#!/usr/bin/env bash
# Deletes a deployment: empties the web bucket (CloudFormation cannot delete a non-empty one),
# then the stack. The tickets table refuses while deletion protection is on: deploy once with
# DELETION_PROTECTION=false first. The SecureStrings created by deploy/secrets.sh stay; delete
# them with `aws ssm delete-parameter` if the stage is gone for good.
set -euo pipefail
stack="${1:?usage: deploy/undeploy.sh STACK}"
bucket=$(aws cloudformation describe-stacks --stack-name "$stack" \
  --query "Stacks[0].Outputs[?OutputKey=='WebBucketName'].OutputValue" --output text)
if [ -n "$bucket" ] && [ "$bucket" != "None" ]; then
  aws s3 rm "s3://$bucket" --recursive
fi
sam delete --stack-name "$stack" --no-prompts
