#!/usr/bin/env bash
# Refreshes infra/manifest.json, the copy of `intake manifest` (functions, routes, environment)
# that the CDK app deploys from and tests/infra_consistency.rs checks against the code. After
# it changes, wire what is new in infra/template.yaml (the CDK app follows by itself) and run
# `make infra-test` and `cargo test -p intake-tests --test infra_consistency`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet -p intake-cli --bin intake -- manifest > infra/manifest.json.tmp
mv infra/manifest.json.tmp infra/manifest.json
git --no-pager diff --stat -- infra/manifest.json || true
