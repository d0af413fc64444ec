# Sluice — build, test, demo, bench. Everything runs on a fresh Debian machine
# with Go and PostgreSQL installed; `make deps` installs what is missing.
GO ?= go
BIN := bin/sluice
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build test demo warehouse bench fuzz deps vet clean

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/sluice

deps:
	bash scripts/deps.sh

test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

demo: deps build
	$(GO) run ./examples/demo

warehouse: deps build
	$(GO) run ./examples/warehouse

bench: deps build
	$(GO) run ./internal/bench -sluice $(BIN)

fuzz:
	$(GO) test ./source/postgres/pgoutput -run '^$$' -fuzz FuzzParse -fuzztime 60s

clean:
	rm -rf bin
