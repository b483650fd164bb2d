#!/usr/bin/env node
// The CDK app: `npx cdk deploy` (see infra/README.md).
//
// `-c intake:bundle=false` synthesizes without building the Rust functions (no cargo-lambda
// or zig needed): the assets point at the workspace instead of built bootstraps, so the
// result can be checked but not deployed. `make infra-test` synthesizes that way.

import { App } from 'aws-cdk-lib';
import { BUNDLING_STACKS } from 'aws-cdk-lib/cx-api';
import { IntakeStack } from '../lib/intake-stack';
import { loadManifest } from '../lib/manifest';

const app = new App();
const bundle = app.node.tryGetContext('intake:bundle');
if (bundle === false || bundle === 'false') {
  app.node.setContext(BUNDLING_STACKS, []);
}
const architecture = app.node.tryGetContext('intake:architecture') ?? 'arm64';
if (architecture !== 'arm64' && architecture !== 'x86_64') {
  throw new Error(`intake:architecture must be arm64 or x86_64, not ${architecture}`);
}
new IntakeStack(app, app.node.tryGetContext('intake:stackName') ?? 'IntakeStack', {
  manifest: loadManifest(),
  architecture,
});
