# Incident Manager. `make run` runs everything embedded on this machine; `make test` installs
# what the tests need (npm test tools, Debian chromium) and runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
GO    ?= go
ARGS  ?=
# Root (CI, containers) installs packages directly; a developer's laptop goes through sudo.
SUDO  := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: run test test-go test-race corpus deps npm-deps chromium build bin lint bench clean

run:
	$(GO) run ./cmd/incidents serve $(ARGS)

test: deps lint test-go test-race corpus

test-go:
	$(GO) test -count=1 -timeout 40m ./...

# The packages where goroutines meet (group commit, workflow runner, leases, the Step Functions
# API, the engine's Map/Parallel) once more under the race detector.
test-race:
	$(GO) test -count=1 -race ./api/ ./statemachine/ ./tasks/ ./internal/sqlite/ ./internal/sfnapi/ ./internal/asl/ ./internal/outbox/

# The ASL engine against executions recorded on AWS Step Functions (../shared/asl-corpus):
# the pass rate per category.
corpus:
	$(GO) test -count=1 -run '^TestCorpus$$' -v ./internal/asl/ | grep -v -e '^=== RUN' -e '^    ' -e '^--- PASS: TestCorpus/'

deps: npm-deps chromium

# dynalite (second DynamoDB stand-in) and asl-validator, pinned in package-lock.json.
npm-deps: node_modules/.installed
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Headless Chromium for the browser tests, from Debian's packages.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian chromium for the browser tests"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; }
	@chromium --version

build: bin lambdas

bin:
	CGO_ENABLED=0 $(GO) build -trimpath -o build/incidents ./cmd/incidents

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
		if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run ./cmd/incidents asl validate --definition statemachine/notify.asl.json

# Figures and ratios, not pass/fail: the whole product over HTTP beside a bare net/http server,
# and the in-process micro-benchmarks, written to BENCHMARKS.md and docs/bench/*.png. BENCH_*
# variables change what it runs (BENCH_SIZES=10k,100k,1m adds a million tickets): see the
# "Reproduce" table in BENCHMARKS.md.
bench:
	$(GO) run ./cmd/incidents-bench

clean:
	rm -rf build data

-include deploy/lambda.mk
