# vigil — see README.md. `make demo` and `make test` are the two commands a
# new machine needs; the rest are their parts.
GO        ?= go
BIN       := bin/vigil
CACHE     := .cache
NODE_DIR  := $(CACHE)/node
SQS_PKG   := local-aws-sqs@2.0.2
AXE_PKG   := axe-core@4
# Packages whose tests exercise goroutines: always run under the race detector.
RACE_PKGS := ./internal/scheduler/... ./internal/store/... ./internal/engine/... ./internal/scriptlog/... ./internal/notify/... ./internal/web/...

export VIGIL_NODE_MODULES := $(abspath $(NODE_DIR))/node_modules

.PHONY: build test unit race lint bench bench-serve demo deps clean

build:
	$(GO) build -o $(BIN) ./cmd/vigil

## deps: test-time helpers that are not Go modules: the local SQS server,
## and axe-core, which the browser tests run on every page (never served).
deps: $(NODE_DIR)/node_modules/local-aws-sqs/package.json $(NODE_DIR)/node_modules/axe-core/axe.min.js

$(NODE_DIR)/node_modules/local-aws-sqs/package.json:
	mkdir -p $(NODE_DIR)
	npm install --silent --no-audit --no-fund --prefix $(NODE_DIR) $(SQS_PKG)

$(NODE_DIR)/node_modules/axe-core/axe.min.js: $(NODE_DIR)/node_modules/local-aws-sqs/package.json
	npm install --silent --no-audit --no-fund --prefix $(NODE_DIR) $(AXE_PKG)

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

unit: deps
	$(GO) test -count=1 ./...

race: deps
	$(GO) test -count=1 -race $$($(GO) list $(RACE_PKGS) 2>/dev/null)

test: lint unit race

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x ./...

## bench-serve: vigil serve under 1,000 http, 1,000 sql and 10,000 http checks
## every 10s on SQLite (several minutes). VIGIL_BENCH_WINDOW=60s sets the
## measured window; VIGIL_BENCH_PROFILE=DIR keeps vigil's CPU and heap profiles.
bench-serve:
	VIGIL_BENCH_SERVE=1 $(GO) test -run '^$$' -bench '^BenchmarkServe$$' -benchtime 1x -timeout 60m ./internal/benchserve

## demo: the training sandbox (`vigil demo`): prints the dashboard URL and
## the demo users; DEMO_FLAGS adds flags, e.g. DEMO_FLAGS="--scenario slow-api".
demo: build
	./$(BIN) demo $(DEMO_FLAGS)

clean:
	rm -rf bin $(CACHE)
