// Intake on AWS, the same system as infra/template.yaml (SAM): same parameters, conditions,
// table, API, functions, event source mapping, permissions, alarms and outputs. Functions,
// routes and environment are generated from infra/manifest.json, so a provider added to the
// Rust code is deployed here without editing this file (its variables become parameters);
// the SAM template is written by hand and tests/infra_consistency.rs holds it to the same
// manifest.

import * as path from 'node:path';
import {
  Aws,
  CfnCondition,
  CfnMapping,
  CfnOutput,
  CfnParameter,
  Duration,
  Fn,
  ICfnConditionExpression,
  RemovalPolicy,
  Stack,
  StackProps,
  Token,
  Validations,
} from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { RustFunction } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';
import { EnvVar, FunctionSpec, isHttp, pascal, workspaceRoot } from './manifest';

/** The access log line of the API: no query strings, headers or bodies. Same as the SAM template's. */
export const ACCESS_LOG_FORMAT =
  '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","requestTime":"$context.requestTime",' +
  '"httpMethod":"$context.httpMethod","routeKey":"$context.routeKey","path":"$context.path","status":"$context.status",' +
  '"protocol":"$context.protocol","responseLength":"$context.responseLength","responseLatency":"$context.responseLatency",' +
  '"integrationStatus":"$context.integrationStatus","integrationLatency":"$context.integrationLatency",' +
  '"integrationError":"$context.integrationErrorMessage","userAgent":"$context.identity.userAgent"}';

/**
 * Table actions each kind of function uses on the table, and nothing more.
 * - Webhooks (shared/src/store/ingest.rs): a consistent GetItem of the contact, then one
 *   TransactWriteItems of Puts and Updates. DynamoDB authorizes each item of a transaction with
 *   its item-level action (there is no TransactWriteItems IAM action); no ConditionCheck items.
 * - Acknowledger (shared/src/ack, store/read.rs, store/ack.rs): GetItem of the ticket, contact
 *   and first message; conditional UpdateItem of the ticket's ack and the contact's recent acks.
 *   The stream is read by the event source mapping (DynamoEventSource grants it).
 */
export const TABLE_ACTIONS = {
  http: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  table_stream: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
} as const;

/**
 * Variables the deployment leaves unset, with why. Every other variable a function reads is set.
 */
export const NOT_DEPLOYED: Record<string, string> = {
  INTAKE_CONFIG: 'a path to a bundled intake.toml; deployments pass the document as INTAKE_CONFIG_TOML instead',
  TWILIO_API_BASE_URL: "only the local stack points it elsewhere (its recorder); Twilio's real API is the default",
  META_GRAPH_BASE_URL: 'only the local stack points it elsewhere; the Graph API is the default',
  TELEGRAM_API_BASE_URL: "only the local stack points it elsewhere; Telegram's Bot API is the default",
  LINE_API_BASE_URL: "only the local stack points it elsewhere; LINE's Messaging API is the default",
};

/** Extra constraints of provider parameters, by variable. */
const PARAMETER_DETAILS: Record<string, { description: string; allowedPattern?: string; constraintDescription?: string }> = {
  META_GRAPH_VERSION: { description: 'Optional. Graph API version of Meta sends, e.g. v21.0. Empty: the built-in one.' },
  META_WHATSAPP_TEMPLATE: {
    description:
      'Optional. name:language of an approved WhatsApp template for acks outside the 24-hour window. Empty: such acks are skipped.',
  },
  TWILIO_ACCOUNT_SID: {
    description: 'Twilio account SID (AC followed by 32 hex digits). Not a secret. Empty only if Twilio is not used.',
    allowedPattern: '^(AC[0-9a-fA-F]{32})?$',
    constraintDescription: 'empty, or AC followed by 32 hexadecimal digits',
  },
};

/** Memory and timeout by kind of function; the reasons are in infra/template.yaml. */
const SIZING = {
  // CPU scales with memory: cold-start TLS handshakes (SSM, DynamoDB) take half as long as at
  // 128 MB, for the same cost per invocation.
  http: { memorySize: 256, timeout: Duration.seconds(15) },
  // A batch of 5 records whose provider calls (10 s timeout) all time out, plus DynamoDB.
  table_stream: { memorySize: 256, timeout: Duration.seconds(90) },
} as const;

export interface IntakeStackProps extends StackProps {
  /** The functions to deploy (infra/manifest.json). */
  readonly manifest: FunctionSpec[];
}

export class IntakeStack extends Stack {
  readonly table: dynamodb.Table;
  readonly api: apigwv2.HttpApi;
  readonly functions: Record<string, lambda.Function> = {};

  private readonly params = new Map<string, CfnParameter>();
  private readonly conditions = new Map<string, CfnCondition>();
  private readonly secretPolicies = new Map<string, iam.Policy>();

  constructor(scope: Construct, id: string, props: IntakeStackProps) {
    super(scope, id, {
      description:
        'Intake: provider webhooks (HTTP API -> one function per channel) store tickets in one DynamoDB table; ' +
        'a stream consumer sends one acknowledgement per new ticket.',
      analyticsReporting: false,
      ...props,
    });
    const manifest = props.manifest;
    // CDK's template validation does not evaluate conditions: ReservedConcurrentExecutions is
    // only set when the parameter is not -1 (HasXReservedConcurrency).
    Validations.of(this).acknowledge({
      id: 'CloudFormation-Validate::W1030',
      reason: 'the -1 default of the reserved concurrency parameters is guarded by a condition',
    });
    Validations.of(this).acknowledge({
      id: 'CloudFormation-Validate::W2509',
      reason: '*SecretParameterName parameters hold the names of SSM parameters, not secrets',
    });
    const providers = [...new Set(manifest.flatMap((f) => f.routes.map((r) => r.provider)))];

    // ---- Parameters and conditions (the same names as the SAM template's) ---------------
    const ackConfig = this.param('AckConfigParameterName', {
      description:
        'Optional. Name of a plain String SSM parameter holding intake.toml (brands, hours, templates). Resolved at ' +
        "deploy time into the acknowledger's INTAKE_CONFIG_TOML, so redeploy after changing it. Empty: built-in " +
        'English acknowledgements around the clock. Lambda environment variables are limited to 4 KB in total.',
      default: '',
      allowedPattern: '^(/[A-Za-z0-9_.\\-/]+)?$',
    });
    const publicBaseUrl = this.param('PublicBaseUrl', {
      description:
        'Optional. The URL providers call when you map a custom domain to the API, e.g. https://hooks.example.com ' +
        "(no trailing slash). Signatures are checked against it. Empty: the API's own execute-api URL.",
      default: '',
      allowedPattern: '^(https://[A-Za-z0-9.\\-]+(:[0-9]+)?(/[A-Za-z0-9._~\\-/]*[A-Za-z0-9._~\\-])?)?$',
      constraintDescription: 'empty, or an https URL without query, fragment or trailing slash',
    });
    const rateLimit = this.param('ApiThrottlingRateLimit', {
      type: 'Number',
      description:
        'Steady-state requests per second the API accepts across all routes before answering 429 (providers retry). ' +
        'Protects the table and your bill from a flood.',
      default: 50,
      minValue: 1,
    });
    const burstLimit = this.param('ApiThrottlingBurstLimit', {
      type: 'Number',
      description: 'Burst of requests the API accepts above the rate limit.',
      default: 100,
      minValue: 1,
    });
    const logLevel = this.param('LogLevel', {
      description: 'RUST_LOG of every function, and the matching Lambda application log level.',
      default: 'info',
      allowedValues: ['error', 'warn', 'info', 'debug', 'trace'],
    });
    const retention = this.param('LogRetentionInDays', {
      type: 'Number',
      description: 'Days to keep function and API access logs.',
      default: '30',
      allowedValues: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653].map(String),
    });
    const enableTracing = this.param('EnableTracing', {
      description: 'AWS X-Ray active tracing of the functions.',
      default: 'false',
      allowedValues: ['true', 'false'],
    });
    const alarmEmail = this.param('AlarmEmail', {
      description: 'Optional. Email address subscribed to the alarm topic (confirm the email AWS sends).',
      default: '',
    });

    const hasPublicBaseUrl = new CfnCondition(this, 'HasPublicBaseUrl', {
      expression: Fn.conditionNot(Fn.conditionEquals(publicBaseUrl.valueAsString, '')),
    });
    const hasAckConfig = new CfnCondition(this, 'HasAckConfig', {
      expression: Fn.conditionNot(Fn.conditionEquals(ackConfig.valueAsString, '')),
    });
    const tracingEnabled = new CfnCondition(this, 'TracingEnabled', {
      expression: Fn.conditionEquals(enableTracing.valueAsString, 'true'),
    });
    const hasAlarmEmail = new CfnCondition(this, 'HasAlarmEmail', {
      expression: Fn.conditionNot(Fn.conditionEquals(alarmEmail.valueAsString, '')),
    });
    // RUST_LOG level -> Lambda's ApplicationLogLevel, so Lambda does not drop what the function
    // was asked to log (with the JSON log format Lambda filters on the "level" field).
    const logLevels = new CfnMapping(this, 'LogLevels', {
      lazy: true,
      mapping: {
        error: { Lambda: 'ERROR' },
        warn: { Lambda: 'WARN' },
        info: { Lambda: 'INFO' },
        debug: { Lambda: 'DEBUG' },
        trace: { Lambda: 'TRACE' },
      },
    });

    // ---- The table (must match shared/src/store/schema.rs) -------------------------------
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      timeToLiveAttribute: 'expires_at',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      // The AWS managed key (aws/dynamodb): usable through DynamoDB without kms: permissions.
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: 'by_contact',
      partitionKey: { name: 'contact_key', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'created_at', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });

    // ---- HTTP API -------------------------------------------------------------------------
    // The API depends on nothing (routes and integrations are separate resources), so the
    // functions can be given its URL.
    this.api = new apigwv2.HttpApi(this, 'Api', {
      apiName: `${Aws.STACK_NAME}-webhooks`,
      description: 'Intake provider webhooks',
      createDefaultStage: false,
    });
    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', { removalPolicy: RemovalPolicy.DESTROY });
    this.setRetention(accessLogs, retention);
    new apigwv2.HttpStage(this, 'ApiDefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: rateLimit.valueAsNumber, burstLimit: burstLimit.valueAsNumber },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogs),
        format: apigw.AccessLogFormat.custom(ACCESS_LOG_FORMAT),
      },
    });
    const apiUrl = Fn.sub('https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}', {
      Api: this.api.apiId,
    });
    const baseUrl = Token.asString(Fn.conditionIf(hasPublicBaseUrl.logicalId, publicBaseUrl.valueAsString, apiUrl));

    // ---- Dead letters and alarms ------------------------------------------------------------
    // The on-failure destination gets a description of the failed batch (shard, sequence
    // numbers), not the records; they stay in the stream for 24 hours (infra/README.md).
    const deadLetters = new sqs.Queue(this, 'AcknowledgerDeadLetterQueue', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
    });
    // Not encrypted with aws/sns: CloudWatch alarms cannot publish to a topic encrypted with an
    // AWS managed key. It carries alarm names and states only.
    const alarmTopic = new sns.Topic(this, 'AlarmTopic', { displayName: 'Intake alarms' });
    const emailSubscription = new sns.CfnSubscription(this, 'AlarmEmailSubscription', {
      topicArn: alarmTopic.topicArn,
      protocol: 'email',
      endpoint: alarmEmail.valueAsString,
    });
    emailSubscription.cfnOptions.condition = hasAlarmEmail;
    const alarm = (id: string, description: string, metric: cloudwatch.IMetric, threshold = 0) => {
      const a = new cloudwatch.Alarm(this, id, {
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      a.addAlarmAction(new cwActions.SnsAction(alarmTopic));
      a.addOkAction(new cwActions.SnsAction(alarmTopic));
    };
    alarm(
      'DeadLetterAlarm',
      'Stream records the acknowledger gave up on (see infra/README.md to replay them).',
      deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
    );

    // ---- Functions ------------------------------------------------------------------------------
    const roles: iam.Role[] = [];
    for (const spec of manifest) {
      const id = pascal(spec.name);
      const kind = isHttp(spec) ? 'http' : 'table_stream';

      const logGroup = new logs.LogGroup(this, `${id}Logs`, { removalPolicy: RemovalPolicy.DESTROY });
      this.setRetention(logGroup, retention);
      const role = new iam.Role(this, `${id}Role`, {
        description: `${spec.name} (Intake)`,
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      });
      roles.push(role);
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'Logs',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [logGroup.logGroupArn],
        }),
      );
      role.addToPolicy(
        new iam.PolicyStatement({ sid: 'Table', actions: [...TABLE_ACTIONS[kind]], resources: [this.table.tableArn] }),
      );

      const environment: Record<string, string> = {};
      for (const v of spec.env) {
        const wired = this.wire(spec, v, providers, { baseUrl, logLevel, ackConfig, hasAckConfig });
        if (wired === undefined) continue;
        wired.secretPolicy?.attachToRole(role);
        environment[wired.name] = wired.value;
      }
      // Email acknowledgements (later): ses:SendEmail on the configured identity only,
      // arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/<domain>.

      const fn = new RustFunction(this, `${id}Function`, {
        manifestPath: path.join(workspaceRoot(), 'Cargo.toml'),
        binaryName: spec.name,
        runtime: 'provided.al2023',
        architecture: lambda.Architecture.ARM_64,
        description: isHttp(spec)
          ? `Provider webhooks of the ${spec.trigger.http} channel (/${spec.trigger.http}/{provider})`
          : 'One acknowledgement per new ticket (DynamoDB stream consumer)',
        memorySize: SIZING[kind].memorySize,
        timeout: SIZING[kind].timeout,
        role,
        logGroup,
        loggingFormat: lambda.LoggingFormat.JSON,
        environment,
      });
      this.functions[spec.name] = fn;
      const reserved = this.param(`${id}ReservedConcurrency`, {
        type: 'Number',
        description: `Reserved concurrency of the ${spec.name} function; -1 leaves it unreserved (new accounts have too little concurrency to reserve any).`,
        default: -1,
        minValue: -1,
      });
      const hasReserved = new CfnCondition(this, `Has${id}ReservedConcurrency`, {
        expression: Fn.conditionNot(Fn.conditionEquals(reserved.valueAsNumber, -1)),
      });
      const cfn = fn.node.defaultChild as lambda.CfnFunction;
      cfn.reservedConcurrentExecutions = Token.asNumber(
        Fn.conditionIf(hasReserved.logicalId, reserved.valueAsNumber, Aws.NO_VALUE),
      );
      cfn.tracingConfig = { mode: Token.asString(Fn.conditionIf(tracingEnabled.logicalId, 'Active', 'PassThrough')) };
      cfn.loggingConfig = {
        logFormat: 'JSON',
        applicationLogLevel: logLevels.findInMap(logLevel.valueAsString, 'Lambda'),
        logGroup: logGroup.logGroupName,
      };
      cfn.tags.setTag('intake:function', spec.name);

      alarm(
        `${id}ErrorsAlarm`,
        `${spec.name} invocations failed (crash, timeout or failed cold start).`,
        fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
      );
      alarm(
        `${id}ThrottlesAlarm`,
        `${spec.name} invocations throttled.`,
        fn.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }),
      );

      if (isHttp(spec)) {
        const integration = new HttpLambdaIntegration(`${id}Integration`, fn, {
          payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
          timeout: Duration.seconds(29),
        });
        // One route per provider: an unknown provider is answered 404 by API Gateway.
        for (const route of spec.routes) {
          this.api.addRoutes({
            path: `/${route.channel}/${route.provider}`,
            methods: route.methods.map((m) => m as apigwv2.HttpMethod),
            integration,
          });
          new CfnOutput(this, `WebhookUrl${pascal(route.channel)}${pascal(route.provider)}`, {
            description: `${route.provider}: webhook of the ${route.channel} channel, HTTP ${route.methods.join('/')}`,
            value: Token.asString(
              Fn.conditionIf(
                hasPublicBaseUrl.logicalId,
                Fn.join('', [publicBaseUrl.valueAsString, `/${route.channel}/${route.provider}`]),
                Fn.join('', [apiUrl, `/${route.channel}/${route.provider}`]),
              ),
            ),
          });
        }
      } else {
        fn.addEventSource(
          new DynamoEventSource(this.table, {
            // TRIM_HORIZON: nothing written before the mapping is enabled is missed; a record
            // seen twice is harmless (the ack is claimed pending -> sending before any send).
            startingPosition: lambda.StartingPosition.TRIM_HORIZON,
            batchSize: 5,
            maxBatchingWindow: Duration.seconds(0),
            reportBatchItemFailures: true,
            bisectBatchOnError: true,
            // Still failing after 5 retries, or an hour old: to the dead-letter queue.
            retryAttempts: 5,
            maxRecordAge: Duration.hours(1),
            onFailure: new SqsDlq(deadLetters),
            // Only the INSERT of a ticket item invokes the function.
            filters: [
              lambda.FilterCriteria.filter({
                eventName: lambda.FilterRule.isEqual('INSERT'),
                dynamodb: {
                  Keys: {
                    pk: { S: lambda.FilterRule.beginsWith('TICKET#') },
                    sk: { S: lambda.FilterRule.isEqual('META') },
                  },
                },
              }),
            ],
          }),
        );
        alarm(
          `${id}IteratorAgeAlarm`,
          `${spec.name} is falling behind the table's stream (acks are late).`,
          fn.metric('IteratorAge', { period: Duration.minutes(5), statistic: 'Maximum' }),
          300_000,
        );
      }
    }

    // X-Ray (EnableTracing=true): these actions support no narrower resource than "*".
    const tracing = new iam.Policy(this, 'TracingPolicy', {
      policyName: 'xray',
      roles,
      statements: [
        new iam.PolicyStatement({ actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], resources: ['*'] }),
      ],
    });
    (tracing.node.defaultChild as iam.CfnPolicy).cfnOptions.condition = tracingEnabled;

    // Email (SES inbound) and social channels: when the email-webhook function lands in the
    // manifest, its routes, function and permissions come from the loop above; add here,
    // behind an EnableSesInbound parameter, the SES receipt rule set and rule, the SNS topic
    // for inbound mail and its HTTPS subscription to <PublicBaseUrl>/email/ses.

    new CfnOutput(this, 'ApiUrl', { description: 'Base URL of the webhooks (PUBLIC_BASE_URL)', value: baseUrl });
    new CfnOutput(this, 'TableName', {
      description: 'The DynamoDB table (retained when the stack is deleted)',
      value: this.table.tableName,
    });
    new CfnOutput(this, 'DeadLetterQueueUrl', {
      description: 'Stream batches the acknowledger gave up on',
      value: deadLetters.queueUrl,
    });
    new CfnOutput(this, 'AlarmTopicArn', { description: 'SNS topic the alarms notify', value: alarmTopic.topicArn });
  }

  /** A stack parameter, created once, with a stable logical id. */
  private param(name: string, props: ConstructorParameters<typeof CfnParameter>[2]): CfnParameter {
    let p = this.params.get(name);
    if (!p) {
      p = new CfnParameter(this, name, props);
      p.overrideLogicalId(name);
      this.params.set(name, p);
    }
    return p;
  }

  /**
   * Reading one secret, for the roles of the functions that read it: `ssm:GetParameters` on
   * that parameter only, and `kms:Decrypt` through SSM. SecureStrings encrypted with the AWS
   * managed key aws/ssm are decrypted by SSM on the caller's behalf; the kms: statement also
   * lets a customer managed key work whose key policy delegates to IAM. Only through SSM, only
   * in this account and region. Nothing at all when the parameter name is left empty.
   */
  private secretPolicy(name: string, param: CfnParameter, has: CfnCondition): iam.Policy {
    const id = `${pascal(name)}SecretPolicy`;
    let policy = this.secretPolicies.get(id);
    if (!policy) {
      policy = new iam.Policy(this, id, {
        policyName: `secret-${name.toLowerCase().replace(/_/g, '-')}`,
        statements: [
          new iam.PolicyStatement({
            sid: 'ReadSecret',
            actions: ['ssm:GetParameters'],
            resources: [
              Fn.sub('arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${Name}', {
                Name: param.valueAsString,
              }),
            ],
          }),
          new iam.PolicyStatement({
            sid: 'DecryptSecret',
            actions: ['kms:Decrypt'],
            resources: [Fn.sub('arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*')],
            conditions: { StringEquals: { 'kms:ViaService': Fn.sub('ssm.${AWS::Region}.${AWS::URLSuffix}') } },
          }),
        ],
      });
      const cfn = policy.node.defaultChild as iam.CfnPolicy;
      cfn.overrideLogicalId(id);
      cfn.cfnOptions.condition = has;
      this.secretPolicies.set(id, policy);
    }
    return policy;
  }

  /** A condition, created once. */
  private condition(name: string, expression: ICfnConditionExpression): CfnCondition {
    let c = this.conditions.get(name);
    if (!c) {
      c = new CfnCondition(this, name, { expression });
      this.conditions.set(name, c);
    }
    return c;
  }

  private setRetention(group: logs.LogGroup, days: CfnParameter) {
    (group.node.defaultChild as logs.CfnLogGroup).retentionInDays = days.valueAsNumber;
  }

  /**
   * Where a variable's value comes from; `undefined` when the deployment leaves it unset.
   * Provider variables (named after a provider of the manifest: TWILIO_...) become stack
   * parameters: secrets as `<NAME>_PARAM`, the name of an SSM SecureString parameter.
   * Anything else must be known here: an unknown variable stops the synthesis.
   */
  private wire(
    spec: FunctionSpec,
    v: EnvVar,
    providers: string[],
    ctx: { baseUrl: string; logLevel: CfnParameter; ackConfig: CfnParameter; hasAckConfig: CfnCondition },
  ): { name: string; value: string; secretPolicy?: iam.Policy } | undefined {
    if (v.name in NOT_DEPLOYED) {
      if (v.required) throw new Error(`${spec.name} requires ${v.name}, which the deployment does not set`);
      return undefined;
    }
    switch (v.name) {
      case 'TABLE_NAME':
        return { name: v.name, value: this.table.tableName };
      case 'PUBLIC_BASE_URL':
        return { name: v.name, value: ctx.baseUrl };
      case 'RUST_LOG':
        return { name: v.name, value: ctx.logLevel.valueAsString };
      case 'INTAKE_CONFIG_TOML':
        // Only the acknowledger renders acknowledgements.
        if (spec.trigger !== 'table_stream') return undefined;
        return {
          name: v.name,
          value: Token.asString(
            Fn.conditionIf(
              ctx.hasAckConfig.logicalId,
              Fn.sub('{{resolve:ssm:${AckConfigParameterName}}}', {
                AckConfigParameterName: ctx.ackConfig.valueAsString,
              }),
              Aws.NO_VALUE,
            ),
          ),
        };
    }
    if (!providers.some((p) => v.name.startsWith(`${p.toUpperCase().replace(/-/g, '_')}_`))) {
      throw new Error(
        `${spec.name} reads ${v.name}, which the CDK app does not know how to set: wire it in ` +
          'infra/cdk/lib/intake-stack.ts (and in infra/template.yaml)',
      );
    }
    if (v.secret) {
      // The SSM parameter's name, not its value. Empty (the default) leaves the secret unset
      // (a provider without its secrets is disabled) and grants nothing: a deployment enables
      // exactly the providers whose parameters it names.
      const kebab = v.name.toLowerCase().replace(/_/g, '-');
      const param = this.param(`${pascal(v.name)}ParameterName`, {
        description:
          `Name of the SSM Parameter Store SecureString holding ${v.name} (create it first: aws ssm put-parameter ` +
          `--type SecureString --name /intake/${kebab} ...). The functions read it once at cold start; the value ` +
          'never appears in the template. Empty: not used. A parameter named here must exist, or the functions ' +
          'fail their cold start.',
        default: '',
        allowedPattern: '^(/[A-Za-z0-9_.\\-/]+)?$',
        constraintDescription: 'empty, or a fully qualified parameter name starting with /',
      });
      const has = this.condition(`Has${pascal(v.name)}`, Fn.conditionNot(Fn.conditionEquals(param.valueAsString, '')));
      return {
        name: `${v.name}_PARAM`,
        value: Token.asString(Fn.conditionIf(has.logicalId, param.valueAsString, Aws.NO_VALUE)),
        secretPolicy: this.secretPolicy(v.name, param, has),
      };
    }
    // Plain provider settings: empty is the same as unset for the functions.
    const details = PARAMETER_DETAILS[v.name] ?? { description: `${v.name}, for the functions that read it. Optional.` };
    return { name: v.name, value: this.param(pascal(v.name), { default: '', ...details }).valueAsString };
  }
}
