# Incident Manager. `make run` runs everything embedded on this machine; `make test` installs
# what the tests need (npm test tools, Debian chromium) and runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
GO    ?= go
ARGS  ?=
# What --version reports (see cmd/incidents/flags.go); without git, Go's own build information.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
# Root (CI, containers) installs packages directly; a developer's laptop goes through sudo.
SUDO  := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: run test test-go test-race fuzz corpus deps npm-deps chromium alertmanager build bin lint bench clean clean-data

# The server is exec'ed by the recipe's shell, so it is make's own child: Ctrl-C stops it
# gracefully, and a make that is killed takes the server with it (go run would leave its child
# running). The command line is not echoed: ARGS may hold a webhook URL, whose path is a secret.
run: bin
	@echo "Starting build/incidents serve$(if $(ARGS), with your ARGS (not shown),) - stop it with Ctrl-C"
	@exec build/incidents serve $(ARGS)

test: deps lint test-go test-race fuzz corpus

test-go:
	$(GO) test -count=1 -timeout 40m ./...

# The packages where goroutines meet (group commit, workflow runner, leases, the Step Functions
# API, the engine's Map/Parallel, the throttle and the connection limit) once more under the
# race detector.
test-race:
	CGO_ENABLED=1 $(GO) test -count=1 -race ./api/ ./statemachine/ ./tasks/ ./internal/sqlite/ ./internal/sfnapi/ ./internal/asl/ ./internal/outbox/ ./cmd/incidents/ ./intake/

# A short bounded run of every fuzz target past its committed seed corpus (testdata/fuzz/):
# what reporters send (decoding, validation), the list cursor, the notification rendering
# (no forged line on any channel), and the ASL engine's JSONPath and intrinsic parsers.
# FUZZTIME=10m make fuzz for a longer hunt; a failure leaves its input in testdata/fuzz/.
FUZZTIME ?= 10s
FUZZ_TARGETS := ./api/:FuzzCreateTicket ./internal/jsonstrict/:FuzzDecode ./internal/ticket/:FuzzValidate \
	./internal/ticket/:FuzzCursorDecode ./tasks/:FuzzNewMessage ./internal/asl/:FuzzJSONPath ./internal/asl/:FuzzIntrinsic
fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
		out=$$($(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime=$(FUZZTIME) $$pkg 2>&1) || { echo "$$out"; exit 1; }; \
		echo "$$fn ($$pkg): $$(echo "$$out" | grep -o 'execs: [0-9]*' | tail -1) in $(FUZZTIME), no failure"; done

# The ASL engine against executions recorded on AWS Step Functions: the pass rate per category.
# The corpus is optional (ASL_CORPUS, or ../shared/asl-corpus beside the checkout): without it
# this prints one line saying so and passes, except with CI=true, where it is required.
corpus:
	$(GO) test -count=1 -run '^TestCorpus$$' -v ./internal/asl/ | grep -v -e '^=== RUN' -e '^    ' -e '^--- PASS: TestCorpus/'

deps: npm-deps chromium alertmanager

# dynalite (second DynamoDB stand-in), asl-validator and axe-core (the browser tests' accessibility
# checks), pinned in package-lock.json.
npm-deps: node_modules/.installed
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Prometheus Alertmanager for the intake tests, built once from the Go module proxy into
# build/alertmanager-v0.35.0/ (1-2 minutes, bounded to 15; see the script). Mailpit, the other
# mail stand-in, is a Go tool dependency that `go tool mailpit` builds when a test needs it.
alertmanager:
	@TIMEOUT=900 bash test/tools/alertmanager.sh

# Headless Chromium for the browser tests, from Debian's packages.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian chromium for the browser tests"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; }
	@chromium --version

build: bin lambdas

# Pure Go everywhere (CGO_ENABLED=0): the SQLite driver is modernc.org/sqlite, and the binary
# runs on any Linux or macOS machine without a C toolchain or libc match.
bin:
	@echo "Building build/incidents (the first build on a cold Go cache compiles SQLite and the AWS SDK: a few minutes; later ones take seconds)"
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o build/incidents ./cmd/incidents

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

# Build output only. ./data (the ticket database, the outbox and the admin token) is kept:
# deleting it is make clean-data, asked for by name.
clean:
	rm -rf build .aws-sam
	@if [ -d data ]; then echo "kept ./data (tickets, outbox, admin token); make clean-data deletes it"; fi

clean-data:
	@echo "deleting ./data: the ticket database, the outbox and the admin token"
	rm -rf data

-include deploy/lambda.mk
