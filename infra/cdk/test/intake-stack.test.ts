// Assertions on the synthesized IntakeStack: the resources and permissions the issue asks for.
// Run with `npm test` (node's built-in test runner on the compiled JavaScript). Synthesizes
// without building the Rust functions (bundling skipped), so cargo-lambda is not needed.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { BUNDLING_STACKS } from 'aws-cdk-lib/cx-api';
import { ACCESS_LOG_FORMAT, ARCHIVE_OBJECTS_ARN, IntakeStack } from '../lib/intake-stack';
import { FunctionSpec, grantedOn, loadManifest, parseManifest, pascal, workspaceRoot } from '../lib/manifest';

const CDK_DIR = path.join(workspaceRoot(), 'infra', 'cdk');

function synth(manifest: FunctionSpec[]): Template {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(CDK_DIR, 'cdk.json'), 'utf8'));
  const app = new App({ context: { ...cdkJson.context, [BUNDLING_STACKS]: [] } });
  return Template.fromStack(new IntakeStack(app, 'IntakeStack', { manifest }));
}

const MANIFEST = loadManifest();
const template = synth(MANIFEST);
const resources = template.toJSON().Resources as Record<string, any>;

/** Logical id of the function deployed for a manifest function (tagged `intake:function`). */
function functionId(t: Record<string, any>, name: string): string {
  const ids = Object.entries(t)
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
    .filter(([, r]) => (r.Properties.Tags ?? []).some((tag: any) => tag.Key === 'intake:function' && tag.Value === name))
    .map(([id]) => id);
  assert.equal(ids.length, 1, `one function tagged intake:function=${name}, found ${ids.length}`);
  return ids[0];
}

function roleId(t: Record<string, any>, fnId: string): string {
  return t[fnId].Properties.Role['Fn::GetAtt'][0];
}

/**
 * Every statement that applies to a role: its inline policies (a statement behind
 * `Fn::If [C, statement, NoValue]` carries condition C) and every policy attached to it.
 */
function statements(t: Record<string, any>, role: string): any[] {
  const inline = (t[role].Properties.Policies ?? []).flatMap((p: any) =>
    p.PolicyDocument.Statement.map((s: any) => (s['Fn::If'] ? { ...s['Fn::If'][1], condition: s['Fn::If'][0] } : s)),
  );
  return inline.concat(
    Object.values(t)
      .filter((r: any) => r.Type === 'AWS::IAM::Policy')
      .filter((r: any) => r.Properties.Roles.some((x: any) => x.Ref === role))
      .flatMap((r: any) => r.Properties.PolicyDocument.Statement.map((s: any) => ({ ...s, condition: r.Condition }))),
  );
}

const list = (x: unknown): any[] => (Array.isArray(x) ? x : [x]);

function actionsOn(t: Record<string, any>, role: string, resource: unknown): string[] {
  return statements(t, role)
    .filter((s) => list(s.Resource).some((r) => JSON.stringify(r) === JSON.stringify(resource)))
    .flatMap((s) => list(s.Action))
    .sort();
}

const tableId = Object.keys(resources).find((id) => resources[id].Type === 'AWS::DynamoDB::Table')!;
const TABLE_ARN = { 'Fn::GetAtt': [tableId, 'Arn'] };
const STREAM_ARN = { 'Fn::GetAtt': [tableId, 'StreamArn'] };
const webhooks = MANIFEST.filter((f) => typeof f.trigger === 'object');
const MANIFEST_ROUTE_KEYS = webhooks.flatMap((f) => f.routes.flatMap((r) => r.methods.map((m) => `${m} /${r.channel}/${r.provider}`)));
const acknowledger = MANIFEST.find((f) => f.trigger === 'table_stream')!;
/** The one resource of a type whose logical id starts with `prefix`. */
function byPrefix(t: Record<string, any>, type: string, prefix: string): string {
  const ids = Object.keys(t).filter((id) => t[id].Type === type && id.startsWith(prefix));
  assert.equal(ids.length, 1, `one ${type} ${prefix}*, found ${ids.join(', ')}`);
  return ids[0];
}
const ACK_DLQ = byPrefix(resources, 'AWS::SQS::Queue', 'AcknowledgerDeadLetterQueue');
const ALARM_TOPIC = byPrefix(resources, 'AWS::SNS::Topic', 'AlarmTopic');

describe('table', () => {
  it('is on-demand, streamed, TTL, PITR, protected, retained and encrypted, with the by_contact index', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: Match.arrayWith([
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          { AttributeName: 'contact_key', AttributeType: 'S' },
          { AttributeName: 'created_at', AttributeType: 'S' },
        ]),
        GlobalSecondaryIndexes: [
          {
            IndexName: 'by_contact',
            KeySchema: [
              { AttributeName: 'contact_key', KeyType: 'HASH' },
              { AttributeName: 'created_at', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
        StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
        TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
        SSESpecification: { SSEEnabled: true },
      },
    });
  });
});

describe('functions', () => {
  it('deploys exactly the functions of the manifest', () => {
    template.resourceCountIs('AWS::Lambda::Function', MANIFEST.length);
    for (const f of MANIFEST) functionId(resources, f.name);
  });

  it('are provided.al2023 on arm64, JSON logs in their own group, sized as explained', () => {
    for (const f of MANIFEST) {
      const fn = resources[functionId(resources, f.name)].Properties;
      assert.equal(fn.Runtime, 'provided.al2023');
      assert.deepEqual(fn.Architectures, [{ Ref: 'Architecture' }]);
      assert.equal(fn.Handler, 'bootstrap');
      assert.equal(fn.MemorySize, 256);
      assert.equal(fn.Timeout, f.trigger === 'table_stream' ? 90 : 15);
      assert.equal(fn.LoggingConfig.LogFormat, 'JSON');
      const group = resources[fn.LoggingConfig.LogGroup.Ref];
      assert.equal(group.Type, 'AWS::Logs::LogGroup');
      assert.deepEqual(group.Properties.RetentionInDays, { Ref: 'LogRetentionInDays' });
      assert.deepEqual(fn.TracingConfig.Mode, { 'Fn::If': ['TracingEnabled', 'Active', 'PassThrough'] });
      assert.deepEqual(fn.ReservedConcurrentExecutions, {
        'Fn::If': [`Has${pascal(f.name)}ReservedConcurrency`, { Ref: `${pascal(f.name)}ReservedConcurrency` }, { Ref: 'AWS::NoValue' }],
      });
    }
  });

  it('get secrets as SSM parameter names, never values, and every variable they need', () => {
    for (const f of MANIFEST) {
      const vars = resources[functionId(resources, f.name)].Properties.Environment.Variables;
      for (const v of f.env.filter((v) => v.secret)) {
        assert.equal(vars[v.name], undefined, `${f.name}: ${v.name} must not be in the environment`);
        const wired = vars[`${v.name}_PARAM`];
        assert.ok(wired, `${f.name}: ${v.name}_PARAM is not set`);
        assert.equal(wired['Fn::If'][2].Ref, 'AWS::NoValue');
        const param = template.toJSON().Parameters[wired['Fn::If'][1].Ref];
        assert.equal(param.Default, '', 'providers are enabled by naming their parameters');
        assert.equal(param.AllowedPattern, '^(/[A-Za-z0-9_.\\-/]+)?$');
      }
      assert.deepEqual(vars.TABLE_NAME, { Ref: tableId });
      assert.deepEqual(vars.RUST_LOG, { Ref: 'LogLevel' });
    }
    for (const f of webhooks) {
      const vars = resources[functionId(resources, f.name)].Properties.Environment.Variables;
      const apiId = Object.keys(resources).find((id) => resources[id].Type === 'AWS::ApiGatewayV2::Api');
      assert.deepEqual(vars.PUBLIC_BASE_URL, {
        'Fn::If': [
          'HasPublicBaseUrl',
          { Ref: 'PublicBaseUrl' },
          {
            'Fn::Sub': ['https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}', { Api: { Ref: apiId } }],
          },
        ],
      });
    }
    // The ack configuration is read by name at cold start, never resolved at deploy time.
    const ack = resources[functionId(resources, acknowledger.name)].Properties.Environment.Variables;
    assert.deepEqual(ack.INTAKE_CONFIG_TOML_PARAM, {
      'Fn::If': ['HasIntakeConfigToml', { Ref: 'IntakeConfigTomlParameterName' }, { Ref: 'AWS::NoValue' }],
    });
    assert.ok(!JSON.stringify(resources).includes('resolve:ssm'));
  });
});

describe('HTTP API', () => {
  it('has one route per provider and method, each to its channel function', () => {
    const routes = Object.values(resources).filter((r: any) => r.Type === 'AWS::ApiGatewayV2::Route');
    const expected = webhooks.flatMap((f) =>
      f.routes.flatMap((r) => r.methods.map((m) => `${m} /${r.channel}/${r.provider} -> ${f.name}`)),
    );
    const actual = routes.map((r: any) => {
      const integration = resources[r.Properties.Target['Fn::Join'][1][1].Ref].Properties;
      assert.equal(integration.IntegrationType, 'AWS_PROXY');
      assert.equal(integration.PayloadFormatVersion, '2.0');
      const fnId = integration.IntegrationUri['Fn::GetAtt'][0];
      const name = resources[fnId].Properties.Tags.find((t: any) => t.Key === 'intake:function').Value;
      return `${r.Properties.RouteKey} -> ${name}`;
    });
    assert.deepEqual(actual.sort(), expected.sort());
    assert.ok(expected.includes('POST /sms/twilio -> sms-webhook'));
  });

  it('throttles and writes access logs on its default stage', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: {
        ThrottlingRateLimit: { Ref: 'ApiThrottlingRateLimit' },
        ThrottlingBurstLimit: { Ref: 'ApiThrottlingBurstLimit' },
      },
      AccessLogSettings: { DestinationArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ApiAccessLogs'), 'Arn'] }, Format: ACCESS_LOG_FORMAT },
    });
    assert.doesNotThrow(() => JSON.parse(ACCESS_LOG_FORMAT));
  });

  it('outputs the webhook URL of every provider', () => {
    const outputs = template.toJSON().Outputs;
    for (const f of webhooks) {
      for (const r of f.routes) {
        const id = `WebhookUrl${pascal(r.channel)}${pascal(r.provider)}`;
        assert.ok(outputs[id], `output ${id}`);
        assert.ok(JSON.stringify(outputs[id].Value).includes(`/${r.channel}/${r.provider}`));
      }
    }
    assert.ok(outputs.ApiUrl);
  });
});

describe('acknowledger stream', () => {
  it('reports batch item failures, bisects, bounds retries and age, dead-letters to SQS, filters ticket INSERTs', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    const queue = ACK_DLQ;
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: functionId(resources, acknowledger.name) },
      EventSourceArn: STREAM_ARN,
      StartingPosition: 'TRIM_HORIZON',
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 5,
      MaximumRecordAgeInSeconds: 3600,
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 0,
      ParallelizationFactor: 4,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queue, 'Arn'] } } },
    });
    const esm = Object.values(resources).find((r: any) => r.Type === 'AWS::Lambda::EventSourceMapping') as any;
    assert.deepEqual(JSON.parse(esm.Properties.FilterCriteria.Filters[0].Pattern), {
      eventName: ['INSERT'],
      dynamodb: { Keys: { pk: { S: [{ prefix: 'TICKET#' }] }, sk: { S: ['META'] } } },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1209600 });
  });

  it('alarms on the dead-letter queue, errors, throttles and iterator age, to the alarm topic', () => {
    const topic = ALARM_TOPIC;
    const alarms = Object.values(resources)
      .filter((r: any) => r.Type === 'AWS::CloudWatch::Alarm')
      .map((r: any) => r.Properties);
    for (const a of alarms) {
      assert.deepEqual(a.AlarmActions, [{ Ref: topic }]);
      assert.equal(a.TreatMissingData, 'notBreaching');
    }
    const on = (metric: string, dimension: unknown) =>
      alarms.filter((a) => a.MetricName === metric && JSON.stringify(a.Dimensions[0].Value) === JSON.stringify(dimension));
    const queue = ACK_DLQ;
    assert.equal(on('ApproximateNumberOfMessagesVisible', { 'Fn::GetAtt': [queue, 'QueueName'] }).length, 1);
    for (const f of MANIFEST) {
      const fn = { Ref: functionId(resources, f.name) };
      assert.equal(on('Errors', fn).length, 1, `${f.name} errors alarm`);
      assert.equal(on('Throttles', fn).length, 1, `${f.name} throttles alarm`);
    }
    assert.equal(on('IteratorAge', { Ref: functionId(resources, acknowledger.name) }).length, 1);
    template.hasResource('AWS::SNS::Subscription', {
      Condition: 'HasAlarmEmail',
      Properties: { Protocol: 'email', Endpoint: { Ref: 'AlarmEmail' } },
    });
  });
});

describe('least privilege', () => {
  const unconditional = (t: Record<string, any>, role: string) => statements(t, role).filter((s) => !s.condition);

  it("webhooks get the manifest's table actions, nothing on the stream", () => {
    for (const f of webhooks) {
      const role = roleId(resources, functionId(resources, f.name));
      assert.deepEqual(actionsOn(resources, role, TABLE_ARN), grantedOn(f, 'table').sort());
      assert.deepEqual(actionsOn(resources, role, STREAM_ARN), []);
    }
    const email = webhooks.find((f) => f.name === 'email-webhook')!;
    assert.ok(grantedOn(email, 'table').includes('dynamodb:BatchGetItem'));
  });

  it("the acknowledger gets the manifest's table actions and reads the stream", () => {
    const role = roleId(resources, functionId(resources, acknowledger.name));
    assert.deepEqual(actionsOn(resources, role, TABLE_ARN), grantedOn(acknowledger, 'table').sort());
    assert.ok(grantedOn(acknowledger, 'table').includes('dynamodb:PutItem'));
    assert.deepEqual(actionsOn(resources, role, STREAM_ARN), [
      'dynamodb:DescribeStream',
      'dynamodb:GetRecords',
      'dynamodb:GetShardIterator',
    ]);
    const queue = ACK_DLQ;
    assert.ok(actionsOn(resources, role, { 'Fn::GetAtt': [queue, 'Arn'] }).includes('sqs:SendMessage'));
  });

  it('"*" only where AWS has no narrower resource (ListStreams; X-Ray behind its condition)', () => {
    for (const f of MANIFEST) {
      const role = roleId(resources, functionId(resources, f.name));
      const starred = unconditional(resources, role).filter((s) => list(s.Resource).includes('*'));
      assert.deepEqual(
        starred.flatMap((s) => list(s.Action)),
        f.trigger === 'table_stream' ? ['dynamodb:ListStreams'] : [],
      );
      for (const s of statements(resources, role)) {
        for (const a of list(s.Action)) assert.ok(!a.endsWith('*'), `${f.name}: wildcard action ${a}`);
      }
    }
    // X-Ray inside each role, so a function is never created with tracing on before its role
    // may write traces.
    for (const f of MANIFEST) {
      const role = roleId(resources, functionId(resources, f.name));
      const traces = statements(resources, role).filter((s) => list(s.Action).includes('xray:PutTraceSegments'));
      assert.equal(traces.length, 1, `${f.name}: one X-Ray statement`);
      assert.equal(traces[0].condition, 'TracingEnabled');
      assert.ok((resources[role].Properties.Policies ?? []).length > 0, `${f.name}: inline in the role`);
    }
  });

  it('each secret: ssm:GetParameters on its parameter only, kms:Decrypt via SSM, for the functions reading it', () => {
    const secrets = [...new Set(MANIFEST.flatMap((f) => f.env.filter((v) => v.secret).map((v) => v.name)))];
    assert.ok(secrets.includes('TWILIO_AUTH_TOKEN'));
    for (const secret of secrets) {
      const param = pascal(secret);
      const policy = resources[`${param}SecretPolicy`];
      assert.ok(policy, `policy for ${secret}`);
      assert.equal(policy.Condition, `Has${param}`);
      assert.deepEqual(policy.Properties.PolicyDocument.Statement, [
        {
          Sid: 'ReadSecret',
          Effect: 'Allow',
          Action: 'ssm:GetParameters',
          Resource: {
            'Fn::Sub': [
              'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${Name}',
              { Name: { Ref: `${param}ParameterName` } },
            ],
          },
        },
        {
          Sid: 'DecryptSecret',
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*' },
          Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Sub': 'ssm.${AWS::Region}.${AWS::URLSuffix}' } } },
        },
      ]);
      const readers = MANIFEST.filter((f) => f.env.some((v) => v.name === secret)).map((f) => ({
        Ref: roleId(resources, functionId(resources, f.name)),
      }));
      assert.deepEqual(policy.Properties.Roles, readers);
    }
    // Nothing else reads SSM or decrypts.
    for (const f of MANIFEST) {
      const role = roleId(resources, functionId(resources, f.name));
      const other = statements(resources, role).filter(
        (s) => !s.condition && list(s.Action).some((a: string) => a.startsWith('ssm:') || a.startsWith('kms:')),
      );
      assert.deepEqual(other, []);
    }
  });

  it('no output or parameter default carries a secret', () => {
    const json = template.toJSON();
    for (const [id, p] of Object.entries(json.Parameters as Record<string, any>)) {
      if (/(Token|Secret)/.test(id)) assert.match(id, /ParameterName$/, `${id} would hold a secret value`);
      if (typeof p.Default === 'string' && /(Token|Secret)/.test(id)) assert.match(p.Default, /^(\/[A-Za-z0-9_.\-/]+)?$/);
    }
    assert.ok(!JSON.stringify(json.Outputs).includes('ParameterName'));
    assert.ok(!JSON.stringify(json).includes('resolve:ssm-secure'));
  });
});

describe('generated from the manifest', () => {
  const withProvider = (provider: string, env: FunctionSpec['env']): FunctionSpec[] =>
    MANIFEST.map((f) =>
      typeof f.trigger === 'object' && f.trigger.http === 'sms'
        ? { ...f, routes: [...f.routes, { channel: 'sms', provider, methods: ['GET', 'POST'] }], env: [...f.env, ...env] }
        : f.trigger === 'table_stream'
          ? { ...f, env: [...f.env, ...env] }
          : f,
    );

  // A provider that does not exist (Vonage, the example this test once used, is real now).
  it('a new provider gets its routes, output, parameters, secret policy', () => {
    const t = synth(
      withProvider('acmesms', [
        { name: 'ACMESMS_API_KEY', secret: false, required: false },
        { name: 'ACMESMS_SIGNATURE_SECRET', secret: true, required: false },
      ]),
    );
    const json = t.toJSON();
    const r = json.Resources as Record<string, any>;
    const keys = Object.values(r)
      .filter((x: any) => x.Type === 'AWS::ApiGatewayV2::Route')
      .map((x: any) => x.Properties.RouteKey)
      .sort();
    assert.deepEqual(keys, [...MANIFEST_ROUTE_KEYS, 'GET /sms/acmesms', 'POST /sms/acmesms'].sort());
    assert.ok(json.Outputs.WebhookUrlSmsAcmesms);
    assert.equal(json.Parameters.AcmesmsApiKey.Default, '');
    assert.match(json.Parameters.AcmesmsSignatureSecretParameterName.Description, /\/intake\/acmesms-signature-secret/);
    const vars = r[functionId(r, 'sms-webhook')].Properties.Environment.Variables;
    assert.deepEqual(vars.ACMESMS_API_KEY, { Ref: 'AcmesmsApiKey' });
    assert.equal(vars.ACMESMS_SIGNATURE_SECRET, undefined);
    assert.equal(vars.ACMESMS_SIGNATURE_SECRET_PARAM['Fn::If'][1].Ref, 'AcmesmsSignatureSecretParameterName');
    assert.equal(r.AcmesmsSignatureSecretSecretPolicy.Properties.Roles.length, 2);
  });

  it('a variable the app cannot wire stops the synthesis', () => {
    assert.throws(
      () => synth(withProvider('acmesms', [{ name: 'SOME_NEW_SETTING', secret: false, required: true }])),
      /reads SOME_NEW_SETTING, which the CDK app does not know how to set/,
    );
  });

  it('a malformed manifest is refused', () => {
    assert.throws(() => parseManifest([]), /non-empty/);
    assert.throws(() => parseManifest([{ name: 'x', trigger: 'cron', routes: [], env: [] }]), /unknown trigger/);
    assert.throws(
      () =>
        parseManifest([
          { name: 'x', trigger: { http: 'sms' }, routes: [{ channel: 'sms', provider: 'a', methods: ['PUT'] }], env: [] },
        ]),
      /methods/,
    );
  });
});

describe('email', () => {
  const email = MANIFEST.find((f) => f.name === 'email-webhook')!;
  const emailFn = functionId(resources, 'email-webhook');
  const emailRole = roleId(resources, emailFn);
  const ackRole = roleId(resources, functionId(resources, acknowledger.name));
  const json = template.toJSON();
  const notEmpty = (param: string) => ({ 'Fn::Not': [{ 'Fn::Equals': [{ Ref: param }, ''] }] });

  it('email-webhook serves POST /email/{ses,mailgun,sendgrid,postmark} and outputs each URL', () => {
    assert.ok(email, 'email-webhook is in the manifest');
    const routes = Object.values(resources)
      .filter((r: any) => r.Type === 'AWS::ApiGatewayV2::Route')
      .filter((r: any) => r.Properties.RouteKey.startsWith('POST /email/'));
    const served = routes.map((r: any) => {
      const integration = resources[r.Properties.Target['Fn::Join'][1][1].Ref].Properties;
      assert.equal(integration.IntegrationUri['Fn::GetAtt'][0], emailFn);
      return r.Properties.RouteKey;
    });
    assert.deepEqual(served.sort(), ['POST /email/mailgun', 'POST /email/postmark', 'POST /email/sendgrid', 'POST /email/ses']);
    for (const p of ['Ses', 'Mailgun', 'Sendgrid', 'Postmark']) {
      const value = JSON.stringify(json.Outputs[`WebhookUrlEmail${p}`].Value);
      assert.ok(value.includes(`/email/${p.toLowerCase()}`), value);
    }
    const fn = resources[emailFn].Properties;
    assert.equal(fn.Timeout, 15);
    assert.equal(fn.MemorySize, 256);
    assert.ok(json.Parameters.EmailWebhookReservedConcurrency);
  });

  it('each email secret is read through a policy attached only to email-webhook', () => {
    for (const secret of ['MAILGUN_SIGNING_KEY', 'SENDGRID_BASIC_AUTH', 'POSTMARK_BASIC_AUTH']) {
      const p = pascal(secret);
      const policy = resources[`${p}SecretPolicy`];
      assert.ok(policy, `${p}SecretPolicy`);
      assert.equal(policy.Condition, `Has${p}`);
      assert.deepEqual(json.Conditions[`Has${p}`], notEmpty(`${p}ParameterName`));
      assert.deepEqual(policy.Properties.Roles, [{ Ref: emailRole }], `${secret} is read by email-webhook only`);
      assert.deepEqual(policy.Properties.PolicyDocument.Statement[0].Resource['Fn::Sub'][1], {
        Name: { Ref: `${p}ParameterName` },
      });
      const vars = resources[emailFn].Properties.Environment.Variables;
      assert.deepEqual(vars[`${secret}_PARAM`], { 'Fn::If': [`Has${p}`, { Ref: `${p}ParameterName` }, { Ref: 'AWS::NoValue' }] });
    }
  });

  it('the acknowledger may ses:SendEmail only as SesIdentities (and its configuration set), only when set', () => {
    const grants = Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::IAM::Policy')
      .filter(([, r]) => JSON.stringify(r.Properties.PolicyDocument).includes('"ses:'));
    assert.deepEqual(
      grants.map(([id]) => id),
      ['SesSendPolicy'],
      'one policy grants ses: actions',
    );
    const policy = resources.SesSendPolicy;
    assert.equal(policy.Condition, 'HasSesIdentities');
    assert.deepEqual(json.Conditions.HasSesIdentities, {
      'Fn::Not': [{ 'Fn::Equals': [{ 'Fn::Join': ['', { Ref: 'SesIdentities' }] }, ''] }],
    });
    assert.deepEqual(json.Conditions.HasSesConfigurationSet, notEmpty('SesConfigurationSet'));
    assert.deepEqual(policy.Properties.Roles, [{ Ref: ackRole }]);
    const [statement, ...rest] = policy.Properties.PolicyDocument.Statement;
    assert.deepEqual(rest, []);
    assert.equal(statement.Action, 'ses:SendEmail');
    assert.equal(statement.Effect, 'Allow');
    assert.deepEqual(
      list(statement.Resource).map((r) => JSON.stringify(r)).sort(),
      [
        ...[0, 1, 2, 3, 4].map((i) => ({
          'Fn::Sub': [
            'arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${Identity}',
            {
              Identity: {
                'Fn::Select': [
                  i,
                  { 'Fn::Split': [',', { 'Fn::Sub': ['${Listed},,,,', { Listed: { 'Fn::Join': [',', { Ref: 'SesIdentities' }] } }] }] },
                ],
              },
            },
          ],
        })),
        {
          'Fn::If': [
            'HasSesConfigurationSet',
            { 'Fn::Sub': 'arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:configuration-set/${SesConfigurationSet}' },
            { Ref: 'AWS::NoValue' },
          ],
        },
      ]
        .map((r) => JSON.stringify(r))
        .sort(),
    );
    assert.ok(!list(statement.Resource).includes('*'));
    const vars = resources[functionId(resources, acknowledger.name)].Properties.Environment.Variables;
    assert.deepEqual(vars.SES_IDENTITIES, { 'Fn::Join': [',', { Ref: 'SesIdentities' }] });
    assert.deepEqual(vars.SES_CONFIGURATION_SET, { Ref: 'SesConfigurationSet' });
    assert.equal(json.Parameters.SesIdentities.Default, '');
    assert.equal(json.Parameters.SesIdentities.Type, 'CommaDelimitedList');
    // No function other than the acknowledger gets ses: at all.
    for (const f of MANIFEST.filter((f) => f.trigger !== 'table_stream')) {
      const role = roleId(resources, functionId(resources, f.name));
      assert.ok(!statements(resources, role).some((s) => list(s.Action).some((a: string) => a.startsWith('ses:'))));
    }
  });

  it('without SES_IDENTITIES in the manifest nothing may send email', () => {
    const t = synth(MANIFEST.map((f) => ({ ...f, env: f.env.filter((v) => !v.name.startsWith('SES_IDENTITIES')) })));
    const r = t.toJSON().Resources as Record<string, any>;
    assert.equal(r.SesSendPolicy, undefined);
    assert.ok(!JSON.stringify(r).includes('ses:SendEmail'));
  });

  it('SES inbound: a receipt rule with an SNS action (Base64) or, with a bucket, an S3 action; scan and TLS', () => {
    assert.deepEqual(json.Conditions.HasSesInbound, notEmpty('SesInboundRecipients'));
    template.resourceCountIs('AWS::SES::ReceiptRuleSet', 1);
    template.resourceCountIs('AWS::SES::ReceiptRule', 1);
    template.hasResource('AWS::SES::ReceiptRuleSet', { Condition: 'HasSesInbound' });
    template.hasResource('AWS::SES::ReceiptRule', {
      Condition: 'HasSesInbound',
      DependsOn: Match.arrayWith(['SesInboundTopicPolicy']),
      Properties: {
        RuleSetName: { Ref: 'SesInboundRuleSet' },
        Rule: {
          Enabled: true,
          Recipients: { 'Fn::Split': [',', { Ref: 'SesInboundRecipients' }] },
          ScanEnabled: true,
          TlsPolicy: 'Require',
          Actions: [
            {
              'Fn::If': [
                'HasInboundMailBucket',
                { S3Action: { BucketName: { Ref: 'InboundMailBucket' }, ObjectKeyPrefix: 'inbound/', TopicArn: { Ref: 'SesInboundTopic' } } },
                { SNSAction: { TopicArn: { Ref: 'SesInboundTopic' }, Encoding: 'Base64' } },
              ],
            },
          ],
        },
      },
    });
    assert.ok(json.Outputs.SesInboundRuleSetName);
    assert.equal(json.Outputs.SesInboundRuleSetName.Condition, 'HasSesInbound');
  });

  it('the inbound topic is encrypted with a key SES may use, and only SES of this account may publish', () => {
    template.hasResource('AWS::SNS::Topic', {
      Condition: 'HasSesInbound',
      Properties: { KmsMasterKeyId: { 'Fn::GetAtt': ['SesInboundKey', 'Arn'] } },
    });
    template.hasResource('AWS::KMS::Key', {
      Condition: 'HasSesInbound',
      Properties: {
        EnableKeyRotation: true,
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Principal: { Service: 'ses.amazonaws.com' },
              Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
              Condition: Match.objectLike({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }),
            }),
          ]),
        },
      },
    });
    template.hasResource('AWS::SNS::TopicPolicy', {
      Condition: 'HasSesInbound',
      Properties: {
        Topics: [{ Ref: 'SesInboundTopic' }],
        PolicyDocument: {
          Statement: [
            {
              Sid: 'SesPublishes',
              Effect: 'Allow',
              Principal: { Service: 'ses.amazonaws.com' },
              Action: 'sns:Publish',
              Resource: { Ref: 'SesInboundTopic' },
              Condition: {
                StringEquals: { 'AWS:SourceAccount': { Ref: 'AWS::AccountId' } },
                ArnLike: {
                  'AWS:SourceArn': {
                    'Fn::Sub': [Match.stringLikeRegexp(':receipt-rule-set/\\$\\{RuleSet\\}:receipt-rule/\\*$'), { RuleSet: { Ref: 'SesInboundRuleSet' } }],
                  },
                },
              },
            },
          ],
        },
      },
    });
  });

  it('the topic is subscribed over HTTPS to <base URL>/email/ses, after that route, with a dead-letter queue', () => {
    const subs = Object.entries(resources).filter(
      ([, r]) => r.Type === 'AWS::SNS::Subscription' && r.Properties.Protocol === 'https' && r.Properties.TopicArn.Ref === 'SesInboundTopic',
    );
    assert.equal(subs.length, 1);
    const [, sub] = subs[0];
    assert.equal(sub.Condition, 'HasSesInbound');
    assert.deepEqual(sub.Properties.TopicArn, { Ref: 'SesInboundTopic' });
    assert.equal(sub.Properties.RawMessageDelivery, undefined, 'the function verifies the SNS envelope');
    const [cond, custom, own] = sub.Properties.Endpoint['Fn::If'];
    assert.equal(cond, 'HasPublicBaseUrl');
    for (const branch of [custom, own]) {
      const parts = branch['Fn::Join'][1];
      assert.equal(parts[parts.length - 1], '/email/ses');
    }
    assert.deepEqual(custom['Fn::Join'][1][0], { Ref: 'PublicBaseUrl' });
    const route = Object.keys(resources).find(
      (id) => resources[id].Type === 'AWS::ApiGatewayV2::Route' && resources[id].Properties.RouteKey === 'POST /email/ses',
    )!;
    assert.ok(sub.DependsOn.includes(route), 'created after its route');
    assert.ok(sub.DependsOn.includes(emailFn), 'created after the function');
    assert.deepEqual(sub.Properties.RedrivePolicy, { deadLetterTargetArn: { 'Fn::GetAtt': ['SesInboundDeadLetterQueue', 'Arn'] } });
    assert.equal(sub.Properties.DeliveryPolicy.healthyRetryPolicy.numRetries, 50);
    template.hasResource('AWS::SQS::QueuePolicy', {
      Condition: 'HasSesInbound',
      Properties: {
        PolicyDocument: {
          Statement: [Match.objectLike({ Principal: { Service: 'sns.amazonaws.com' }, Condition: { ArnEquals: { 'aws:SourceArn': { Ref: 'SesInboundTopic' } } } })],
        },
      },
    });
    const alarms = Object.values(resources).filter(
      (r: any) => r.Type === 'AWS::CloudWatch::Alarm' && JSON.stringify(r.Properties.Dimensions ?? []).includes('SesInboundDeadLetterQueue'),
    ) as any[];
    assert.equal(alarms.length, 1);
    assert.equal(alarms[0].Condition, 'HasSesInbound');
  });

  it('email-webhook accepts the inbound topic and the extra topics named', () => {
    const vars = resources[emailFn].Properties.Environment.Variables;
    assert.deepEqual(vars.SES_TOPIC_ARNS, {
      'Fn::If': [
        'HasSesInbound',
        { 'Fn::Join': [',', [{ Ref: 'SesInboundTopic' }, { Ref: 'SesExtraTopicArns' }]] },
        { Ref: 'SesExtraTopicArns' },
      ],
    });
  });

  it('without an ses route there is no SES inbound', () => {
    const t = synth(
      MANIFEST.map((f) => ({
        ...f,
        routes: f.routes.filter((r) => r.provider !== 'ses'),
        env: f.env.filter((v) => v.name !== 'SES_TOPIC_ARNS'),
        grants: f.grants.filter((g) => !g.resource.kind.startsWith('inbound_mail')),
      })),
    );
    const out = t.toJSON();
    for (const type of ['AWS::SES::ReceiptRule', 'AWS::SES::ReceiptRuleSet']) t.resourceCountIs(type, 0);
    for (const id of ['SesInboundKey', 'SesInboundTopic', 'SesInboundSubscription']) assert.equal(out.Resources[id], undefined, id);
    assert.equal(out.Parameters.SesInboundRecipients, undefined);
    assert.equal(out.Conditions.HasSesInbound, undefined);
  });
});

describe('handled failures are seen', () => {
  const alarms = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm');
  const on = (namespace: string, metric: string, dimensions: Record<string, string>) =>
    alarms.filter(([, a]) => {
      const p = a.Properties;
      const dims = Object.fromEntries((p.Dimensions ?? []).map((d: any) => [d.Name, d.Value]));
      return p.Namespace === namespace && p.MetricName === metric && JSON.stringify(dims) === JSON.stringify(dimensions);
    });

  it("alarms on the functions' own metrics: webhooks answered 5xx and acks failed for good", () => {
    for (const [metric, outcome] of [
      ['Webhooks', 'failed'],
      ['Acks', 'failed'],
    ]) {
      const found = on('Intake', metric, { Outcome: outcome });
      assert.equal(found.length, 1, `${metric}{Outcome=${outcome}}`);
      const p = found[0][1].Properties;
      assert.equal(p.Statistic, 'Sum');
      assert.equal(p.Threshold, 0);
      assert.equal(p.ComparisonOperator, 'GreaterThanThreshold');
      assert.equal(p.TreatMissingData, 'notBreaching', 'EMF metrics have no data while nothing happens');
      assert.deepEqual(p.AlarmActions, [{ Ref: ALARM_TOPIC }]);
    }
  });

  it('alarms on API Gateway 5xx, which also counts timeouts and crashes', () => {
    const apiId = Object.keys(resources).find((id) => resources[id].Type === 'AWS::ApiGatewayV2::Api')!;
    const found = alarms.filter(([, a]) => a.Properties.Namespace === 'AWS/ApiGateway' && a.Properties.MetricName === '5xx');
    assert.equal(found.length, 1);
    assert.deepEqual(found[0][1].Properties.Dimensions, [{ Name: 'ApiId', Value: { Ref: apiId } }]);
  });

  it('alarms on a spike of signature refusals, at a threshold the deployer sets', () => {
    const found = alarms.filter(([, a]) => (a.Properties.Metrics ?? []).some((m: any) => m.Expression === 'bad + missing'));
    assert.equal(found.length, 1);
    const p = found[0][1].Properties;
    assert.deepEqual(p.Threshold, { Ref: 'SignatureRefusalThreshold' });
    assert.equal(p.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
    const codes = p.Metrics.filter((m: any) => m.MetricStat)
      .map((m: any) => Object.fromEntries(m.MetricStat.Metric.Dimensions.map((d: any) => [d.Name, d.Value])))
      .map((d: any) => `${d.Outcome}/${d.Code}`)
      .sort();
    assert.deepEqual(codes, ['refused/bad_signature', 'refused/missing_signature']);
  });

  it('alarms when SNS cannot deliver inbound mail, only with SES inbound', () => {
    const found = alarms.filter(
      ([, a]) => a.Properties.MetricName === 'NumberOfNotificationsFailed' && a.Condition === 'HasSesInbound',
    );
    assert.equal(found.length, 1);
    assert.deepEqual(found[0][1].Properties.Dimensions, [
      { Name: 'TopicName', Value: { 'Fn::GetAtt': ['SesInboundTopic', 'TopicName'] } },
    ]);
  });

  it('has a dashboard of the flow', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const body = JSON.stringify(resources.Dashboard.Properties.DashboardBody);
    for (const metric of ['Webhooks', 'Acks', 'AckDelay', 'WebhookLatency', 'IteratorAge', 'ApproximateNumberOfMessagesVisible']) {
      assert.ok(body.includes(metric), metric);
    }
    assert.ok(template.toJSON().Outputs.DashboardName);
  });
});

describe('AWS End User Messaging SMS', () => {
  const smsFn = functionId(resources, 'sms-webhook');
  const ackRole = roleId(resources, functionId(resources, 'acknowledger'));

  it('the inbound topic is encrypted with a key only End User Messaging SMS of this account may publish with', () => {
    const key = resources.AwsSmsInboundKey;
    assert.equal(key.Condition, 'HasAwsSmsInbound');
    assert.equal(key.Properties.EnableKeyRotation, true);
    const service = key.Properties.KeyPolicy.Statement.find((st: any) => st.Principal.Service !== undefined);
    assert.equal(service.Principal.Service, 'sms-voice.amazonaws.com');
    assert.deepEqual(service.Condition, { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } });
    const topic = resources.AwsSmsInboundTopic;
    assert.equal(topic.Condition, 'HasAwsSmsInbound');
    assert.deepEqual(topic.Properties.KmsMasterKeyId, { 'Fn::GetAtt': ['AwsSmsInboundKey', 'Arn'] });
    const policy = resources.AwsSmsInboundTopicPolicy.Properties.PolicyDocument.Statement;
    assert.equal(policy.length, 1);
    assert.equal(policy[0].Principal.Service, 'sms-voice.amazonaws.com');
    assert.equal(policy[0].Action, 'sns:Publish');
    assert.deepEqual(policy[0].Condition, { StringEquals: { 'AWS:SourceAccount': { Ref: 'AWS::AccountId' } } });
  });

  it('the topic is subscribed over HTTPS to <base URL>/sms/aws, after that route, with a dead-letter queue and alarms', () => {
    const sub = resources.AwsSmsInboundSubscription;
    assert.equal(sub.Condition, 'HasAwsSmsInbound');
    assert.equal(sub.Properties.Protocol, 'https');
    assert.equal(sub.Properties.RawMessageDelivery, undefined, 'the function verifies the SNS envelope');
    for (const branch of sub.Properties.Endpoint['Fn::If'].slice(1)) {
      const parts = branch['Fn::Join'][1];
      assert.equal(parts[parts.length - 1], '/sms/aws');
    }
    const route = Object.keys(resources).find(
      (id) => resources[id].Type === 'AWS::ApiGatewayV2::Route' && resources[id].Properties.RouteKey === 'POST /sms/aws',
    )!;
    assert.ok(sub.DependsOn.includes(route), 'created after its route');
    assert.ok(sub.DependsOn.includes(smsFn), 'created after the function');
    assert.deepEqual(sub.Properties.RedrivePolicy, { deadLetterTargetArn: { 'Fn::GetAtt': ['AwsSmsInboundDeadLetterQueue', 'Arn'] } });
    const alarms = Object.values(resources).filter(
      (r: any) => r.Type === 'AWS::CloudWatch::Alarm' && r.Condition === 'HasAwsSmsInbound',
    ) as any[];
    assert.deepEqual(alarms.map((a) => a.Properties.MetricName).sort(), ['ApproximateNumberOfMessagesVisible', 'NumberOfNotificationsFailed']);
  });

  it('the SMS webhook accepts the inbound topic only when it exists', () => {
    assert.deepEqual(resources[smsFn].Properties.Environment.Variables.AWS_SMS_TOPIC_ARNS, {
      'Fn::If': ['HasAwsSmsInbound', { Ref: 'AwsSmsInboundTopic' }, { Ref: 'AWS::NoValue' }],
    });
  });

  it('the acknowledger may send texts from the account numbers and the named configuration set, only when asked', () => {
    const send = statements(resources, ackRole).filter((st) => list(st.Action).includes('sms-voice:SendTextMessage'));
    assert.equal(send.length, 1);
    assert.equal(send[0].condition, 'HasAwsSmsSend');
    const text = JSON.stringify(send[0].Resource);
    assert.ok(text.includes(':phone-number/*'), text);
    assert.ok(text.includes('HasAwsSmsConfigurationSet') && text.includes('configuration-set/${AwsSmsConfigurationSet}'), text);
    assert.ok(!text.includes('"*"'), 'never on *');
  });

  it('without an aws route there is no AWS SMS inbound', () => {
    const t = synth(
      MANIFEST.map((f) => ({
        ...f,
        routes: f.routes.filter((r) => r.provider !== 'aws'),
        env: f.env.filter((v) => v.name !== 'AWS_SMS_TOPIC_ARNS'),
      })),
    ).toJSON();
    for (const id of ['AwsSmsInboundKey', 'AwsSmsInboundTopic', 'AwsSmsInboundSubscription']) assert.equal(t.Resources[id], undefined, id);
    assert.equal(t.Parameters.AwsSmsInbound, undefined);
  });
});

describe('inbound mail in S3', () => {
  it('the email webhook may read the bucket prefix (and decrypt with its key) only when given', () => {
    const role = roleId(resources, functionId(resources, 'email-webhook'));
    const mail = statements(resources, role).filter((s) => s.Sid === 'InboundMail' || s.Sid === 'InboundMailKey');
    assert.deepEqual(
      mail.map((s) => [s.Sid, s.condition, s.Action]),
      [
        ['InboundMail', 'HasInboundMailBucket', ['s3:GetObject']],
        ['InboundMailKey', 'HasInboundMailKey', ['kms:Decrypt']],
      ],
    );
    assert.ok(JSON.stringify(mail[0].Resource).includes('/inbound/*'));
    // Other functions touch no inbound mail: their only s3: statement is the archive's.
    for (const f of MANIFEST.filter((f) => f.name !== 'email-webhook')) {
      const other = roleId(resources, functionId(resources, f.name));
      const s3 = statements(resources, other).filter((s) => list(s.Action).some((a: string) => a.startsWith('s3:')));
      assert.ok(s3.every((s) => s.Sid === 'Archive'), f.name);
    }
  });
});

describe('the archive of verified deliveries not stored', () => {
  const bucket = resources.ArchiveBucket;
  const archivers = MANIFEST.filter((f) => f.env.some((v) => v.name === 'ARCHIVE_BUCKET'));

  it('is one bucket, retained, encrypted with S3-managed keys, with no public access and ACLs off', () => {
    template.resourceCountIs('AWS::S3::Bucket', 1);
    assert.equal(bucket.Type, 'AWS::S3::Bucket');
    assert.equal(bucket.DeletionPolicy, 'Retain');
    assert.equal(bucket.UpdateReplacePolicy, 'Retain');
    const p = bucket.Properties;
    assert.deepEqual(p.BucketEncryption, {
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
    assert.deepEqual(p.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    assert.deepEqual(p.OwnershipControls, { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    assert.equal(p.VersioningConfiguration, undefined, 'not versioned: an expired delivery is gone');
  });

  it('expires archive/ after ArchiveRetentionDays (30 by default) and aborts unfinished uploads after a day', () => {
    assert.deepEqual(bucket.Properties.LifecycleConfiguration.Rules, [
      { Id: 'ExpireArchivedDeliveries', Status: 'Enabled', Prefix: 'archive/', ExpirationInDays: { Ref: 'ArchiveRetentionDays' } },
      { Id: 'AbortIncompleteUploads', Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } },
    ]);
    const days = template.toJSON().Parameters.ArchiveRetentionDays;
    assert.equal(days.Type, 'Number');
    assert.equal(days.Default, 30);
    assert.equal(days.MinValue, 1);
    assert.equal(days.MaxValue, 3650);
  });

  it('refuses every request without TLS', () => {
    const policy = resources.ArchiveBucketPolicy;
    assert.equal(policy.DeletionPolicy, 'Retain');
    assert.deepEqual(policy.Properties.Bucket, { Ref: 'ArchiveBucket' });
    assert.deepEqual(policy.Properties.PolicyDocument.Statement, [
      {
        Sid: 'DenyInsecureTransport',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Resource: [{ 'Fn::GetAtt': ['ArchiveBucket', 'Arn'] }, { 'Fn::Sub': '${ArchiveBucket.Arn}/*' }],
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
    ]);
  });

  it('each webhook archives to the bucket, ArchiveAll as ARCHIVE_ALL, and may put and get archive/* only', () => {
    assert.deepEqual(
      archivers.map((f) => f.name),
      ['sms-webhook', 'email-webhook', 'social-webhook'],
    );
    const all = template.toJSON().Parameters.ArchiveAll;
    assert.equal(all.Default, 'false');
    assert.deepEqual(all.AllowedValues, ['false', 'true']);
    for (const f of archivers) {
      const fn = functionId(resources, f.name);
      const vars = resources[fn].Properties.Environment.Variables;
      assert.deepEqual(vars.ARCHIVE_BUCKET, { Ref: 'ArchiveBucket' }, f.name);
      assert.deepEqual(vars.ARCHIVE_ALL, { Ref: 'ArchiveAll' }, f.name);
      const role = roleId(resources, fn);
      const archive = { 'Fn::Sub': ARCHIVE_OBJECTS_ARN };
      assert.deepEqual(actionsOn(resources, role, archive), ['s3:GetObject', 's3:PutObject'], f.name);
      assert.deepEqual(grantedOn(f, 'archive_objects').sort(), ['s3:GetObject', 's3:PutObject']);
      const onBucket = statements(resources, role).filter((s) => JSON.stringify(s.Resource).includes('ArchiveBucket'));
      assert.equal(onBucket.length, 1, `${f.name}: one statement on the archive`);
      assert.equal(onBucket[0].condition, undefined, `${f.name}: always`);
    }
    assert.equal(ARCHIVE_OBJECTS_ARN, 'arn:${AWS::Partition}:s3:::${ArchiveBucket}/archive/*');
    const ack = roleId(resources, functionId(resources, acknowledger.name));
    assert.ok(!JSON.stringify(statements(resources, ack)).includes('ArchiveBucket'), 'the acknowledger archives nothing');
  });

  it('outputs the bucket and each webhook function by name, for intake replay --stack', () => {
    const outputs = template.toJSON().Outputs;
    assert.deepEqual(outputs.ArchiveBucketName.Value, { Ref: 'ArchiveBucket' });
    for (const f of archivers) {
      assert.deepEqual(outputs[`${pascal(f.name)}FunctionName`].Value, { Ref: functionId(resources, f.name) }, f.name);
    }
  });

  it('alarms on archived failures (Kept=failure, not audit) and on archive writes that failed (either)', () => {
    const alarm = (prefix: string) => resources[byPrefix(resources, 'AWS::CloudWatch::Alarm', prefix)].Properties;
    const archived = alarm('ArchivedFailuresAlarm');
    assert.equal(archived.Namespace, 'Intake');
    assert.equal(archived.MetricName, 'ArchivedDeliveries');
    assert.deepEqual(archived.Dimensions, [{ Name: 'Kept', Value: 'failure' }]);
    assert.equal(archived.Statistic, 'Sum');
    assert.equal(archived.Period, 300);
    assert.ok(archived.AlarmDescription.includes('intake replay run --stack'));
    const writes = alarm('ArchiveWriteFailuresAlarm');
    const kept = writes.Metrics.filter((m: any) => m.MetricStat).map((m: any) => [
      m.Id,
      m.MetricStat.Metric.MetricName,
      m.MetricStat.Metric.Dimensions,
      m.MetricStat.Stat,
    ]);
    assert.deepEqual(kept, [
      ['failure', 'ArchiveWriteFailures', [{ Name: 'Kept', Value: 'failure' }], 'Sum'],
      ['audit', 'ArchiveWriteFailures', [{ Name: 'Kept', Value: 'audit' }], 'Sum'],
    ]);
    assert.ok(writes.Metrics.some((m: any) => m.Expression === 'FILL(failure, 0) + FILL(audit, 0)'));
    for (const p of [archived, writes]) {
      assert.equal(p.Threshold, 0);
      assert.equal(p.ComparisonOperator, 'GreaterThanThreshold');
      assert.equal(p.TreatMissingData, 'notBreaching');
      assert.deepEqual(p.AlarmActions, [{ Ref: ALARM_TOPIC }]);
    }
    const body = JSON.stringify(resources.Dashboard.Properties.DashboardBody);
    for (const metric of ['ArchivedDeliveries', 'ArchiveWriteFailures']) assert.ok(body.includes(metric), metric);
  });
});
