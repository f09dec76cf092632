# berth's dev loop (STYLE.md §7). Tools are pinned in tools/*/go.mod and
# rebuilt only when those files change.
export GOTOOLCHAIN := local
BIN := $(CURDIR)/bin
GO ?= go

# The Temporal CLI reports the version pinned in tools/temporal/go.mod.
TEMPORAL_CLI_VERSION = $(shell $(GO) list -C tools/temporal -m -f '{{.Version}}' github.com/temporalio/cli)

FUZZTIME ?= 30s
BENCH ?= .

.PHONY: build dev test lint bench bench-go fuzz migrate-new clean tools

## build: bin/berth
build:
	$(GO) build -o $(BIN)/berth ./cmd/berth

## dev: Temporal dev server, Postgres, API and a worker, until Ctrl-C
dev: build $(BIN)/temporal
	$(BIN)/berth dev --temporal-cli $(BIN)/temporal

## test: lint, then every test with the built Temporal CLI and berth binary
test: lint build $(BIN)/temporal
	BERTH_BIN=$(BIN)/berth TEMPORAL_CLI=$(BIN)/temporal \
		$(GO) test -race -shuffle=on -count=1 -timeout 25m ./...

## lint: gofmt, go vet, workflowcheck, staticcheck
lint: $(BIN)/workflowcheck $(BIN)/staticcheck
	@files="$$(gofmt -l .)"; if [ -n "$$files" ]; then echo "gofmt -l: not formatted:"; echo "$$files"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/workflowcheck ./workflows/...
	$(BIN)/staticcheck ./...

## bench: the deployment benchmark (cmd/bench): import, build, list and log latency, RSS; BENCH_FLAGS to pass flags
bench: build $(BIN)/temporal
	$(GO) run ./cmd/bench --berth $(BIN)/berth --temporal-cli $(BIN)/temporal $(BENCH_FLAGS)

## bench-go: every Go benchmark (BENCH=regexp to pick)
bench-go: $(BIN)/temporal
	TEMPORAL_CLI=$(BIN)/temporal $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem ./...

## fuzz: FuzzExtractArchive for FUZZTIME (30s)
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzExtractArchive$$' -fuzztime $(FUZZTIME) ./provisioner

## migrate-new NAME=add_foo: a new pair of SQL migrations in db/migrations
migrate-new: build
	@if [ -z '$(NAME)' ]; then echo 'usage: make migrate-new NAME=short_snake_case_name' >&2; exit 2; fi
	$(BIN)/berth migrate create '$(NAME)'

## tools: bin/temporal, bin/workflowcheck, bin/staticcheck (pinned in tools/*/go.mod)
tools: $(BIN)/temporal $(BIN)/workflowcheck $(BIN)/staticcheck

## clean: remove bin/ (built binaries and tools; .dev/ state is kept)
clean:
	rm -rf $(BIN)

$(BIN)/temporal: tools/temporal/go.mod tools/temporal/go.sum # ~3.5 min cold
	$(GO) build -C tools/temporal -ldflags '-X github.com/temporalio/cli/temporalcli.Version=$(TEMPORAL_CLI_VERSION:v%=%)' \
		-o $@ github.com/temporalio/cli/cmd/temporal

$(BIN)/workflowcheck: tools/lint/go.mod tools/lint/go.sum
	$(GO) build -C tools/lint -o $@ go.temporal.io/sdk/contrib/tools/workflowcheck

$(BIN)/staticcheck: tools/lint/go.mod tools/lint/go.sum
	$(GO) build -C tools/lint -o $@ honnef.co/go/tools/cmd/staticcheck
