#!/usr/bin/env bash
# Deletes a deployment: empties the web bucket (CloudFormation cannot delete a non-empty one),
# then the stack. The tickets table is retained (DeletionPolicy: Retain) and so are the
# SecureStrings created by deploy/secrets.sh; deploy/README.md ("Teardown") says how to delete
# them too when the stage is gone for good.
#   deploy/undeploy.sh STACK REGION
set -euo pipefail
stack="${1:?usage: deploy/undeploy.sh STACK REGION}"
region="${2:?usage: deploy/undeploy.sh STACK REGION}"
output() {
  aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
bucket=$(output WebBucketName)
table=$(output TableName)
if [ -n "$bucket" ] && [ "$bucket" != "None" ]; then
  aws s3 rm "s3://$bucket" --region "$region" --recursive
fi
sam delete --stack-name "$stack" --region "$region" --no-prompts
echo "kept the tickets table $table ($region); to delete it as well:"
echo "  aws dynamodb update-table --region $region --table-name $table --no-deletion-protection-enabled"
echo "  aws dynamodb delete-table --region $region --table-name $table"
