# Drover's build. `make run` and `make test` are the two commands a
# newcomer needs; everything else is for working on Drover.

SHELL       := /bin/bash
GO          ?= go
BIN         ?= bin/drover
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -X main.version=$(VERSION)
# Pinned and run through `go run`, so nothing needs a manual install.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCHTIME   ?= 1x
FUZZTIME    ?= 30s

.PHONY: all build deps test unit fault corpus fmtcheck vet staticcheck lint fmt run stop plan-demo bench fuzz clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/drover

## deps: the optional components some tests need. As root with apt-get it
## installs busybox-static, QEMU and a kernel image; otherwise it says what
## is missing and which tests will skip. It checks for a Docker daemon and
## ../shared/testdata too, and never fails.
deps:
	@./scripts/test-deps.sh

## test: vet, staticcheck, the real-world corpus report, then every test
## with the race detector, ending with the skipped tests and why.
test: deps fmtcheck vet staticcheck corpus unit fault

## unit: every test with the race detector. The end-to-end tests that
## start their own dev cluster run four at a time (-parallel 4): they
## mostly wait on their clusters. The output is plain `go
## test`'s (ok lines, failing tests in full); tools/testsummary adds the
## skipped tests by reason at the end. go test's exit code decides.
unit:
	set -o pipefail; $(GO) test -race -count=1 -timeout 20m -parallel 4 -json ./... | $(GO) run ./tools/testsummary

## fault: the slow fault tests, alone so that their latency figures are
## not other tests' load: 100,000 allocations placed and purged on three
## servers with no leader change (issue 14). Budget: 5 minutes.
fault:
	set -o pipefail; DROVER_SLOW_TESTS=1 $(GO) test -count=1 -timeout 5m -run '^TestE2EBigJob$$' -v ./cmd/drover/ | grep -E '^(---|===|ok|FAIL|PASS)|bigjob_e2e_test'

## corpus: how many of the real Nomad job files in ../shared parse, and why
## the others are rejected (or why the test skipped).
corpus:
	@set -o pipefail; $(GO) test -count=1 -run '^TestCorpus$$' -v ./jobspec/ | grep -vE '^ *(=== (RUN|PAUSE|CONT|NAME)|--- PASS:)|^PASS$$'

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run $(STATICCHECK) ./...

lint: fmtcheck vet staticcheck

fmtcheck:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt'd (run make fmt):"; echo "$$out"; exit 1; fi

fmt:
	gofmt -w $$(git ls-files '*.go')

## run: start `drover dev` in the background (data in .drover/dev, log in
## .drover/dev.log), submit the example jobs and show the web service
## running. It stays up; `make stop` stops it and its tasks.
run: build
	./scripts/run-dev.sh $(BIN)

## stop: stop the dev cluster `make run` started.
stop:
	@if [ -f .drover/dev.pid ] && kill -0 $$(cat .drover/dev.pid) 2>/dev/null; then \
	  kill $$(cat .drover/dev.pid) && echo "stopping drover dev (pid $$(cat .drover/dev.pid))"; \
	  for i in $$(seq 100); do kill -0 $$(cat .drover/dev.pid) 2>/dev/null || break; sleep 0.1; done; \
	else echo "no dev cluster is running"; fi

## plan-demo: validate the example jobs, then plan a change to them from Git.
plan-demo: build
	./scripts/demo-plan.sh $(BIN)

## bench: every benchmark, printed as the table BENCHMARKS.md records.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./... | tee .bench.out | $(GO) run ./tools/benchtable

## fuzz: run each fuzz target for FUZZTIME (every Fuzz* function in the tree).
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseNodePoolHCL$$' -fuzztime $(FUZZTIME) ./cmd/drover/
	$(GO) test -run '^$$' -fuzz '^FuzzSchemaValidate$$' -fuzztime $(FUZZTIME) ./drivers/
	$(GO) test -run '^$$' -fuzz '^FuzzParseFilter$$' -fuzztime $(FUZZTIME) ./events/
	$(GO) test -run '^$$' -fuzz '^FuzzHostRule$$' -fuzztime $(FUZZTIME) ./httpguard/
	$(GO) test -run '^$$' -fuzz '^FuzzAPIJobJSON$$' -fuzztime $(FUZZTIME) ./jobspec/
	$(GO) test -run '^$$' -fuzz '^FuzzAPIJobYAML$$' -fuzztime $(FUZZTIME) ./jobspec/
	$(GO) test -run '^$$' -fuzz '^FuzzHCLJSON$$' -fuzztime $(FUZZTIME) ./jobspec/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./jobspec/
	$(GO) test -run '^$$' -fuzz '^FuzzOpen$$' -fuzztime $(FUZZTIME) ./pki/
	$(GO) test -run '^$$' -fuzz '^FuzzParseKEK$$' -fuzztime $(FUZZTIME) ./pki/
	$(GO) test -run '^$$' -fuzz '^FuzzParseJoinToken$$' -fuzztime $(FUZZTIME) ./pki/
	$(GO) test -run '^$$' -fuzz '^FuzzRender$$' -fuzztime $(FUZZTIME) ./render/
	$(GO) test -run '^$$' -fuzz '^FuzzLoadRepo$$' -fuzztime $(FUZZTIME) ./repo/
	$(GO) test -run '^$$' -fuzz '^FuzzParseSealed$$' -fuzztime $(FUZZTIME) ./repo/
	$(GO) test -run '^$$' -fuzz '^FuzzParseACLPolicy$$' -fuzztime $(FUZZTIME) ./server/
	$(GO) test -run '^$$' -fuzz '^FuzzBrowserGuard$$' -fuzztime $(FUZZTIME) ./server/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeStrict$$' -fuzztime $(FUZZTIME) ./server/
	$(GO) test -run '^$$' -fuzz '^FuzzJobPlan$$' -fuzztime $(FUZZTIME) ./server/
	$(GO) test -run '^$$' -fuzz '^FuzzJobRegister$$' -fuzztime $(FUZZTIME) ./server/
	$(GO) test -run '^$$' -fuzz '^FuzzNodeRegister$$' -fuzztime $(FUZZTIME) ./server/
	$(GO) test -run '^$$' -fuzz '^FuzzNodeUpdateAllocs$$' -fuzztime $(FUZZTIME) ./server/
	$(GO) test -run '^$$' -fuzz '^FuzzPullRequestWebhook$$' -fuzztime $(FUZZTIME) ./server/
	$(GO) test -run '^$$' -fuzz '^FuzzNodePoolRegister$$' -fuzztime $(FUZZTIME) ./server/
	$(GO) test -run '^$$' -fuzz '^FuzzParseServiceQuery$$' -fuzztime $(FUZZTIME) ./server/
	$(GO) test -run '^$$' -fuzz '^FuzzOpenEnvelope$$' -fuzztime $(FUZZTIME) ./state/
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) ./workloadid/

clean:
	rm -rf bin .bench.out
