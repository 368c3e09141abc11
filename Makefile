# Nudge's build, test and packaging commands. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

PYTHON ?= python3
VENV := .venv
EMULATOR_VENV := $(VENV)/emulator
TOOLS_VENV := $(VENV)/tools
PACKAGE_VENV := $(VENV)/package
CLIENTS_VENV := $(VENV)/clients
MOTO_VERSION := 5.2.5
CFN_LINT_VERSION := 1.58.0
SAM_CLI_VERSION := 1.170.0
CARGO_LAMBDA_VERSION := 1.9.2
SEGMENT_PYTHON_VERSION := 2.4.0

# Offline and quiet: no telemetry, dummy credentials for template validation.
export SAM_CLI_TELEMETRY := 0
AWS_OFFLINE := AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing

# Lambda's default is arm64; build it where the aarch64 standard library is installed.
ARCH ?= $(if $(shell rustup target list --installed 2>/dev/null | grep aarch64-unknown-linux-gnu),arm64,x86_64)

.PHONY: help demo serve test test-rust lint-template fmt-check package bench clean

help:
	@echo "make demo           run the demo on the embedded default (outbox in nudge-out/)"
	@echo "make serve          run the tracking API and pipeline locally on :8080"
	@echo "make test           everything CI runs: Rust tests (AWS ones on the local emulator) + template lint"
	@echo "make package        sam build: every function's deployable artifact (ARCH=$(ARCH))"
	@echo "make bench          measurements (not tests): ingest rate embedded, DynamoDB requests per 1,000 events"
	@echo "make clean          remove build outputs and the local venvs"

demo:
	cargo run --release --bin nudge -- demo

serve:
	cargo run --release --bin nudge -- serve

$(EMULATOR_VENV)/.installed:
	$(PYTHON) -m venv $(EMULATOR_VENV)
	$(EMULATOR_VENV)/bin/pip install --quiet --disable-pip-version-check 'moto[server]==$(MOTO_VERSION)'
	touch $@

$(TOOLS_VENV)/.installed:
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/pip install --quiet --disable-pip-version-check 'cfn-lint==$(CFN_LINT_VERSION)' 'aws-sam-cli==$(SAM_CLI_VERSION)'
	touch $@

# Segment's own client library, which the tests point at `nudge serve`.
$(CLIENTS_VENV)/.installed:
	$(PYTHON) -m venv $(CLIENTS_VENV)
	$(CLIENTS_VENV)/bin/pip install --quiet --disable-pip-version-check 'segment-analytics-python==$(SEGMENT_PYTHON_VERSION)'
	touch $@

$(PACKAGE_VENV)/.installed:
	$(PYTHON) -m venv $(PACKAGE_VENV)
	$(PACKAGE_VENV)/bin/pip install --quiet --disable-pip-version-check 'cargo-lambda==$(CARGO_LAMBDA_VERSION)'
	touch $@

test: fmt-check lint-template test-rust

fmt-check:
	cargo fmt --all -- --check

# Every workspace test; the AWS adapter and end-to-end tests talk to the emulator.
test-rust: $(EMULATOR_VENV)/.installed $(CLIENTS_VENV)/.installed
	mkdir -p target
	infra/with-emulator.sh cargo test --workspace --all-features --locked 2>&1 | tee target/test.log
	@awk '/^test result:/ { passed += $$4; failed += $$6 } END { printf "total: %d passed, %d failed\n", passed, failed }' target/test.log

lint-template: $(TOOLS_VENV)/.installed
	$(TOOLS_VENV)/bin/cfn-lint template.yaml
	$(AWS_OFFLINE) $(TOOLS_VENV)/bin/sam validate --lint

package: $(TOOLS_VENV)/.installed $(PACKAGE_VENV)/.installed
	PATH="$(abspath $(PACKAGE_VENV))/bin:$$PATH" $(AWS_OFFLINE) $(TOOLS_VENV)/bin/sam build \
		--parameter-overrides Architecture=$(ARCH) SenderAddress=hello@example.com
	@for f in Ingest Evaluator Sender Scheduler Admin Preferences; do \
		test -x .aws-sam/build/$${f}Function/bootstrap || { echo "missing .aws-sam/build/$${f}Function/bootstrap" >&2; exit 1; }; \
		echo "$${f}Function: .aws-sam/build/$${f}Function/bootstrap ($$(file -b .aws-sam/build/$${f}Function/bootstrap | cut -d, -f1-2))"; \
	done

# Measurements, not tests: the report goes to stdout and target/bench/ingest.md.
bench: $(EMULATOR_VENV)/.installed benches/liquidjs/node_modules/.installed
	mkdir -p target/bench
	cargo build --release -p nudge-benches
	infra/with-emulator.sh target/release/ingest-bench | tee target/bench/ingest.md
	target/release/render-bench | tee target/bench/render.md
	target/release/evaluate-bench | tee target/bench/evaluate.md
	cargo build --release --bin nudge
	target/release/latency-bench | tee target/bench/latency.md

# liquidjs and mjml (npm), pinned by package-lock.json, for the render comparison.
benches/liquidjs/node_modules/.installed: benches/liquidjs/package.json benches/liquidjs/package-lock.json
	npm ci --prefix benches/liquidjs --no-audit --no-fund --loglevel=error
	touch $@

clean:
	cargo clean
	rm -rf $(VENV) .aws-sam nudge-out
