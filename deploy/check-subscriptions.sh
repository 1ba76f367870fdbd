#!/usr/bin/env bash
# Says whether anyone receives the admin notifications. On AWS a ticket's notification is SENT
# once SNS has accepted it, and SNS delivers only to confirmed subscriptions; CloudFormation
# cannot see confirmations, so this asks SNS after each deploy. It warns; it never fails.
#   deploy/check-subscriptions.sh STACK REGION
set -euo pipefail
stack="${1:?usage: deploy/check-subscriptions.sh STACK REGION}"
region="${2:?usage: deploy/check-subscriptions.sh STACK REGION}"
topic=$(aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \
  --query "Stacks[0].Outputs[?OutputKey=='TopicArn'].OutputValue" --output text)
confirmed=0 pending=0
for arn in $(aws sns list-subscriptions-by-topic --region "$region" --topic-arn "$topic" \
  --query 'Subscriptions[].SubscriptionArn' --output text); do
  case "$arn" in
    PendingConfirmation) pending=$((pending + 1)) ;;
    arn:*) confirmed=$((confirmed + 1)) ;;
  esac
done
if [ "$confirmed" -gt 0 ]; then
  echo "admin topic: $confirmed confirmed subscription(s), $pending awaiting confirmation"
  exit 0
fi
echo "WARNING: the admin topic has no confirmed subscription: notifications will be recorded SENT"
echo "(SNS accepted them) but reach nobody. $pending subscription(s) await the link in their confirmation mail."
echo "Subscribe with: aws sns subscribe --region $region --topic-arn $topic --protocol email --notification-endpoint you@example.com"
