import { Annotations, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, IConstruct } from 'constructs';
import { DEFAULT_TOTAL_TIMEOUT_SECONDS, STACK_ID_ENV } from './image-sync-contract';
import { ImageSyncFunction } from './image-sync-function';
import { stackSingleton } from './private/stack-singleton';
import { SyncEndpoints } from './private/sync-endpoints';
import { checkRoleName, isToken, ValidationProblems } from './private/validation';

/**
 * Properties of an {@link ImageSyncProvider}: the settings of the function every `ImageSync`
 * using the provider shares.
 */
export interface ImageSyncProviderProps {
  /**
   * Memory of the sync function, in MiB: a whole number from 128 to 10240.
   *
   * The copy hashes every byte it streams, so it is CPU-bound, and Lambda's CPU share grows with
   * memory; the memory itself stays flat (about 140 MiB resident whatever the layer size).
   *
   * @default 1024
   */
  readonly memorySize?: number;

  /**
   * How long the logs of the sync function, the provider framework and its waiter are kept.
   *
   * @default logs.RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * A VPC to run the sync function in. In private subnets without a NAT gateway it needs VPC
   * endpoints for ECR (`ecr.api`, `ecr.dkr`), S3 (gateway), STS and, for registry credentials,
   * Secrets Manager: see `createVpcEndpoints`.
   *
   * @default - the function does not run in a VPC
   */
  readonly vpc?: ec2.IVpc;

  /**
   * Which subnets of `vpc` the sync function uses. Only with `vpc`.
   *
   * @default - the VPC's default selection (private subnets)
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * Security groups of the sync function in `vpc`. It needs outbound HTTPS only. Only with `vpc`.
   *
   * @default - a security group allowing all outbound traffic
   */
  readonly securityGroups?: ec2.ISecurityGroup[];

  /**
   * Create the VPC endpoints the function needs in `vpc`: interface endpoints for ECR (`ecr.api`,
   * `ecr.dkr`) and STS, Secrets Manager once a registry source has credentials, and an S3 gateway
   * endpoint, reachable on port 443 from the function only. Leave it off when the VPC has these
   * endpoints already: two interface endpoints of one service with private DNS conflict.
   * Only with `vpc`.
   *
   * @default false
   */
  readonly createVpcEndpoints?: boolean;

  /**
   * The function's execution role. It must trust `lambda.amazonaws.com`; each `ImageSync` adds its
   * grants to it (an immutable role gets none, so it must already hold them).
   *
   * @default - a new role holding only the grants of the ImageSyncs using the provider
   */
  readonly role?: iam.IRole;

  /**
   * The name of the role the provider creates, so that the tenant account can trust an exact,
   * predictable role ARN (`arn:aws:iam::<account>:role/<roleName>`) before this stack exists.
   * Only without `role`. IAM role names are unique per account.
   *
   * @default - CloudFormation generates a unique name
   */
  readonly roleName?: string;
}

// The id of the stack's shared provider: construct paths and logical ids derive from it.
const SHARED_ID = 'cdk-byoc-artifacts.ImageSyncProvider';

// Memory: the copy hashes every byte (sha256) while streaming it, so it is CPU-bound and Lambda
// CPU scales with memory; 1024 MiB (about 0.6 vCPU on arm64) keeps up with ECR's ingest while
// the memory itself stays flat (streaming, no temp files).
const DEFAULT_MEMORY_MIB = 1024;
// Lambda's limits.
const MIN_MEMORY_MIB = 128;
const MAX_MEMORY_MIB = 10240;
// Measured peak resident set of a copy is 134-140 MiB: below this the function may run out.
const LOW_MEMORY_MIB = 256;

// The provider framework invokes the function synchronously from its own 15-minute functions;
// staying under that leaves them time to record the answer. The copy stops a little before this.
const FUNCTION_TIMEOUT = Duration.minutes(14);

/**
 * The function and custom resource provider that run `ImageSync`s: one function (Node.js 24,
 * arm64) and the provider framework's functions and waiter state machine.
 *
 * Every `ImageSync` uses its stack's shared provider (`ImageSyncProvider.of(stack)`, created with
 * the defaults on first use) unless given another one: create a provider to choose memory, log
 * retention, VPC placement or the role, and pass it to each `ImageSync` as `provider`.
 *
 * The same function serves the provider's `onEvent` and `isComplete`: both phases need the same
 * code and the same permissions, and one function keeps one role for the install repository's
 * write-deny to exempt. The handler tells the phases apart by a marker that `onEvent` adds to the
 * event it hands to `isComplete`.
 */
export class ImageSyncProvider extends Construct {
  /**
   * The stack's shared provider, created with the default settings on first use.
   *
   * @param scope any construct of the stack
   */
  public static of(scope: IConstruct): ImageSyncProvider {
    return stackSingleton(scope, SHARED_ID, ImageSyncProvider, (stack, id) => new ImageSyncProvider(stack, id));
  }

  /** The sync function. */
  public readonly function: lambda.IFunction;

  /** The sync function's execution role: the principal a tenant's access role trusts. */
  public readonly role: iam.IRole;

  /** The service token of the custom resource provider. */
  public readonly serviceToken: string;

  private readonly endpoints?: SyncEndpoints;

  constructor(scope: Construct, id: string, props: ImageSyncProviderProps = {}) {
    super(scope, id);
    validate(this, props);

    const retention = props.logRetention ?? logs.RetentionDays.THREE_MONTHS;
    const logGroup = new logs.LogGroup(this, 'Logs', { retention });
    const role = props.role ?? new iam.Role(this, 'Role', {
      roleName: props.roleName,
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Copies release images into this account\'s ECR (cdk-byoc-artifacts ImageSync)',
    });
    // Logs go to the group above only: no AWSLambdaBasicExecutionRole (logs:* on every group).
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
    }));
    if (props.vpc) {
      // Lambda manages the function's network interfaces with these (ec2:Describe* requires '*').
      role.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole'));
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        reason: 'Lambda needs the ENI permissions of this AWS managed policy to place the function in the VPC; ec2:DescribeNetworkInterfaces cannot be scoped.',
      });
    }

    const fn = new ImageSyncFunction(this, 'Function', {
      role,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? DEFAULT_MEMORY_MIB,
      timeout: FUNCTION_TIMEOUT,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: props.securityGroups,
      description: 'cdk-byoc-artifacts ImageSync: copies release images by digest',
      environment: { [STACK_ID_ENV]: Stack.of(this).stackId },
    });
    if (props.vpc && props.createVpcEndpoints) {
      this.endpoints = new SyncEndpoints(this, 'Endpoints', fn, props.vpc, props.vpcSubnets);
    }

    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: fn,
      isCompleteHandler: fn,
      // The first isComplete runs right after onEvent; a copy cut short by the function's timeout
      // resumes after this pause (blobs already at the destination are skipped).
      queryInterval: Duration.seconds(10),
      // The provider's ceiling; each resource enforces its own (shorter or equal) budget.
      totalTimeout: Duration.seconds(DEFAULT_TOTAL_TIMEOUT_SECONDS),
      logGroup: new logs.LogGroup(this, 'FrameworkLogs', { retention }),
      disableWaiterStateMachineLogging: false,
      // Execution data would put the CloudFormation response URL (a pre-signed URL) in the logs.
      waiterStateMachineLogOptions: {
        destination: new logs.LogGroup(this, 'WaiterLogs', { retention }),
        level: sfn.LogLevel.ALL,
        includeExecutionData: false,
      },
    });

    this.function = fn;
    this.role = role;
    this.serviceToken = provider.serviceToken;
    this.acknowledgeFindings(fn, provider);
  }

  /**
   * Adds the Secrets Manager endpoint when the provider creates endpoints (once).
   *
   * @internal
   */
  public _useSecretsManager(): void {
    this.endpoints?.add('SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER);
  }

  private acknowledgeFindings(fn: lambda.Function, provider: cr.Provider): void {
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken has no resource-level permissions: IAM requires "*". Every other action is granted on named repositories, roles and secrets.',
    });
    const stack = Stack.of(this);
    const arnOf = (f: lambda.IFunction) => `<${stack.getLogicalId(f.node.defaultChild as lambda.CfnFunction)}.Arn>`;
    const v = Validations.of(provider);
    v.acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'The custom resource provider framework gives its own functions the basic execution policy; the construct cannot replace it.',
    });
    const frameworkFunctions = provider.node.children.filter((c): c is lambda.Function => c instanceof lambda.Function);
    for (const f of [fn, ...frameworkFunctions]) {
      v.acknowledge({
        id: `AwsSolutions-IAM5[Resource::${arnOf(f)}:*]`,
        reason: 'The provider framework invokes a named function and its versions (lambda:InvokeFunction on ARN and ARN:*).',
      });
    }
    v.acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'The waiter state machine delivers its logs with logs:CreateLogDelivery and related actions, which IAM only grants on "*".',
    });
    v.acknowledge({
      id: 'AwsSolutions-SF2',
      reason: 'The provider framework\'s waiter state machine only polls isComplete; the framework offers no X-Ray setting and the function\'s logs record every poll.',
    });
  }
}

const RETENTION_DAYS = new Set(Object.values(logs.RetentionDays).filter((v): v is number => typeof v === 'number'));

function validate(scope: Construct, props: ImageSyncProviderProps): void {
  const p = new ValidationProblems('ImageSyncProvider');
  const memory = props.memorySize;
  if (memory !== undefined && !isToken(memory)) {
    if (typeof memory !== 'number' || !Number.isInteger(memory) || memory < MIN_MEMORY_MIB || memory > MAX_MEMORY_MIB) {
      p.add('memorySize', memory, `a whole number of MiB from ${MIN_MEMORY_MIB} to ${MAX_MEMORY_MIB} (Lambda's limits)`);
    }
  }
  if (props.logRetention !== undefined && !isToken(props.logRetention) && !RETENTION_DAYS.has(props.logRetention)) {
    p.add('logRetention', props.logRetention, 'a logs.RetentionDays value, e.g. logs.RetentionDays.THREE_MONTHS');
  }
  if (!props.vpc) {
    const vpcOnly: [string, unknown, string][] = [
      ['vpcSubnets', props.vpcSubnets, 'subnets of the vpc the function runs in'],
      ['securityGroups', props.securityGroups, 'the function\'s security groups in that vpc'],
      ['createVpcEndpoints', props.createVpcEndpoints || undefined, 'the endpoints are created in the VPC the function runs in'],
    ];
    for (const [name, value, what] of vpcOnly) {
      if (value !== undefined) {
        p.add(name, name === 'securityGroups' ? (value as ec2.ISecurityGroup[]).map((g) => g.node.path) : value, `only with a vpc: ${what}`);
      }
    }
  }
  if (props.roleName !== undefined) {
    if (props.role !== undefined) {
      p.add('roleName', props.roleName, 'only without role: it names the role the provider creates');
    }
    checkRoleName(p, 'roleName', props.roleName);
  }
  p.throwIfAny();
  if (memory !== undefined && !isToken(memory) && memory < LOW_MEMORY_MIB) {
    Annotations.of(scope).addWarningV2('@cdk-byoc-artifacts/image-sync-provider:lowMemory',
      `memorySize ${memory} MiB: a copy needs about 140 MiB resident and its hashing is CPU-bound; ${LOW_MEMORY_MIB} MiB or more is safer.`);
  }
}
