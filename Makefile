# berth's dev loop (STYLE.md §7). Tools are pinned in tools/*/go.mod and
# rebuilt only when those files change.
export GOTOOLCHAIN := local
BIN := $(CURDIR)/bin
GO ?= go

# The Temporal CLI reports the version pinned in tools/temporal/go.mod.
TEMPORAL_CLI_VERSION = $(shell $(GO) list -C tools/temporal -m -f '{{.Version}}' github.com/temporalio/cli)

# Terraform: $BERTH_TERRAFORM_PATH, else terraform or tofu on PATH, else
# bin/terraform built from tools/terraform (Terraform 1.5.7, the last MPL
# release). The coder provider is built from tools/coderprovider into a
# filesystem mirror, so templates using it need no network.
TERRAFORM ?= $(or $(BERTH_TERRAFORM_PATH),$(shell command -v terraform || command -v tofu),$(BIN)/terraform)
TF_MIRROR := $(BIN)/terraform-providers
TF_PLATFORM := $(shell $(GO) env GOOS)_$(shell $(GO) env GOARCH)
CODER_PROVIDER_VERSION := $(patsubst v%,%,$(shell sed -n 's|^\s*github.com/coder/terraform-provider-coder/v2 \(v[^ ]*\).*|\1|p' tools/coderprovider/go.mod))
CODER_PROVIDER := $(TF_MIRROR)/registry.terraform.io/coder/coder/$(CODER_PROVIDER_VERSION)/$(TF_PLATFORM)/terraform-provider-coder_v$(CODER_PROVIDER_VERSION)
TF_ENV = BERTH_TERRAFORM_PATH=$(TERRAFORM) BERTH_TERRAFORM_MIRROR=$(TF_MIRROR)

FUZZTIME ?= 30s
# Every fuzz target (package:Target): parsers of what users send. Their
# seed corpora run in every go test; make test also fuzzes each for
# FUZZTIME_BRIEF, make fuzz for FUZZTIME. The brief run counts executions
# rather than seconds: Go 1.26's fuzz coordinator can fail a target with a
# bare "context deadline exceeded" when a duration ends while a worker is
# busy (go.dev/issue/75804, fixed in Go 1.27), which a loaded CI machine hits.
# A duration run (make fuzz) can still show it; it is no finding unless a
# crasher is written under testdata/fuzz.
FUZZ_TARGETS := ./provisioner:FuzzExtractArchive ./api/search:FuzzWorkspaceQuery ./api/search:FuzzTemplateQuery \
	./api/search:FuzzUserQuery ./api/httpapi:FuzzReadBody ./schedule:FuzzSchedule
FUZZTIME_BRIEF ?= 2000x
BENCH ?= .

.PHONY: build dev test lint bench bench-go fuzz fuzz-brief migrate-new clean tools terraform

# nomsgpack leaves gin's MessagePack codec (github.com/ugorji/go, which
# berth never uses) out of the binary: 9 MB smaller, and every berth
# process 1-2 MB smaller in memory (the kernel maps a binary's pages around
# each one it reads).
BERTH_TAGS := nomsgpack

## build: bin/berth
build:
	$(GO) build -tags $(BERTH_TAGS) -o $(BIN)/berth ./cmd/berth

## dev: Temporal (durable, on Postgres) with its Web UI, Postgres, API and a worker, until Ctrl-C
dev: build $(BIN)/temporal-server $(BIN)/temporal terraform
	$(TF_ENV) $(BIN)/berth dev --temporal-server $(BIN)/temporal-server --temporal-cli $(BIN)/temporal

## test: lint, then every test with the built Temporal CLI and server, the coder CLI and berth binary
test: lint build $(BIN)/temporal $(BIN)/temporal-server $(BIN)/coder terraform
	BERTH_BIN=$(BIN)/berth TEMPORAL_CLI=$(BIN)/temporal TEMPORAL_SERVER=$(BIN)/temporal-server CODER_CLI=$(BIN)/coder $(TF_ENV) \
		$(GO) test -race -shuffle=on -count=1 -timeout 25m ./...
	$(MAKE) fuzz-brief

## lint: gofmt, go vet, workflowcheck, staticcheck
lint: $(BIN)/workflowcheck $(BIN)/staticcheck
	@files="$$(gofmt -l .)"; if [ -n "$$files" ]; then echo "gofmt -l: not formatted:"; echo "$$files"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/workflowcheck ./workflows/...
	$(BIN)/staticcheck ./...

## bench: the deployment benchmark (cmd/bench): import, build, list and log latency, CPU, RSS; BENCH_FLAGS to pass flags (--temporal memory|sqlite|postgres)
bench: build $(BIN)/temporal $(BIN)/temporal-server
	$(GO) run ./cmd/bench --berth $(BIN)/berth --temporal-cli $(BIN)/temporal --temporal-server $(BIN)/temporal-server $(BENCH_FLAGS)

## bench-go: every Go benchmark (BENCH=regexp to pick)
bench-go: $(BIN)/temporal
	TEMPORAL_CLI=$(BIN)/temporal $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem ./...

## fuzz: every fuzz target (FUZZ_TARGETS) for FUZZTIME (30s) each
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t#*:} ($${t%%:*}) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME) "$${t%%:*}"; \
	done

## fuzz-brief: every fuzz target for FUZZTIME_BRIEF (2000 executions) each (part of make test)
fuzz-brief:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME_BRIEF)

## migrate-new NAME=add_foo: a new pair of SQL migrations in db/migrations
migrate-new: build
	@if [ -z '$(NAME)' ]; then echo 'usage: make migrate-new NAME=short_snake_case_name' >&2; exit 2; fi
	$(BIN)/berth migrate create '$(NAME)'

## terraform: a Terraform binary (built into bin/ only if none is found) and the coder provider mirror
terraform: $(TERRAFORM) $(CODER_PROVIDER)
	@echo "terraform: $(TERRAFORM); provider mirror: $(TF_MIRROR)"

## tools: bin/temporal, bin/temporal-server, bin/coder, bin/workflowcheck, bin/staticcheck, terraform (pinned in tools/*/go.mod)
tools: $(BIN)/temporal $(BIN)/temporal-server $(BIN)/coder $(BIN)/workflowcheck $(BIN)/staticcheck terraform

## clean: remove bin/ (built binaries and tools; .dev/ state is kept)
clean:
	rm -rf $(BIN)

$(BIN)/temporal: tools/temporal/go.mod tools/temporal/go.sum # ~3.5 min cold
	$(GO) build -C tools/temporal -ldflags '-X github.com/temporalio/cli/temporalcli.Version=$(TEMPORAL_CLI_VERSION:v%=%)' \
		-o $@ github.com/temporalio/cli/cmd/temporal

# A Temporal server persisted in PostgreSQL, with its Web UI, built from
# go.temporal.io/server and the UI server module (tools/temporal-server).
$(BIN)/temporal-server: tools/temporal-server/go.mod tools/temporal-server/go.sum $(wildcard tools/temporal-server/*.go) # ~3 min cold
	$(GO) build -C tools/temporal-server -o $@ .

# The unmodified coder CLI (AGPL) that the CLI tests run as an external
# program against berth; it never enters berth's own module. It reports the
# pinned version, as a release build does.
CODER_CLI_VERSION = $(shell $(GO) list -C tools/coder -m -f '{{.Version}}' github.com/coder/coder/v2)
$(BIN)/coder: tools/coder/go.mod tools/coder/go.sum # ~10-14 min cold on 2 cores, ~1 min from the build cache
	$(GO) build -C tools/coder -ldflags '-X github.com/coder/coder/v2/buildinfo.tag=$(CODER_CLI_VERSION:v%=%)' \
		-o $@ github.com/coder/coder/v2/cmd/coder

$(BIN)/terraform: tools/terraform/go.mod tools/terraform/go.sum # ~1.5 min cold
	$(GO) build -C tools/terraform -o $@ github.com/hashicorp/terraform

# The same binary serves Terraform's and OpenTofu's registry addresses.
$(CODER_PROVIDER): tools/coderprovider/go.mod tools/coderprovider/go.sum
	$(GO) build -C tools/coderprovider -o $@ github.com/coder/terraform-provider-coder/v2
	mkdir -p $(subst registry.terraform.io,registry.opentofu.org,$(dir $@))
	ln -f $@ $(subst registry.terraform.io,registry.opentofu.org,$@)

$(BIN)/workflowcheck: tools/lint/go.mod tools/lint/go.sum
	$(GO) build -C tools/lint -o $@ go.temporal.io/sdk/contrib/tools/workflowcheck

$(BIN)/staticcheck: tools/lint/go.mod tools/lint/go.sum
	$(GO) build -C tools/lint -o $@ honnef.co/go/tools/cmd/staticcheck
