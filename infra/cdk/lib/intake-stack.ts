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
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ses from 'aws-cdk-lib/aws-ses';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { RustFunction } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';
import { EnvVar, FunctionSpec, grantedOn, isHttp, pascal, workspaceRoot } from './manifest';

/** The access log line of the API: no query strings, headers or bodies. Same as the SAM template's. */
export const ACCESS_LOG_FORMAT =
  '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","requestTime":"$context.requestTime",' +
  '"httpMethod":"$context.httpMethod","routeKey":"$context.routeKey","path":"$context.path","status":"$context.status",' +
  '"protocol":"$context.protocol","responseLength":"$context.responseLength","responseLatency":"$context.responseLatency",' +
  '"integrationStatus":"$context.integrationStatus","integrationLatency":"$context.integrationLatency",' +
  '"integrationError":"$context.integrationErrorMessage","userAgent":"$context.identity.userAgent"}';

/**
 * Variables the deployment leaves unset, with why. Every other variable a function reads is set.
 */
export const NOT_DEPLOYED: Record<string, string> = {
  INTAKE_CONFIG: 'a path to a bundled intake.toml; deployments pass the document as INTAKE_CONFIG_TOML instead',
  TWILIO_API_BASE_URL: "only the local stack points it elsewhere (its recorder); Twilio's real API is the default",
  // Plivo
  PLIVO_API_BASE_URL: "only the local stack points it elsewhere (its recorder); Plivo's real API is the default",
  // MessageBird / Bird
  MESSAGEBIRD_API_BASE_URL: "only the local stack points it elsewhere (its recorder); MessageBird's REST API is the default",
  BIRD_API_BASE_URL: "only the local stack points it elsewhere (its recorder); Bird's API is the default",
  TELNYX_API_BASE_URL: "only the local stack points it elsewhere (its recorder); Telnyx's real API is the default",
  // Vonage
  VONAGE_API_BASE_URL: "only the local stack points it elsewhere (its recorder); Vonage's Messages API is the default",
  VONAGE_REST_BASE_URL: "only the local stack points it elsewhere (its recorder); Vonage's SMS API is the default",
  META_GRAPH_BASE_URL: 'only the local stack points it elsewhere; the Graph API is the default',
  TELEGRAM_API_BASE_URL: "only the local stack points it elsewhere; Telegram's Bot API is the default",
  LINE_API_BASE_URL: "only the local stack points it elsewhere; LINE's Messaging API is the default",
};

/** Extra constraints of provider parameters, by variable. */
const PARAMETER_DETAILS: Record<
  string,
  { type?: string; description: string; allowedPattern?: string; constraintDescription?: string }
> = {
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
  // Plivo
  PLIVO_AUTH_ID: {
    description: "Plivo Auth ID (MA... or SA..., on the console's overview page). Not a secret. Empty only if Plivo is not used.",
    allowedPattern: '^[A-Za-z0-9]*$',
    constraintDescription: 'empty, or letters and digits (MA... or SA...)',
  },
  // MessageBird / Bird: one provider (`messagebird`) whose new platform's variables are named
  // after Bird, so they are listed here to be known. Secrets get the standard SSM description.
  BIRD_SIGNING_KEY: { description: "Bird webhook subscription's signing key (verifies messagebird-signature)." },
  BIRD_ACCESS_KEY: { description: 'Bird API access key (sends acks of Bird messages; needs BIRD_WORKSPACE_ID).' },
  BIRD_WORKSPACE_ID: {
    description: "Bird workspace id (a UUID, in the Bird console's URL). Not a secret. Empty only if no acks go through Bird.",
    allowedPattern: '^[A-Za-z0-9-]*$',
    constraintDescription: 'empty, or the workspace id (letters, digits and dashes)',
  },
  TELNYX_MESSAGING_PROFILE_ID: {
    description:
      'Optional. Telnyx messaging profile id acks are sent under (a UUID). Empty: the profile of the number they are sent from.',
    allowedPattern: '^([0-9a-fA-F-]{36})?$',
    constraintDescription: 'empty, or a messaging profile UUID',
  },
  // Vonage
  VONAGE_SIGNATURE_METHOD: {
    description:
      'Optional. The signature method chosen in the Vonage dashboard for SMS API webhooks: md5hash ' +
      "(Vonage's default), md5, sha1, sha256 or sha512 (HMACs). Empty: md5hash. Messages API webhooks are always " +
      'HS256 JWTs.',
    allowedPattern: '^(md5hash|md5|sha1|sha256|sha512)?$',
    constraintDescription: 'empty, md5hash, md5, sha1, sha256 or sha512',
  },
  VONAGE_API_KEY: {
    description: 'Vonage API key (not a secret), for acks. Required when VonageApiSecretParameterName is set.',
    allowedPattern: '^[A-Za-z0-9]*$',
    constraintDescription: 'letters and digits',
  },
  VONAGE_SEND_API: {
    description: 'Optional. The Vonage API acks go through: messages (the Messages API, default) or sms (the SMS API).',
    allowedPattern: '^(messages|sms)?$',
    constraintDescription: 'empty, messages or sms',
  },
  SES_IDENTITIES: {
    type: 'CommaDelimitedList',
    description:
      'Optional. The SES identities email acknowledgements may be sent from, exactly as verified in SES, ' +
      'comma-separated without spaces, at most 5: domains (tokoku.id) or addresses (help@tokoku.id). Every ' +
      "brand's support_address (or the inbox customers write to) must be one of them or in one of their domains; " +
      '`intake config check` warns when one is not. The acknowledger may call ses:SendEmail on these identities ' +
      'only. Empty (default): no email acknowledgements.',
    allowedPattern: '^(([A-Za-z0-9._%+\\-]+@)?[A-Za-z0-9\\-]+(\\.[A-Za-z0-9\\-]+)+)?$',
    constraintDescription: 'each a domain name or an email address',
  },
  AWS_SMS_SEND: {
    description:
      'Optional. Send acknowledgements to AWS SMS customers with SendTextMessage, from the number they wrote to: the ' +
      "acknowledger may call sms-voice:SendTextMessage on the account's phone numbers (and on AwsSmsConfigurationSet " +
      'when one is named). false (default): none.',
  },
  AWS_SMS_CONFIGURATION_SET: {
    description:
      'Optional. An existing AWS End User Messaging SMS configuration set acks are sent with (event destinations); the ' +
      'acknowledger may use that one only. Empty: none.',
    allowedPattern: '^[A-Za-z0-9_\\-]{0,64}$',
    constraintDescription: 'empty, or up to 64 letters, digits, _ and -',
  },
  SES_CONFIGURATION_SET: {
    description:
      'Optional. An existing SES configuration set acks are sent with (event publishing, dedicated IPs); the ' +
      'acknowledger may use that one only. Empty: none.',
    allowedPattern: '^[A-Za-z0-9_\\-]{0,64}$',
    constraintDescription: 'empty, or up to 64 letters, digits, _ and -',
  },
};

/**
 * Settings that are not a provider's but are read like its secrets (`<NAME>_PARAM`, an SSM
 * parameter name read at cold start), with the parameter's description.
 */
const PARAMETER_SETTINGS: Record<string, string> = {
  INTAKE_CONFIG_TOML:
    'Optional. Name of an SSM parameter (String or SecureString) holding intake.toml (brands, hours, templates), ' +
    'e.g. /intake/config. The acknowledger and the social webhook read it by name at every cold start, so a change ' +
    'reaches each new execution environment without a redeploy (infra/README.md: changing the ack configuration). ' +
    'Empty: built-in English acknowledgements around the clock.',
};

/** The key prefix of archived deliveries (intake::archive::PREFIX). */
export const ARCHIVE_PREFIX = 'archive/';
/** What a webhook may put and get in the archive: objects under the prefix, nothing else. */
export const ARCHIVE_OBJECTS_ARN = `arn:\${AWS::Partition}:s3:::\${ArchiveBucket}/${ARCHIVE_PREFIX}*`;

/** SES identities the acknowledger may send as: CloudFormation cannot map over a list, so five slots. */
export const SES_IDENTITY_SLOTS = 5;
/** `ses:SendEmail` resources: each identity, and the configuration set when one is named (SES v2 authorizes both). */
export const SES_IDENTITY_ARN = 'arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${Identity}';
export const SES_CONFIGURATION_SET_ARN =
  'arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:configuration-set/${SesConfigurationSet}';
/** What SES presents as aws:SourceArn when a receipt rule of the stack's rule set publishes. */
const SES_RECEIPT_RULE_ARN =
  'arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:receipt-rule-set/${RuleSet}:receipt-rule/*';

/**
 * HTTPS delivery of the inbound topic: SNS's default is 3 retries in about a minute; mail
 * should survive a longer outage: 50 retries backing off to one a minute (about 40 minutes),
 * then the subscription's dead-letter queue.
 */
export const SES_INBOUND_DELIVERY_POLICY = {
  healthyRetryPolicy: {
    minDelayTarget: 1,
    maxDelayTarget: 60,
    numRetries: 50,
    numNoDelayRetries: 3,
    numMinDelayRetries: 2,
    numMaxDelayRetries: 35,
    backoffFunction: 'exponential',
  },
  throttlePolicy: { maxReceivesPerSecond: 10 },
};

/** The CloudWatch dashboard, as in the SAM template: webhooks and acks by outcome, delays, errors. */
const DASHBOARD_BODY = [
  '{"widgets":[',
  '{"type":"metric","x":0,"y":0,"width":12,"height":6,"properties":{"title":"Webhooks by outcome","region":"${AWS::Region}","stat":"Sum","period":300,"view":"timeSeries","stacked":true,',
  '"metrics":[["Intake","Webhooks","Outcome","stored"],["...","duplicate"],["...","accepted"],["...","refused"],["...","failed"]]}},',
  '{"type":"metric","x":12,"y":0,"width":12,"height":6,"properties":{"title":"Acknowledgements by outcome","region":"${AWS::Region}","stat":"Sum","period":300,"view":"timeSeries","stacked":true,',
  '"metrics":[["Intake","Acks","Outcome","sent"],["...","skipped"],["...","failed"],["...","retry"],["...","unrecorded"],["...","interrupted"]]}},',
  '{"type":"metric","x":0,"y":6,"width":8,"height":6,"properties":{"title":"Customer message to ack sent (ms)","region":"${AWS::Region}","period":300,"view":"timeSeries",',
  '"metrics":[["Intake","AckDelay","Outcome","sent",{"stat":"p50"}],["...",{"stat":"p99"}]]}},',
  '{"type":"metric","x":8,"y":6,"width":8,"height":6,"properties":{"title":"Webhook latency (ms)","region":"${AWS::Region}","period":300,"view":"timeSeries",',
  '"metrics":[["Intake","WebhookLatency","Outcome","stored",{"stat":"p50"}],["...",{"stat":"p99"}]]}},',
  '{"type":"metric","x":16,"y":6,"width":8,"height":6,"properties":{"title":"Acknowledger behind the stream (ms)","region":"${AWS::Region}","stat":"Maximum","period":300,"view":"timeSeries",',
  '"metrics":[["AWS/Lambda","IteratorAge","FunctionName","${Acknowledger}"]]}},',
  '{"type":"metric","x":0,"y":12,"width":12,"height":6,"properties":{"title":"Function errors and throttles","region":"${AWS::Region}","stat":"Sum","period":300,"view":"timeSeries",',
  '"metrics":[["AWS/Lambda","Errors","FunctionName","${SmsWebhook}"],["...","${EmailWebhook}"],["...","${SocialWebhook}"],["...","${Acknowledger}"],["AWS/Lambda","Throttles","FunctionName","${SmsWebhook}"],["...","${EmailWebhook}"],["...","${SocialWebhook}"],["...","${Acknowledger}"]]}},',
  '{"type":"metric","x":12,"y":12,"width":12,"height":6,"properties":{"title":"Dead letters and API 5xx","region":"${AWS::Region}","period":300,"view":"timeSeries",',
  '"metrics":[["AWS/SQS","ApproximateNumberOfMessagesVisible","QueueName","${DeadLetters}",{"stat":"Maximum"}],["AWS/ApiGateway","5xx","ApiId","${Api}",{"stat":"Sum"}]]}},',
  '{"type":"metric","x":0,"y":18,"width":12,"height":6,"properties":{"title":"Archived for replay, and archive writes that failed","region":"${AWS::Region}","stat":"Sum","period":300,"view":"timeSeries",',
  '"metrics":[["Intake","ArchivedDeliveries","Kept","failure"],["...","audit"],["Intake","ArchiveWriteFailures","Kept","failure"],["...","audit"]]}}',
  ']}',
].join('\n');

/** Memory and timeout by kind of function; the reasons are in infra/template.yaml. */
const SIZING = {
  // CPU scales with memory: cold-start TLS handshakes (SSM, DynamoDB) take half as long as at
  // 128 MB, for the same cost per invocation.
  http: { memorySize: 256, timeout: Duration.seconds(15) },
  // A batch of 10 records acked side by side: read, claim, provider call (10 s) and up to 30 s writing back.
  table_stream: { memorySize: 256, timeout: Duration.seconds(90) },
} as const;

export interface IntakeStackProps extends StackProps {
  /** The functions to deploy (infra/manifest.json). */
  readonly manifest: FunctionSpec[];
  /** The processor the functions are built for (context intake:architecture): arm64 or x86_64. */
  readonly architecture?: 'arm64' | 'x86_64';
}

export class IntakeStack extends Stack {
  readonly table: dynamodb.Table;
  /** The archive of verified deliveries not stored (logical id ArchiveBucket). */
  readonly archiveBucket: s3.CfnBucket;
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
    const signatureRefusalThreshold = this.param('SignatureRefusalThreshold', {
      type: 'Number',
      description:
        'Webhook calls refused for a missing or wrong signature within 5 minutes that raise the probing alarm. A ' +
        'misconfigured secret refuses every genuine call too, so keep it low.',
      default: 20,
      minValue: 1,
    });
    const archiveRetentionDays = this.param('ArchiveRetentionDays', {
      type: 'Number',
      description:
        'Days an archived delivery (a verified webhook request that was not stored: parse failure, store outage, ' +
        'internal error) is kept in ArchiveBucket for `intake replay` before S3 deletes it. It holds customers\' ' +
        'messages: keep it as short as your replay window allows.',
      default: 30,
      minValue: 1,
      maxValue: 3650,
    });
    const architecture = this.param('Architecture', {
      description:
        'Processor of the functions. arm64 (Graviton) costs less per millisecond; build with `make lambda ARCH=arm64` ' +
        '(needs the aarch64-unknown-linux-gnu Rust target). x86_64: `make lambda ARCH=x86-64`. With `cdk deploy`, ' +
        'the context intake:architecture chooses what is built and must agree.',
      default: props.architecture ?? 'arm64',
      allowedValues: ['arm64', 'x86_64'],
    });

    const hasPublicBaseUrl = new CfnCondition(this, 'HasPublicBaseUrl', {
      expression: Fn.conditionNot(Fn.conditionEquals(publicBaseUrl.valueAsString, '')),
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

    // ---- The archive (shared/src/archive.rs), as the SAM template (which says why) -------------
    // Verified deliveries not stored (or all, with ArchiveAll) under archive/: no public
    // access, ACLs off, SSE-S3 (no kms: for the roles), TLS only, expired after
    // ArchiveRetentionDays, not versioned, retained like the table. L1 resources with the SAM
    // template's logical ids, so both templates are the same.
    this.archiveBucket = new s3.CfnBucket(this, 'ArchiveBucket', {
      bucketEncryption: {
        serverSideEncryptionConfiguration: [{ serverSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }],
      },
      publicAccessBlockConfiguration: {
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      ownershipControls: { rules: [{ objectOwnership: 'BucketOwnerEnforced' }] },
      lifecycleConfiguration: {
        rules: [
          {
            id: 'ExpireArchivedDeliveries',
            status: 'Enabled',
            prefix: ARCHIVE_PREFIX,
            expirationInDays: archiveRetentionDays.valueAsNumber,
          },
          { id: 'AbortIncompleteUploads', status: 'Enabled', abortIncompleteMultipartUpload: { daysAfterInitiation: 1 } },
        ],
      },
    });
    this.archiveBucket.overrideLogicalId('ArchiveBucket');
    this.archiveBucket.applyRemovalPolicy(RemovalPolicy.RETAIN);
    const archivePolicy = new s3.CfnBucketPolicy(this, 'ArchiveBucketPolicy', {
      bucket: this.archiveBucket.ref,
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'DenyInsecureTransport',
            Effect: 'Deny',
            Principal: '*',
            Action: 's3:*',
            Resource: [this.archiveBucket.attrArn, Fn.sub('${ArchiveBucket.Arn}/*')],
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ],
      },
    });
    archivePolicy.overrideLogicalId('ArchiveBucketPolicy');
    archivePolicy.applyRemovalPolicy(RemovalPolicy.RETAIN);

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
    const stage = new apigwv2.HttpStage(this, 'ApiDefaultStage', {
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
    const alarm = (
      id: string,
      description: string,
      metric: cloudwatch.IMetric,
      threshold = 0,
      comparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      condition?: CfnCondition,
    ): cloudwatch.Alarm => {
      const a = new cloudwatch.Alarm(this, id, {
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      a.addAlarmAction(new cwActions.SnsAction(alarmTopic));
      a.addOkAction(new cwActions.SnsAction(alarmTopic));
      if (condition) (a.node.defaultChild as cloudwatch.CfnAlarm).cfnOptions.condition = condition;
      return a;
    };
    alarm(
      'DeadLetterAlarm',
      'Stream records the acknowledger gave up on (see infra/README.md to replay them).',
      deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
    );

    // ---- SES inbound (SesInboundRecipients not empty), when a function serves /email/ses ---
    // Receipt rule -> SNS topic -> HTTPS subscription -> POST /email/ses. As in the SAM
    // template (the reasons are there too):
    // - SES receives mail only in some regions; elsewhere the rule set cannot be created.
    // - Only ONE receipt rule set is active per account and region, and CloudFormation cannot
    //   activate one: `aws ses set-active-receipt-rule-set --rule-set-name <SesInboundRuleSetName>`
    //   after the first deployment (deactivate it before deleting the stack).
    // - An SNS action carries at most 150 KB of mail; larger mail bounces. With InboundMailBucket
    //   set, the rule uses an S3 action instead (the notification carries the object's key).
    const sesRoute = manifest.find((f) => isHttp(f) && f.routes.some((r) => r.provider === 'ses'));
    let inbound:
      | {
          has: CfnCondition;
          topic: sns.CfnTopic;
          extra: CfnParameter;
          route: string;
          bucket: CfnParameter;
          hasBucket: CfnCondition;
          key: CfnParameter;
          hasKey: CfnCondition;
        }
      | undefined;
    if (sesRoute !== undefined && isHttp(sesRoute)) {
      const recipients = this.param('SesInboundRecipients', {
        description:
          'Optional. Receive mail with Amazon SES for these recipients: comma-separated addresses or domains without ' +
          'spaces (help@tokoku.id,tokoku.id), verified in SES, MX pointing at inbound-smtp.<region>.amazonaws.com. ' +
          'Creates a receipt rule set (activate it yourself: aws ses set-active-receipt-rule-set), an SNS topic and ' +
          'its HTTPS subscription to /email/ses. Only in regions where SES receives mail. Empty (default): no SES inbound.',
        default: '',
        allowedPattern: '^([^,\\s]+(,[^,\\s]+)*)?$',
        constraintDescription: 'empty, or comma-separated addresses or domains without spaces',
      });
      const arn = 'arn:aws[a-z\\-]*:sns:[a-z0-9\\-]+:[0-9]{12}:[A-Za-z0-9_\\-]+';
      const extra = this.param('SesExtraTopicArns', {
        description:
          'Optional. Further SNS topics (comma-separated ARNs, no spaces) whose SES notifications the email webhook ' +
          'accepts, e.g. a topic of a receipt rule you manage elsewhere. The inbound topic of this stack ' +
          '(SesInboundRecipients) is always accepted.',
        default: '',
        allowedPattern: `^(${arn}(,${arn})*)?$`,
        constraintDescription: 'empty, or comma-separated SNS topic ARNs without spaces',
      });
      const has = new CfnCondition(this, 'HasSesInbound', {
        expression: Fn.conditionNot(Fn.conditionEquals(recipients.valueAsString, '')),
      });
      const bucket = this.param('InboundMailBucket', {
        description:
          'Optional. An existing S3 bucket for inbound mail over SNS\'s 150 KB limit. With SES inbound on, the receipt ' +
          'rule stores each mail there (prefix inbound/) and notifies the topic with its key, instead of carrying the ' +
          'mail in the notification; the email webhook may read that prefix (s3:GetObject) and nothing else. The ' +
          "bucket's policy must let SES write (infra/README.md, Email). Empty (default): mail rides in the notification.",
        default: '',
        allowedPattern: '^([a-z0-9][a-z0-9.\\-]{1,61}[a-z0-9])?$',
        constraintDescription: 'empty, or an S3 bucket name',
      });
      const key = this.param('InboundMailKmsKeyArn', {
        description:
          "Optional. The KMS key ARN of InboundMailBucket's default encryption (SSE-KMS), so the email webhook may " +
          'decrypt what it reads. Empty: the bucket uses S3-managed keys.',
        default: '',
        allowedPattern: '^(arn:aws[a-z\\-]*:kms:[a-z0-9\\-]+:[0-9]{12}:key/[A-Za-z0-9\\-]+)?$',
        constraintDescription: 'empty, or a KMS key ARN',
      });
      const hasBucket = this.condition('HasInboundMailBucket', Fn.conditionNot(Fn.conditionEquals(bucket.valueAsString, '')));
      const hasKey = this.condition('HasInboundMailKey', Fn.conditionNot(Fn.conditionEquals(key.valueAsString, '')));
      const conditional = <T extends { cfnOptions: { condition?: CfnCondition }; overrideLogicalId(id: string): void }>(
        r: T,
        id: string,
      ): T => {
        r.overrideLogicalId(id);
        r.cfnOptions.condition = has;
        return r;
      };
      // Named after the stack so it can be activated by name (SesInboundRuleSetName output).
      const ruleSet = conditional(
        new ses.CfnReceiptRuleSet(this, 'SesInboundRuleSet', { ruleSetName: `${Aws.STACK_NAME}-inbound` }),
        'SesInboundRuleSet',
      );
      const sourceArn = Fn.sub(SES_RECEIPT_RULE_ARN, { RuleSet: ruleSet.ref });
      // The topic carries the customers' mail in full, so it is encrypted at rest. Not with the
      // AWS managed key aws/sns: its key policy cannot be changed, so SES could not publish. A
      // customer managed key whose policy lets SES encrypt, for this account's receipt rules
      // only (1 USD a month, rotated yearly). SNS decrypts for the HTTPS delivery itself.
      const topic = this.encryptedInboundTopic('SesInbound', has, {
        keyDescription: 'Intake inbound mail topic (SES -> SNS)',
        displayName: 'Intake inbound mail',
        service: 'ses.amazonaws.com',
        keySid: 'SesPublishesToTheEncryptedTopic',
        topicSid: 'SesPublishes',
        keyCondition: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnLike: { 'aws:SourceArn': sourceArn },
        },
        // SES may publish, for this account's rule set only.
        topicCondition: {
          StringEquals: { 'AWS:SourceAccount': Aws.ACCOUNT_ID },
          ArnLike: { 'AWS:SourceArn': sourceArn },
        },
      });
      inbound = { has, topic, extra, route: `/${sesRoute.trigger.http}/ses`, bucket, hasBucket, key, hasKey };
    }

    // ---- AWS SMS inbound (AwsSmsInbound true), when a function serves /sms/aws -----------------
    // Two-way SMS -> SNS topic -> HTTPS subscription -> POST /sms/aws, as the SAM template (which
    // says why): the topic encrypted with a key End User Messaging SMS may use for this account
    // only; the topic is set as each number's two-way destination by hand (output).
    const awsSmsRoute = manifest.find((f) => isHttp(f) && f.routes.some((r) => r.provider === 'aws'));
    let smsInbound: { has: CfnCondition; topic: sns.CfnTopic; route: string } | undefined;
    if (awsSmsRoute !== undefined && isHttp(awsSmsRoute)) {
      const enabled = this.param('AwsSmsInbound', {
        description:
          'Optional. Receive SMS with AWS End User Messaging SMS (two-way SMS): creates an SNS topic (encrypted) that ' +
          'End User Messaging SMS may publish to, and its HTTPS subscription to /sms/aws. Set the topic ' +
          '(AwsSmsInboundTopicArn output) as the two-way SMS destination of your phone numbers. false (default): no AWS ' +
          'SMS inbound.',
        default: 'false',
        allowedValues: ['false', 'true'],
      });
      const has = this.condition('HasAwsSmsInbound', Fn.conditionEquals(enabled.valueAsString, 'true'));
      // End User Messaging SMS may publish (and encrypt), for this account only.
      const topic = this.encryptedInboundTopic('AwsSmsInbound', has, {
        keyDescription: 'Intake inbound SMS topic (AWS End User Messaging SMS -> SNS)',
        displayName: 'Intake inbound SMS',
        service: 'sms-voice.amazonaws.com',
        keySid: 'SmsVoicePublishesToTheEncryptedTopic',
        topicSid: 'SmsVoicePublishes',
        keyCondition: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
        topicCondition: { StringEquals: { 'AWS:SourceAccount': Aws.ACCOUNT_ID } },
      });
      smsInbound = { has, topic, route: `/${awsSmsRoute.trigger.http}/aws` };
    }

    // ---- Functions ------------------------------------------------------------------------------
    const sesSenders: iam.Role[] = [];
    const awsSmsSenders: iam.Role[] = [];
    const httpRoutes = new Map<string, { route: apigwv2.HttpRoute; fn: lambda.Function }>();
    for (const spec of manifest) {
      const id = pascal(spec.name);
      const kind = isHttp(spec) ? 'http' : 'table_stream';

      const logGroup = new logs.LogGroup(this, `${id}Logs`, { removalPolicy: RemovalPolicy.DESTROY });
      this.setRetention(logGroup, retention);
      const role = new iam.Role(this, `${id}Role`, {
        description: `${spec.name} (Intake)`,
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      });
      // What the manifest grants (intake::grants; tests/permissions.rs holds it to the code's
      // calls), in the role itself: the function cannot start before its role allows it.
      const statements: unknown[] = [
        { Sid: 'Logs', Effect: 'Allow', Action: grantedOn(spec, 'log_group'), Resource: logGroup.logGroupArn },
        { Sid: 'Table', Effect: 'Allow', Action: grantedOn(spec, 'table'), Resource: this.table.tableArn },
      ];
      const onlyIf = (condition: CfnCondition, statement: object) =>
        Fn.conditionIf(condition.logicalId, statement, Aws.NO_VALUE);
      // The archive: put a delivery not stored, read it back by key on replay. Nothing else
      // of the bucket (no ListBucket), never bucket.grantReadWrite.
      const archives = grantedOn(spec, 'archive_objects');
      if (archives.length > 0) {
        statements.push({ Sid: 'Archive', Effect: 'Allow', Action: archives, Resource: Fn.sub(ARCHIVE_OBJECTS_ARN) });
      }
      const readsInboundMail = grantedOn(spec, 'inbound_mail_bucket');
      if (readsInboundMail.length > 0) {
        if (inbound === undefined) throw new Error(`${spec.name} reads inbound mail but the stack has no InboundMailBucket`);
        statements.push(
          onlyIf(inbound.hasBucket, {
            Sid: 'InboundMail',
            Effect: 'Allow',
            Action: readsInboundMail,
            Resource: Fn.sub('arn:${AWS::Partition}:s3:::${Bucket}/inbound/*', { Bucket: inbound.bucket.valueAsString }),
          }),
          onlyIf(inbound.hasKey, {
            Sid: 'InboundMailKey',
            Effect: 'Allow',
            Action: grantedOn(spec, 'inbound_mail_key'),
            Resource: inbound.key.valueAsString,
          }),
        );
      }
      // X-Ray (EnableTracing=true), no narrower resource than "*".
      statements.push(
        onlyIf(tracingEnabled, {
          Sid: 'Traces',
          Effect: 'Allow',
          Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
          Resource: '*',
        }),
      );
      (role.node.defaultChild as iam.CfnRole).policies = [
        { policyName: 'intake', policyDocument: { Version: '2012-10-17', Statement: statements } },
      ];

      const environment: Record<string, string> = {};
      for (const v of spec.env) {
        const wired = this.wire(spec, v, providers, { baseUrl, logLevel, inbound, smsInbound });
        if (wired === undefined) continue;
        wired.secretPolicy?.attachToRole(role);
        environment[wired.name] = wired.value;
      }
      // Email acknowledgements: SesSendPolicy, below.
      if (spec.env.some((v) => v.name === 'SES_IDENTITIES')) sesSenders.push(role);
      // SMS acknowledgements through AWS End User Messaging SMS: AwsSmsSendPolicy, below.
      if (spec.env.some((v) => v.name === 'AWS_SMS_SEND')) awsSmsSenders.push(role);

      const fn = new RustFunction(this, `${id}Function`, {
        manifestPath: path.join(workspaceRoot(), 'Cargo.toml'),
        binaryName: spec.name,
        runtime: 'provided.al2023',
        // What cargo-lambda builds: the context, which the Architecture parameter must match.
        architecture: props.architecture === 'x86_64' ? lambda.Architecture.X86_64 : lambda.Architecture.ARM_64,
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
      cfn.architectures = [architecture.valueAsString];
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
          const added = this.api.addRoutes({
            path: `/${route.channel}/${route.provider}`,
            methods: route.methods.map((m) => m as apigwv2.HttpMethod),
            integration,
          });
          added.forEach((r, i) => httpRoutes.set(`${route.methods[i]} /${route.channel}/${route.provider}`, { route: r, fn }));
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
            // The numbers of shared/src/ack/batching.rs, as the SAM template (which says why).
            batchSize: 10,
            maxBatchingWindow: Duration.seconds(0),
            parallelizationFactor: 4,
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
        // The stale-claim sweeper (shared/src/ack/sweep.rs), as in the SAM template: every 5
        // minutes the acknowledger is invoked with a scheduled event and fails, as
        // `interrupted`, every ack still `sending` 5 minutes after its claim. Never re-sends.
        const schedule = new events.CfnRule(this, 'AcknowledgerSweepSchedule', {
          description: 'Sweeps acknowledgements left sending by an acknowledger that died (Intake)',
          scheduleExpression: 'rate(5 minutes)',
          state: 'ENABLED',
          targets: [{ id: 'acknowledger', arn: fn.functionArn }],
        });
        schedule.overrideLogicalId('AcknowledgerSweepSchedule');
        const permission = new lambda.CfnPermission(this, 'AcknowledgerSweepPermission', {
          action: 'lambda:InvokeFunction',
          functionName: fn.functionArn,
          principal: 'events.amazonaws.com',
          sourceArn: schedule.attrArn,
        });
        permission.overrideLogicalId('AcknowledgerSweepPermission');
      }
    }

    // Email acknowledgements (SesIdentities set): ses:SendEmail (the SES v2 SendEmail API, raw
    // messages included) on those identities only, and on the configuration set when one is
    // named (SES v2 authorizes the send against both). Never on "*". The list is padded with
    // empty entries; an empty slot names "identity/", which matches no identity.
    if (sesSenders.length > 0) {
      const identities = this.params.get('SesIdentities');
      const configurationSet = this.params.get('SesConfigurationSet');
      if (!identities) throw new Error('SES_IDENTITIES is read but the SesIdentities parameter was not created');
      const listed = Fn.join(',', identities.valueAsList);
      const hasIdentities = this.condition('HasSesIdentities', Fn.conditionNot(Fn.conditionEquals(Fn.join('', identities.valueAsList), '')));
      const padded = Fn.split(',', Fn.sub('${Listed},,,,', { Listed: listed }));
      const resources = Array.from({ length: SES_IDENTITY_SLOTS }, (_, i) =>
        Fn.sub(SES_IDENTITY_ARN, { Identity: Fn.select(i, padded) }),
      );
      if (configurationSet) {
        const hasSet = this.condition(
          'HasSesConfigurationSet',
          Fn.conditionNot(Fn.conditionEquals(configurationSet.valueAsString, '')),
        );
        resources.push(Token.asString(Fn.conditionIf(hasSet.logicalId, Fn.sub(SES_CONFIGURATION_SET_ARN), Aws.NO_VALUE)));
      }
      const send = new iam.Policy(this, 'SesSendPolicy', {
        policyName: 'ses-send',
        roles: sesSenders,
        statements: [new iam.PolicyStatement({ sid: 'SendAcks', actions: ['ses:SendEmail'], resources })],
      });
      const cfn = send.node.defaultChild as iam.CfnPolicy;
      cfn.overrideLogicalId('SesSendPolicy');
      cfn.cfnOptions.condition = hasIdentities;
    }

    // SMS acknowledgements (AwsSmsSend true): sms-voice:SendTextMessage on the account's phone
    // numbers (IAM knows them by id, not by the E.164 number acks are sent from) and on the
    // configuration set when one is named. As the SAM template.
    if (awsSmsSenders.length > 0) {
      const sendParam = this.params.get('AwsSmsSend');
      const setParam = this.params.get('AwsSmsConfigurationSet');
      if (!sendParam || !setParam) throw new Error('AWS_SMS_SEND is read but its parameters were not created');
      const hasSend = this.condition('HasAwsSmsSend', Fn.conditionEquals(sendParam.valueAsString, 'true'));
      const hasSet = this.condition('HasAwsSmsConfigurationSet', Fn.conditionNot(Fn.conditionEquals(setParam.valueAsString, '')));
      const send = new iam.Policy(this, 'AwsSmsSendPolicy', {
        policyName: 'aws-sms-send',
        roles: awsSmsSenders,
        statements: [
          new iam.PolicyStatement({
            sid: 'SendAcks',
            actions: ['sms-voice:SendTextMessage'],
            resources: [
              Fn.sub('arn:${AWS::Partition}:sms-voice:${AWS::Region}:${AWS::AccountId}:phone-number/*'),
              Token.asString(
                Fn.conditionIf(
                  hasSet.logicalId,
                  Fn.sub('arn:${AWS::Partition}:sms-voice:${AWS::Region}:${AWS::AccountId}:configuration-set/${AwsSmsConfigurationSet}'),
                  Aws.NO_VALUE,
                ),
              ),
            ],
          }),
        ],
      });
      const cfn = send.node.defaultChild as iam.CfnPolicy;
      cfn.overrideLogicalId('AwsSmsSendPolicy');
      cfn.cfnOptions.condition = hasSend;
    }

    /**
     * The HTTPS subscription of a webhook to an inbound topic (SES mail, AWS SMS), behind
     * `has`: a dead-letter queue for what SNS could not deliver within its retries (kept 14
     * days, not lost), the subscription itself (created once the route, the function and the
     * stage are in place: the webhook confirms it), and alarms on the queue and on failed
     * deliveries. Logical ids start with `prefix`; `what` and `webhook` word the alarms.
     */
    const subscribeWebhook = (
      prefix: string,
      has: CfnCondition,
      topic: sns.CfnTopic,
      route: string,
      what: string,
      webhook: string,
    ): sqs.CfnQueue => {
      const served = httpRoutes.get(`POST ${route}`);
      if (!served) throw new Error(`${prefix} needs the route POST ${route}`);
      const conditional = <T extends { cfnOptions: { condition?: CfnCondition }; overrideLogicalId(id: string): void }>(
        r: T,
        id: string,
      ): T => {
        r.overrideLogicalId(id);
        r.cfnOptions.condition = has;
        return r;
      };
      const dlq = conditional(
        new sqs.CfnQueue(this, `${prefix}DeadLetterQueue`, { messageRetentionPeriod: 1209600, sqsManagedSseEnabled: true }),
        `${prefix}DeadLetterQueue`,
      );
      const dlqPolicy = conditional(
        new sqs.CfnQueuePolicy(this, `${prefix}DeadLetterQueuePolicy`, {
          queues: [dlq.ref],
          policyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Sid: 'SnsRedrive',
                Effect: 'Allow',
                Principal: { Service: 'sns.amazonaws.com' },
                Action: 'sqs:SendMessage',
                Resource: dlq.attrArn,
                Condition: { ArnEquals: { 'aws:SourceArn': topic.ref } },
              },
            ],
          },
        }),
        `${prefix}DeadLetterQueuePolicy`,
      );
      // Not raw delivery: the function checks SNS's signature of the envelope.
      const subscription = conditional(
        new sns.CfnSubscription(this, `${prefix}Subscription`, {
          topicArn: topic.ref,
          protocol: 'https',
          endpoint: Token.asString(
            Fn.conditionIf(
              hasPublicBaseUrl.logicalId,
              Fn.join('', [publicBaseUrl.valueAsString, route]),
              Fn.join('', [apiUrl, route]),
            ),
          ),
          deliveryPolicy: SES_INBOUND_DELIVERY_POLICY,
          redrivePolicy: { deadLetterTargetArn: dlq.attrArn },
        }),
        `${prefix}Subscription`,
      );
      subscription.node.addDependency(served.route, served.fn, stage, dlqPolicy);
      alarm(
        `${prefix}DeadLetterAlarm`,
        `${what} SNS could not deliver to the ${webhook} (see infra/README.md to redrive it).`,
        new cloudwatch.Metric({
          namespace: 'AWS/SQS',
          metricName: 'ApproximateNumberOfMessagesVisible',
          dimensionsMap: { QueueName: dlq.attrQueueName },
          period: Duration.minutes(5),
          statistic: 'Maximum',
        }),
        0,
        cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        has,
      );
      // SNS could not deliver to the webhook (it retries, then the queue).
      alarm(
        `${prefix}DeliveryFailuresAlarm`,
        `SNS failed to deliver ${what.charAt(0).toLowerCase()}${what.slice(1)} notifications to the ${webhook}.`,
        new cloudwatch.Metric({
          namespace: 'AWS/SNS',
          metricName: 'NumberOfNotificationsFailed',
          dimensionsMap: { TopicName: topic.attrTopicName },
          period: Duration.minutes(5),
          statistic: 'Sum',
        }),
        0,
        cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        has,
      );
      return dlq;
    };

    if (smsInbound !== undefined) {
      const { has, topic } = smsInbound;
      const dlq = subscribeWebhook('AwsSmsInbound', has, topic, smsInbound.route, 'Inbound SMS', 'SMS webhook');
      new CfnOutput(this, 'AwsSmsInboundTopicArn', {
        description: 'AWS SMS: set this SNS topic as the two-way SMS destination of each phone number',
        value: topic.ref,
        condition: has,
      });
      new CfnOutput(this, 'AwsSmsInboundDeadLetterQueueUrl', {
        description: 'Inbound SMS SNS could not deliver to the SMS webhook',
        value: dlq.ref,
        condition: has,
      });
    }

    if (inbound !== undefined) {
      const { has, topic } = inbound;
      const dlq = subscribeWebhook('SesInbound', has, topic, inbound.route, 'Inbound mail', 'email webhook');
      const conditional = <T extends { cfnOptions: { condition?: CfnCondition }; overrideLogicalId(id: string): void }>(
        r: T,
        id: string,
      ): T => {
        r.overrideLogicalId(id);
        r.cfnOptions.condition = has;
        return r;
      };
      const ruleSet = this.node.findChild('SesInboundRuleSet') as ses.CfnReceiptRuleSet;
      const rule = conditional(
        new ses.CfnReceiptRule(this, 'SesInboundRule', {
          ruleSetName: ruleSet.ref,
          rule: {
            name: `${Aws.STACK_NAME}-to-intake`,
            enabled: true,
            recipients: Fn.split(',', (this.params.get('SesInboundRecipients') as CfnParameter).valueAsString),
            // Only mail delivered over TLS; spam and virus verdicts in the notification.
            tlsPolicy: 'Require',
            scanEnabled: true,
            actions: [
              Fn.conditionIf(
                inbound.hasBucket.logicalId,
                // Mail of any size SES accepts (up to 40 MB) is stored under inbound/ and the
                // topic notified with its key. The bucket's default encryption applies (not the
                // action's KMS option: client-side encryption the webhook could not read).
                { S3Action: { BucketName: inbound.bucket.valueAsString, ObjectKeyPrefix: 'inbound/', TopicArn: topic.ref } },
                // Base64: the MIME message byte for byte (UTF-8 would mangle 8-bit parts). At
                // most 150 KB: larger mail bounces.
                { SNSAction: { TopicArn: topic.ref, Encoding: 'Base64' } },
              ),
            ],
          },
        }),
        'SesInboundRule',
      );
      // SES checks that it may publish when the rule is created: after the topic policy.
      rule.node.addDependency(this.node.findChild('SesInboundTopicPolicy'));
      const output = (id: string, description: string, value: string) => {
        new CfnOutput(this, id, { description, value, condition: has });
      };
      output(
        'SesInboundRuleSetName',
        'Activate it once (only one rule set is active per region): aws ses set-active-receipt-rule-set --rule-set-name <this>',
        ruleSet.ref,
      );
      output('SesInboundTopicArn', 'SNS topic SES publishes inbound mail to (accepted by the email webhook)', topic.ref);
      output('SesInboundDeadLetterQueueUrl', 'Inbound mail SNS could not deliver to the email webhook', dlq.ref);
    }

    // ---- Handled failures, from the functions' own metrics ---------------------------------------
    // The functions answer them (5xx, or an ack marked failed) without crashing, so Lambda's
    // Errors metric never sees them; their Embedded Metric Format lines do (namespace Intake;
    // DESIGN.md, Metrics). The same alarms as the SAM template's.
    const intake = (metricName: string, dimensionsMap: Record<string, string>) =>
      new cloudwatch.Metric({ namespace: 'Intake', metricName, dimensionsMap, period: Duration.minutes(5), statistic: 'Sum' });
    alarm(
      'WebhookFailuresAlarm',
      'Webhooks answered 5xx (the store or a dependency failed). Providers retry, but a lasting failure loses ' +
        'messages once their retries run out.',
      intake('Webhooks', { Outcome: 'failed' }),
    );
    alarm(
      'ApiServerErrorsAlarm',
      'The webhook API answered 5xx (function errors, timeouts or throttles included).',
      new cloudwatch.Metric({
        namespace: 'AWS/ApiGateway',
        metricName: '5xx',
        dimensionsMap: { ApiId: this.api.apiId },
        period: Duration.minutes(5),
        statistic: 'Sum',
      }),
    );
    alarm(
      'SignatureRefusalsAlarm',
      'Many webhook calls refused for a missing or wrong signature: probing, or a secret that no longer matches ' +
        "the provider's.",
      new cloudwatch.MathExpression({
        expression: 'bad + missing',
        label: 'Calls refused for their signature',
        usingMetrics: {
          bad: intake('Webhooks', { Outcome: 'refused', Code: 'bad_signature' }),
          missing: intake('Webhooks', { Outcome: 'refused', Code: 'missing_signature' }),
        },
        period: Duration.minutes(5),
      }),
      signatureRefusalThreshold.valueAsNumber,
      cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    );
    alarm(
      'AckFailuresAlarm',
      "Acknowledgements failed permanently (see the tickets' ack reason, or the Acks metric by Reason).",
      intake('Acks', { Outcome: 'failed' }),
    );
    alarm(
      'UnrecordedAcksAlarm',
      'Acknowledgements whose outcome could not be recorded; they stay in sending (see the Acks metric by Reason).',
      intake('Acks', { Outcome: 'unrecorded' }),
    );
    alarm(
      'InterruptedAcksAlarm',
      "Acknowledgements interrupted (found sending after the timeout, now failed; check the provider's log whether they went out).",
      intake('Acks', { Outcome: 'interrupted' }),
    );
    // The archive, as the SAM template: verified deliveries NOT stored were archived (Kept=failure;
    // Kept=audit is ArchiveAll's and does not alarm), and archive writes that failed (either).
    alarm(
      'ArchivedFailuresAlarm',
      'Verified webhook deliveries were not stored (parse failure 400, store outage or internal error 5xx) and ' +
        'were archived for replay. See which (ArchivedDeliveries by Channel, Provider, Code; the webhook\'s log), fix ' +
        'the cause (deploy the fix, restore the store or the secret), then list and replay them: intake replay list ' +
        '--stack <stack> --since 1h, then intake replay run --stack <stack> --since 1h (stored once; a duplicate is ' +
        'harmless).',
      intake('ArchivedDeliveries', { Kept: 'failure' }),
    );
    alarm(
      'ArchiveWriteFailuresAlarm',
      "The archive could not be written (S3 refused or was unreachable; the webhook's log has the error). A " +
        "delivery that was not stored and not archived may be lost unless its provider retries: check the webhook's " +
        "4xx/5xx in the log and the provider's console. Check ArchiveBucket exists and the webhook's role may " +
        's3:PutObject on archive/*.',
      new cloudwatch.MathExpression({
        expression: 'FILL(failure, 0) + FILL(audit, 0)',
        label: 'Archive writes that failed',
        usingMetrics: {
          failure: intake('ArchiveWriteFailures', { Kept: 'failure' }),
          audit: intake('ArchiveWriteFailures', { Kept: 'audit' }),
        },
        period: Duration.minutes(5),
      }),
    );
    // The flow at a glance: the same dashboard as the SAM template's.
    const dashboard = new cloudwatch.CfnDashboard(this, 'Dashboard', {
      dashboardName: `${Aws.STACK_NAME}-intake`,
      dashboardBody: Fn.sub(DASHBOARD_BODY, {
        SmsWebhook: this.functions['sms-webhook']?.functionName ?? '',
        EmailWebhook: this.functions['email-webhook']?.functionName ?? '',
        SocialWebhook: this.functions['social-webhook']?.functionName ?? '',
        Acknowledger: this.functions['acknowledger']?.functionName ?? '',
        DeadLetters: deadLetters.queueName,
        Api: this.api.apiId,
      }),
    });
    dashboard.overrideLogicalId('Dashboard');
    new CfnOutput(this, 'DashboardName', {
      description: 'CloudWatch dashboard of the flow (webhooks, acks, delays, errors)',
      value: dashboard.ref,
    });

    new CfnOutput(this, 'ApiUrl', { description: 'Base URL of the webhooks (PUBLIC_BASE_URL)', value: baseUrl });
    new CfnOutput(this, 'TableName', {
      description: 'The DynamoDB table (retained when the stack is deleted)',
      value: this.table.tableName,
    });
    new CfnOutput(this, 'ArchiveBucketName', {
      description: 'The archive of verified deliveries not stored, read by intake replay --stack (retained when the stack is deleted)',
      value: this.archiveBucket.ref,
    });
    // The webhooks by name: `intake replay --stack` invokes one with an archived delivery.
    for (const spec of manifest.filter(isHttp)) {
      new CfnOutput(this, `${pascal(spec.name)}FunctionName`, {
        description: `The ${spec.name} function (intake replay --stack invokes it with an archived delivery)`,
        value: this.functions[spec.name].functionName,
      });
    }
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
  /**
   * An SNS topic an AWS service publishes customers' messages to (SES mail, AWS SMS), behind
   * `has`: encrypted at rest with a customer managed key (not aws/sns, whose key policy cannot
   * let the service encrypt), rotated yearly, whose policy lets only `service` use it, under
   * `keyCondition`; and a topic policy letting only `service` publish, under `topicCondition`.
   * Logical ids are `<prefix>Key`, `<prefix>Topic`, `<prefix>TopicPolicy`.
   */
  private encryptedInboundTopic(
    prefix: string,
    has: CfnCondition,
    o: {
      keyDescription: string;
      displayName: string;
      service: string;
      keySid: string;
      topicSid: string;
      keyCondition: object;
      topicCondition: object;
    },
  ): sns.CfnTopic {
    const conditional = <T extends { cfnOptions: { condition?: CfnCondition }; overrideLogicalId(id: string): void }>(
      r: T,
      id: string,
    ): T => {
      r.overrideLogicalId(id);
      r.cfnOptions.condition = has;
      return r;
    };
    const key = conditional(
      new kms.CfnKey(this, `${prefix}Key`, {
        description: o.keyDescription,
        enableKeyRotation: true,
        keyPolicy: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'AccountAdministration',
              Effect: 'Allow',
              Principal: { AWS: Fn.sub('arn:${AWS::Partition}:iam::${AWS::AccountId}:root') },
              Action: 'kms:*',
              Resource: '*',
            },
            {
              Sid: o.keySid,
              Effect: 'Allow',
              Principal: { Service: o.service },
              Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
              Resource: '*',
              Condition: o.keyCondition,
            },
          ],
        },
      }),
      `${prefix}Key`,
    );
    key.applyRemovalPolicy(RemovalPolicy.DESTROY);
    const topic = conditional(
      new sns.CfnTopic(this, `${prefix}Topic`, { displayName: o.displayName, kmsMasterKeyId: key.attrArn }),
      `${prefix}Topic`,
    );
    conditional(
      new sns.CfnTopicPolicy(this, `${prefix}TopicPolicy`, {
        topics: [topic.ref],
        policyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: o.topicSid,
              Effect: 'Allow',
              Principal: { Service: o.service },
              Action: 'sns:Publish',
              Resource: topic.ref,
              Condition: o.topicCondition,
            },
          ],
        },
      }),
      `${prefix}TopicPolicy`,
    );
    return topic;
  }

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
    ctx: {
      baseUrl: string;
      logLevel: CfnParameter;
      inbound?: { has: CfnCondition; topic: sns.CfnTopic; extra: CfnParameter };
      smsInbound?: { has: CfnCondition; topic: sns.CfnTopic };
    },
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
      case 'ARCHIVE_BUCKET':
        return { name: v.name, value: this.archiveBucket.ref };
      case 'ARCHIVE_ALL': {
        const all = this.param('ArchiveAll', {
          description:
            'ARCHIVE_ALL of the webhooks. true: every verified delivery is archived, stored ones too (for audits; one ' +
            'S3 write per delivery). false (default): only those that were not stored.',
          default: 'false',
          allowedValues: ['false', 'true'],
        });
        return { name: v.name, value: all.valueAsString };
      }
      case 'SES_TOPIC_ARNS':
        // The SNS topics whose notifications are accepted: the stack's inbound topic when SES
        // inbound is on, and any others named. Empty entries are ignored by the function.
        if (ctx.inbound === undefined) break;
        return {
          name: v.name,
          value: Token.asString(
            Fn.conditionIf(
              ctx.inbound.has.logicalId,
              Fn.join(',', [ctx.inbound.topic.ref, ctx.inbound.extra.valueAsString]),
              ctx.inbound.extra.valueAsString,
            ),
          ),
        };
      case 'AWS_SMS_TOPIC_ARNS':
        // The stack's inbound SMS topic when AWS SMS inbound is on.
        if (ctx.smsInbound === undefined) break;
        return {
          name: v.name,
          value: Token.asString(Fn.conditionIf(ctx.smsInbound.has.logicalId, ctx.smsInbound.topic.ref, Aws.NO_VALUE)),
        };
      case 'AWS_SMS_SEND': {
        const send = this.param('AwsSmsSend', {
          default: 'false',
          allowedValues: ['false', 'true'],
          ...PARAMETER_DETAILS[v.name],
        });
        return { name: v.name, value: send.valueAsString };
      }
      case 'SES_IDENTITIES': {
        const identities = this.param('SesIdentities', { default: '', ...PARAMETER_DETAILS[v.name] });
        return { name: v.name, value: Fn.join(',', identities.valueAsList) };
      }
    }
    // Known settings (PARAMETER_DETAILS) are parameters even without a route of their provider:
    // SES sends acks whether or not mail arrives through SES.
    if (
      !(v.name in PARAMETER_DETAILS) &&
      !(v.name in PARAMETER_SETTINGS) &&
      !providers.some((p) => v.name.startsWith(`${p.toUpperCase().replace(/-/g, '_')}_`))
    ) {
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
          PARAMETER_SETTINGS[v.name] ??
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
