#!/usr/bin/env bash
# Creates the stage's SecureString parameters once (CloudFormation cannot create SecureStrings):
#   /incident-manager/<stage>/admin-token  the bearer token admins type into the web app
#   /incident-manager/<stage>/cursor-key   the key that seals list cursors
# Existing values are kept, so redeploying never logs admins out or breaks cursors.
#   deploy/secrets.sh STAGE REGION
set -euo pipefail
stage="${1:?usage: deploy/secrets.sh STAGE REGION}"
region="${2:?usage: deploy/secrets.sh STAGE REGION}"
for name in admin-token cursor-key; do
  param="/incident-manager/${stage}/${name}"
  if aws ssm get-parameter --region "$region" --name "$param" --query Parameter.Name --output text >/dev/null 2>&1; then
    echo "kept $param ($region)"
  else
    aws ssm put-parameter --region "$region" --name "$param" --type SecureString --value "$(openssl rand -hex 32)" >/dev/null
    echo "created $param ($region)"
  fi
done
echo "Read the admin token with:"
echo "  aws ssm get-parameter --region ${region} --with-decryption --name /incident-manager/${stage}/admin-token --query Parameter.Value --output text"
