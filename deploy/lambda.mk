# AWS build and deploy targets; included from the Makefile.
#
#   make lambdas    one zip per function: build/<fn>.zip (linux/arm64 bootstrap, provided.al2023)
#   make deploy     sam build && sam deploy, then the web app: config.js + web/static to S3
#   make site       only the web app step of deploy (config.js, sync, CloudFront invalidation)
#   make undeploy   empty the web bucket and delete the stack (the table needs
#                   DELETION_PROTECTION=false deployed first)
#
# Parameters (make deploy VAR=value):
#   STACK                CloudFormation stack name            (incident-manager)
#   STAGE                deployment name, SSM/log prefix      (prod)
#   AWS_REGION           region                               (your AWS CLI default)
#   ADMIN_EMAIL          email subscribed to notifications    (none)
#   ALLOWED_ORIGIN       CORS origin of the web app           (the CloudFront URL)
#   DELETION_PROTECTION  true | false for the tickets table   (true)
#   WEBHOOKS             initial webhook URLs, comma-separated (none)
#
# Needs the AWS SAM CLI, the AWS CLI v2 and credentials allowed to create the stack's resources.

LAMBDA_PKGS := api/create api/get api/scan api/admin api/authorizer tasks/publish tasks/record tasks/sweep
LAMBDA_ZIPS := $(foreach p,$(LAMBDA_PKGS),build/$(notdir $(p)).zip)
GO_SOURCES  := $(shell git ls-files '*.go' 2>/dev/null) go.mod go.sum

STACK               ?= incident-manager
STAGE               ?= prod
ADMIN_EMAIL         ?=
ALLOWED_ORIGIN      ?=
DELETION_PROTECTION ?= true
WEBHOOKS            ?= -

SAM_PARAMS = Stage=$(STAGE) DeletionProtection=$(DELETION_PROTECTION) \
	AdminEmail='$(ADMIN_EMAIL)' AllowedOrigin='$(ALLOWED_ORIGIN)' WebhookUrls='$(WEBHOOKS)'

.PHONY: lambdas deploy site undeploy

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

deploy:
	@command -v sam >/dev/null || { echo "deploy needs the AWS SAM CLI (sam)"; exit 1; }
	@command -v aws >/dev/null || { echo "deploy needs the AWS CLI (aws)"; exit 1; }
	deploy/secrets.sh $(STAGE)
	GOFLAGS=-tags=lambda.norpc sam build --parallel
	sam deploy --stack-name $(STACK) --parameter-overrides $(SAM_PARAMS) --no-fail-on-empty-changeset
	$(MAKE) site

site:
	deploy/publish-site.sh $(STACK)

undeploy:
	deploy/undeploy.sh $(STACK)
