# vigil — see README.md. `make demo` and `make test` are the two commands a
# new machine needs; the rest are their parts.
GO        ?= go
BIN       := bin/vigil
CACHE     := .cache
NODE_DIR  := $(CACHE)/node
SQS_PKG   := local-aws-sqs@2.0.2
DEMO_DIR  := $(CACHE)/demo
# Packages whose tests exercise goroutines: always run under the race detector.
RACE_PKGS := ./internal/scheduler/... ./internal/store/... ./internal/engine/... ./internal/scriptlog/... ./internal/notify/... ./internal/web/...

export VIGIL_NODE_MODULES := $(abspath $(NODE_DIR))/node_modules

.PHONY: build test unit race lint bench demo deps clean

build:
	$(GO) build -o $(BIN) ./cmd/vigil

## deps: test-time helpers that are not Go modules (the local SQS server).
deps: $(NODE_DIR)/node_modules/local-aws-sqs/package.json

$(NODE_DIR)/node_modules/local-aws-sqs/package.json:
	mkdir -p $(NODE_DIR)
	npm install --silent --no-audit --no-fund --prefix $(NODE_DIR) $(SQS_PKG)

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

demo: build
	mkdir -p $(DEMO_DIR)
	$(GO) run ./internal/demo/seedcmd -o $(DEMO_DIR)/policies.db --scenario reissue-missing-copy --scenario double-write
	VIGIL_DEMO_DIR=$(abspath $(DEMO_DIR)) ./$(BIN) run --once -c internal/demo/example/vigil.yaml; \
	  code=$$?; [ $$code -le 1 ] || exit $$code

clean:
	rm -rf bin $(CACHE)
