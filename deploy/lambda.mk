# AWS build and deploy targets; included from the Makefile.
#
#   make lambdas    one zip per function: build/<fn>.zip (linux/arm64 bootstrap, provided.al2023)
#   make deploy     sam build && sam deploy, then the web app: config.js + web/static to S3
#   make site       only the web app step of deploy (config.js, sync, CloudFront invalidation)
#   make undeploy   empty the web bucket and delete the stack (the tickets table is retained)
#
# Parameters (make deploy VAR=value):
#   STACK                CloudFormation stack name                       (incident-manager)
#   STAGE                deployment name, SSM/log prefix                 (prod)
#   AWS_REGION           the one region of every command                 (AWS_DEFAULT_REGION, else the AWS CLI's)
#   ADMIN_EMAIL          email subscribed to notifications and alarms    (none)
#   ALLOWED_ORIGIN       CORS origin of the web app                      (https://DOMAIN_NAME, else the CloudFront URL)
#   DOMAIN_NAME          custom domain of the web app                    (none)
#   CERTIFICATE_ARN      ACM certificate (us-east-1) for DOMAIN_NAME     (none)
#   DELETION_PROTECTION  true | false for the tickets table              (true)
#   ALARMS               true | false: CloudWatch alarms                 (true)
#   WEBHOOKS             initial webhook URLs, comma-separated           (none)
#   SES_IDENTITY         verified SES domain or address for reporter mail (none: no reporter mail)
#   MAIL_FROM            From address of reporter mail, within SES_IDENTITY (none)
#   SUPPORT_ADDRESS      email in: this address becomes tickets (SES receipt rule) (none)
#
# Every deploy passes all of them, so a deploy says the whole configuration: give the same
# values each time (an omitted ADMIN_EMAIL removes the subscription).
# Needs the AWS SAM CLI, the AWS CLI v2 and credentials allowed to create the stack's resources.

LAMBDA_PKGS := api/create api/get api/scan api/admin api/authorizer api/intake tasks/publish tasks/record tasks/sweep tasks/reportermail intake/heartbeats intake/mailin
LAMBDA_ZIPS := $(foreach p,$(LAMBDA_PKGS),build/$(notdir $(p)).zip)
GO_SOURCES  := $(shell git ls-files '*.go' 2>/dev/null) go.mod go.sum

STACK               ?= incident-manager
STAGE               ?= prod
ADMIN_EMAIL         ?=
ALLOWED_ORIGIN      ?=
DOMAIN_NAME         ?=
CERTIFICATE_ARN     ?=
DELETION_PROTECTION ?= true
ALARMS              ?= true
WEBHOOKS            ?= -
SES_IDENTITY        ?=
MAIL_FROM           ?=
SUPPORT_ADDRESS     ?=
# One region for the secrets, the build, the stack, the site and the teardown, passed to each
# command with --region: SAM CLI reads AWS_DEFAULT_REGION and the AWS CLI AWS_REGION, so
# leaving it to the environment could put the stack and its SecureStrings in different regions.
AWS_REGION          ?= $(or $(AWS_DEFAULT_REGION),$(shell aws configure get region 2>/dev/null))

# sam_param renders one --parameter-overrides value as SAM CLI's parser reads it back whole:
# Key="value", double quotes in the value escaped for SAM, and the word single-quoted for the
# shell. Unquoted, an empty value (AdminEmail=) is refused by SAM CLI, and one with a space is
# cut short. $(2) names the make variable, because values may hold commas.
sam_param = '$(1)="$(subst ','\'',$(subst ",\",$($(2))))"'

SAM_PARAMS = $(call sam_param,Stage,STAGE) $(call sam_param,DeletionProtection,DELETION_PROTECTION) \
	$(call sam_param,AdminEmail,ADMIN_EMAIL) $(call sam_param,AllowedOrigin,ALLOWED_ORIGIN) \
	$(call sam_param,DomainName,DOMAIN_NAME) $(call sam_param,CertificateArn,CERTIFICATE_ARN) \
	$(call sam_param,Alarms,ALARMS) $(call sam_param,WebhookUrls,WEBHOOKS) \
	$(call sam_param,SesIdentity,SES_IDENTITY) $(call sam_param,MailFrom,MAIL_FROM) \
	$(call sam_param,SupportAddress,SUPPORT_ADDRESS)

.PHONY: lambdas deploy site undeploy aws-region

lambdas: zip-tool $(LAMBDA_ZIPS)

# Debian's zip, installed when missing (as make test does for chromium).
.PHONY: zip-tool
zip-tool:
	@command -v zip >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends zip >/dev/null; }

# build/<fn>.zip from ./api/<fn> or ./tasks/<fn>; -tags lambda.norpc drops the unused RPC mode.
define lambda_rule
build/$(notdir $(1)).zip: $$(GO_SOURCES)
	@mkdir -p build/$(notdir $(1))
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $$(GO) build -trimpath -tags lambda.norpc -ldflags=-s -o build/$(notdir $(1))/bootstrap ./$(1)
	@rm -f $$@ && cd build/$(notdir $(1)) && zip -q -X ../$(notdir $(1)).zip bootstrap
	@echo "built $$@"
endef
$(foreach p,$(LAMBDA_PKGS),$(eval $(call lambda_rule,$(p))))

aws-region:
	@test -n "$(AWS_REGION)" || { echo "No AWS region: give one, e.g. make deploy AWS_REGION=eu-west-1 (or aws configure set region eu-west-1)"; exit 1; }
	@echo "region $(AWS_REGION)"

# sam build uses each function's BuildMethod (go1.x), without its cache: SAM's cache looks only
# at each function's own folder (just main.go), so changes to api/, internal/ or go.mod would
# never be rebuilt. Go's own build cache keeps a full build quick. The overrides are not echoed:
# WEBHOOKS holds secrets.
deploy: aws-region
	@command -v sam >/dev/null || { echo "deploy needs the AWS SAM CLI (sam)"; exit 1; }
	@command -v aws >/dev/null || { echo "deploy needs the AWS CLI (aws)"; exit 1; }
	deploy/secrets.sh $(STAGE) $(AWS_REGION)
	CGO_ENABLED=0 GOFLAGS=-tags=lambda.norpc sam build --parallel --region $(AWS_REGION)
	@echo "sam deploy --stack-name $(STACK) --region $(AWS_REGION) --parameter-overrides (Stage=$(STAGE), ...; not shown: they may hold webhook secrets)"
	@sam deploy --stack-name $(STACK) --region $(AWS_REGION) --no-fail-on-empty-changeset --parameter-overrides $(SAM_PARAMS)
	deploy/check-subscriptions.sh $(STACK) $(AWS_REGION)
	$(MAKE) site AWS_REGION=$(AWS_REGION)

site: aws-region
	deploy/publish-site.sh $(STACK) $(AWS_REGION)

undeploy: aws-region
	deploy/undeploy.sh $(STACK) $(AWS_REGION)
