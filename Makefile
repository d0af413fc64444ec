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
	$(GO) test -count=1 -parallel 4 -timeout 30m ./...

demo: deps build
	$(GO) run ./examples/demo

warehouse: deps build
	$(GO) run ./examples/warehouse

bench: deps build
	$(GO) run ./internal/bench -sluice $(BIN)

# Every fuzz target of our own decoders and parsers, FUZZTIME each (their
# seed corpora also run as ordinary tests in `make test`).
FUZZTIME ?= 30s
FUZZ_TARGETS := \
	./source/postgres/pgoutput:FuzzParse \
	./source/postgres:FuzzCopyParser \
	./source/mysql:FuzzTableMapRows \
	./source/mysql:FuzzParsePosition \
	./source/mysql:FuzzMariaGTIDs \
	./source/mysql:FuzzPositionCompare \
	./source/mysql:FuzzBitsSetsEnums \
	./source/mysql:FuzzLabels \
	./source/mysql:FuzzParseTruncate \
	./pkg/transform/where:FuzzWhere \
	./pkg/transform/where:FuzzVar \
	./pkg/typemap:FuzzValues \
	./pkg/typemap:FuzzPGArray \
	./sink/envelope:FuzzEncode \
	./source/kafka:FuzzDecode

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$pkg $$name"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME); \
	done

clean:
	rm -rf bin
