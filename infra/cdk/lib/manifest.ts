// The deployment manifest: every function of the workspace, the routes it serves and the
// environment it reads. `infra/manifest.json` is the output of `intake manifest`
// (`intake::manifest::functions()` in shared/src/manifest.rs); tests/infra_consistency.rs
// fails when the committed copy and the Rust code disagree, so this app never needs cargo.

import * as fs from 'node:fs';
import * as path from 'node:path';

export interface EnvVar {
  readonly name: string;
  /** Deployments set `<NAME>_PARAM` (an SSM SecureString parameter name) instead. */
  readonly secret: boolean;
  readonly required: boolean;
}

export interface Route {
  readonly channel: string;
  readonly provider: string;
  readonly methods: string[];
}

export type Trigger = { readonly http: string } | 'table_stream';

/** What a grant is on (intake::grants::Resource): `table`, `parameter` (with its variable), ... */
export interface GrantResource {
  readonly kind: string;
  readonly variable?: string;
}

/** IAM actions a function's role needs on one resource (intake::grants::Grant). */
export interface Grant {
  readonly actions: string[];
  readonly resource: GrantResource;
  /** Why no test makes this call (the Lambda service makes it with the role). */
  readonly unexercised?: string;
}

export interface FunctionSpec {
  /** Crate and binary name under functions/. */
  readonly name: string;
  readonly trigger: Trigger;
  readonly routes: Route[];
  readonly env: EnvVar[];
  readonly grants: Grant[];
}

/** The workspace root: the nearest directory above this file with a `[workspace]` Cargo.toml. */
export function workspaceRoot(from: string = __dirname): string {
  let dir = path.resolve(from);
  for (;;) {
    const cargo = path.join(dir, 'Cargo.toml');
    if (fs.existsSync(cargo) && /^\[workspace\]/m.test(fs.readFileSync(cargo, 'utf8'))) {
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(`no Cargo workspace above ${from}`);
    }
    dir = parent;
  }
}

export const MANIFEST_PATH = path.join(workspaceRoot(), 'infra', 'manifest.json');

function fail(what: string): never {
  throw new Error(`infra/manifest.json: ${what} (regenerate it with scripts/update-infra-manifest.sh)`);
}

/** Reads and checks the manifest: anything unexpected is an error, never ignored. */
export function parseManifest(json: unknown): FunctionSpec[] {
  if (!Array.isArray(json) || json.length === 0) fail('expected a non-empty list of functions');
  const names = new Set<string>();
  return json.map((f: any, i: number): FunctionSpec => {
    if (typeof f?.name !== 'string' || !/^[a-z][a-z0-9-]*$/.test(f.name)) fail(`function ${i}: bad name`);
    if (names.has(f.name)) fail(`function ${f.name} listed twice`);
    names.add(f.name);
    const trigger = f.trigger;
    const http = typeof trigger === 'object' && trigger !== null && typeof trigger.http === 'string';
    if (!http && trigger !== 'table_stream') fail(`${f.name}: unknown trigger ${JSON.stringify(trigger)}`);
    if (!Array.isArray(f.routes) || !Array.isArray(f.env)) fail(`${f.name}: routes and env must be lists`);
    const routes: Route[] = f.routes.map((r: any) => {
      if (typeof r?.channel !== 'string' || typeof r?.provider !== 'string' || !/^[a-z][a-z0-9-]*$/.test(r.provider)) {
        fail(`${f.name}: bad route ${JSON.stringify(r)}`);
      }
      if (http && r.channel !== trigger.http) fail(`${f.name}: route ${r.channel}/${r.provider} is not on its channel`);
      const methods = r.methods;
      if (!Array.isArray(methods) || methods.length === 0 || !methods.every((m: unknown) => m === 'GET' || m === 'POST')) {
        fail(`${f.name}: route ${r.channel}/${r.provider} has methods ${JSON.stringify(methods)}`);
      }
      return { channel: r.channel, provider: r.provider, methods: [...methods] };
    });
    if (!http && routes.length > 0) fail(`${f.name}: only HTTP functions have routes`);
    const env: EnvVar[] = f.env.map((v: any) => {
      if (typeof v?.name !== 'string' || !/^[A-Z][A-Z0-9_]*$/.test(v.name)) fail(`${f.name}: bad variable ${JSON.stringify(v)}`);
      if (typeof v.secret !== 'boolean' || typeof v.required !== 'boolean') fail(`${f.name}: ${v.name} lacks secret/required`);
      return { name: v.name, secret: v.secret, required: v.required };
    });
    if (!Array.isArray(f.grants)) fail(`${f.name}: grants must be a list`);
    const grants: Grant[] = f.grants.map((g: any): Grant => {
      const actions = g?.actions;
      if (!Array.isArray(actions) || actions.length === 0 || !actions.every((a: unknown) => typeof a === 'string' && /^[a-z0-9-]+:[A-Za-z*]+$/.test(a))) {
        fail(`${f.name}: bad grant actions ${JSON.stringify(g)}`);
      }
      if (typeof g.resource?.kind !== 'string') fail(`${f.name}: grant without a resource kind`);
      return {
        actions: [...actions],
        resource: { kind: g.resource.kind, variable: g.resource.variable },
        unexercised: g.unexercised,
      };
    });
    return { name: f.name, trigger: http ? { http: trigger.http } : 'table_stream', routes, env, grants };
  });
}

export function loadManifest(file: string = MANIFEST_PATH): FunctionSpec[] {
  return parseManifest(JSON.parse(fs.readFileSync(file, 'utf8')));
}

/** `sms-webhook` -> `SmsWebhook`, `TWILIO_AUTH_TOKEN` -> `TwilioAuthToken`. */
export function pascal(s: string): string {
  return s
    .toLowerCase()
    .split(/[-_]/)
    .filter((w) => w.length > 0)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');
}

/** The actions a function's role is granted on one kind of resource. */
export function grantedOn(f: FunctionSpec, kind: string): string[] {
  return f.grants.filter((g) => g.resource.kind === kind).flatMap((g) => g.actions);
}

export function isHttp(f: FunctionSpec): f is FunctionSpec & { trigger: { http: string } } {
  return typeof f.trigger === 'object';
}
