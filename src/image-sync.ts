import { CustomResource, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, IConstruct } from 'constructs';
import { parseImageReference } from './image-reference';
import { platformProblem } from './platform';
import { ecrRepositoryArn, ecrRepositoryUri, parseEcrRepositoryArn, parseEcrRepositoryUri } from './private/ecr-names';
import {
  Attributes,
  DEFAULT_TOTAL_TIMEOUT_SECONDS,
  IMAGE_SYNC_RESOURCE_TYPE,
  Props,
  SourceKind,
  SourceKinds,
} from './image-sync-contract';
import { ImageSyncFunction } from './image-sync-function';
import type { InstallRepository } from './install-repository';
import {
  checkArn,
  checkDigest,
  checkExternalId,
  checkImageTag,
  checkRoleArn,
  isToken,
  ValidationProblems,
} from './private/validation';

/**
 * Where an `ImageSource.fromTenantEcr` image lives and how to reach it.
 */
export interface TenantEcrImageOptions {
  /**
   * The tenant repository's URI, `<account>.dkr.ecr.<region>.amazonaws.com/<name>`.
   *
   * @default - derived from `repositoryArn`; one of the two is required
   */
  readonly repositoryUri?: string;

  /**
   * The tenant repository's ARN, `arn:aws:ecr:<region>:<account>:repository/<name>`.
   *
   * The pull session is limited to this one repository.
   *
   * @default - derived from `repositoryUri`; one of the two is required
   */
  readonly repositoryArn?: string;

  /**
   * The source tag. Also the default destination tag.
   *
   * @default - none; `tag` or `digest` is required
   */
  readonly tag?: string;

  /**
   * The source digest (`sha256:...`). Wins over `tag` when both are given: the copy is pinned.
   *
   * @default - the digest the tag points at when the sync runs
   */
  readonly digest?: string;

  /**
   * The ARN of the access role in the tenant account (an `EcrAccessRole`) that trusts this
   * account and grants pull on the repository.
   */
  readonly accessRoleArn: string;

  /**
   * The external id the access role's trust policy requires.
   */
  readonly externalId: string;
}

/**
 * Which image of an `ecr.IRepository` to copy.
 */
export interface EcrImageOptions {
  /**
   * The source tag. Also the default destination tag.
   *
   * @default - none; `tag` or `digest` is required
   */
  readonly tag?: string;

  /**
   * The source digest (`sha256:...`). Wins over `tag` when both are given.
   *
   * @default - the digest the tag points at when the sync runs
   */
  readonly digest?: string;
}

/**
 * How to pull an image from a registry other than ECR.
 */
export interface RegistryImageOptions {
  /**
   * A Secrets Manager secret whose value is JSON `{ "username": "...", "password": "..." }`.
   *
   * The function may read only this secret; the password never leaves its memory.
   *
   * @default - anonymous pull
   */
  readonly credentials?: secretsmanager.ISecret;
}

/**
 * The image an `ImageSync` copies. Create one with a static factory.
 */
export class ImageSource {
  /**
   * An image in a tenant account's ECR, pulled through a cross-account access role
   * (an `EcrAccessRole`) with a 15-minute session limited to the one repository.
   */
  public static fromTenantEcr(options: TenantEcrImageOptions): ImageSource {
    const p = new ValidationProblems('ImageSource.fromTenantEcr');
    checkTagOrDigest(p, options.tag, options.digest);
    checkRoleArn(p, 'accessRoleArn', options.accessRoleArn);
    checkExternalId(p, 'externalId', options.externalId);
    if (options.externalId === undefined) {
      p.add('externalId', undefined, 'the external id of the access role is required');
    }
    let uri = options.repositoryUri;
    let arn = options.repositoryArn;
    if (uri === undefined && arn === undefined) {
      p.add('repositoryUri', undefined, 'give the tenant repository as repositoryUri or repositoryArn');
    }
    if (uri !== undefined && !isToken(uri) && !parseEcrRepositoryUri(uri)) {
      p.add('repositoryUri', uri, 'an ECR repository URI <account>.dkr.ecr.<region>.amazonaws.com/<name>');
    }
    if (arn !== undefined) {
      checkArn(p, 'repositoryArn', arn, { service: 'ecr', resourceType: 'repository' });
    }
    if (uri === undefined && arn !== undefined && isToken(arn)) {
      p.add('repositoryArn', arn, 'a literal ARN when repositoryUri is not given (the URI is derived from it at synth time)');
    }
    if (arn === undefined && uri !== undefined && isToken(uri)) {
      p.add('repositoryUri', uri, 'a literal URI when repositoryArn is not given (the ARN is derived from it at synth time)');
    }
    p.throwIfAny();

    uri = uri ?? uriFromArn(arn!);
    arn = arn ?? arnFromUri(uri);
    return new ImageSource({
      kind: SourceKinds.TENANT_ECR,
      image: options.digest ? `${uri}@${options.digest}` : `${uri}:${options.tag}`,
      tag: options.tag,
      repositoryArn: arn,
      accessRoleArn: options.accessRoleArn,
      externalId: options.externalId,
    });
  }

  /**
   * An image in an ECR repository this account can pull from (the function's role is granted pull).
   */
  public static fromEcr(repository: ecr.IRepository, options: EcrImageOptions): ImageSource {
    const p = new ValidationProblems('ImageSource.fromEcr');
    checkTagOrDigest(p, options.tag, options.digest);
    p.throwIfAny();
    return new ImageSource({
      kind: SourceKinds.ECR,
      image: options.digest ? repository.repositoryUriForDigest(options.digest) : repository.repositoryUriForTag(options.tag),
      tag: options.tag,
      repository,
    });
  }

  /**
   * An image in any other OCI registry (`docker.io/library/nginx:1.27`, `ghcr.io/org/app@sha256:...`,
   * `public.ecr.aws/...`), anonymous or with credentials from Secrets Manager.
   *
   * @param reference `host[:port]/repository:tag` or `host[:port]/repository@sha256:...`; when it is
   * a token, give the `ImageSync` a `tag`
   */
  public static fromRegistry(reference: string, options: RegistryImageOptions = {}): ImageSource {
    const p = new ValidationProblems('ImageSource.fromRegistry');
    let tag: string | undefined;
    // A token (a parameter, an import) is checked by the handler at deploy time; the ImageSync then
    // needs an explicit tag, since the default destination tag is read from the reference here.
    if (!isToken(reference)) {
      try {
        const ref = parseImageReference(reference);
        tag = ref.tag;
        if (!ref.tag && !ref.digest) {
          p.add('reference', reference, 'a reference with a tag or a digest, e.g. "ghcr.io/acme/app:1.2.3"');
        }
      } catch (e) {
        p.add('reference', reference, `a reference host[:port]/repository[:tag][@digest] (${(e as Error).message})`);
      }
    }
    p.throwIfAny();
    return new ImageSource({ kind: SourceKinds.REGISTRY, image: reference, tag, secret: options.credentials });
  }

  private constructor(private readonly config: SourceConfig) {}

  /**
   * The tag the destination uses when `ImageSyncProps.tag` is not given.
   *
   * @internal
   */
  public get _defaultTag(): string | undefined {
    return this.config.tag;
  }

  /**
   * Whether the sync function reads a Secrets Manager secret for this source.
   *
   * @internal
   */
  public get _readsSecrets(): boolean {
    return this.config.secret !== undefined;
  }

  /**
   * Grants the sync function what it needs to read this source and returns the resource properties.
   *
   * @internal
   */
  public _bind(fn: lambda.IFunction): { [key: string]: string } {
    const c = this.config;
    const properties: { [key: string]: string } = { [Props.SOURCE_KIND]: c.kind, [Props.SOURCE_IMAGE]: c.image };
    switch (c.kind) {
      case SourceKinds.TENANT_ECR:
        // The session policy (passed on AssumeRole) narrows the role to pull on this repository;
        // the function itself may only assume the named role, tagging the session with the release id.
        fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['sts:AssumeRole', 'sts:TagSession'], resources: [c.accessRoleArn!] }));
        properties[Props.SOURCE_REPOSITORY_ARN] = c.repositoryArn!;
        properties[Props.ACCESS_ROLE_ARN] = c.accessRoleArn!;
        properties[Props.EXTERNAL_ID] = c.externalId!;
        break;
      case SourceKinds.ECR:
        c.repository!.grantPull(fn);
        break;
      case SourceKinds.REGISTRY:
        if (c.secret) {
          c.secret.grantRead(fn);
          properties[Props.CREDENTIALS_SECRET_ARN] = c.secret.secretArn;
        }
        break;
    }
    return properties;
  }
}

interface SourceConfig {
  readonly kind: SourceKind;
  readonly image: string;
  readonly tag?: string;
  readonly repositoryArn?: string;
  readonly accessRoleArn?: string;
  readonly externalId?: string;
  readonly repository?: ecr.IRepository;
  readonly secret?: secretsmanager.ISecret;
}

/**
 * The repository an `ImageSync` writes to. Create one with a static factory.
 */
export class ImageSyncDestination {
  /**
   * An `InstallRepository`: the sync function becomes one of its writers, the only principals its
   * repository policy lets push or delete images.
   */
  public static installRepository(repository: InstallRepository): ImageSyncDestination {
    return new ImageSyncDestination(repository.repository, (fn) => {
      repository.grantWrite(fn);
      // The copy checks what the destination already has (HEAD manifest, HEAD blob) before pushing.
      repository.grantPull(fn);
    }, (grantee) => repository.grantPull(grantee));
  }

  /**
   * Any ECR repository: the sync function is granted pull and push on it.
   */
  public static repository(repository: ecr.IRepository): ImageSyncDestination {
    return new ImageSyncDestination(repository, (fn) => {
      repository.grantPullPush(fn);
    }, (grantee) => repository.grantPull(grantee));
  }

  private constructor(
    private readonly repo: ecr.IRepository,
    private readonly grantWriter: (fn: lambda.IFunction) => void,
    private readonly grantReader: (grantee: iam.IGrantable) => iam.Grant,
  ) {}

  /**
   * The destination repository.
   */
  public get destinationRepository(): ecr.IRepository {
    return this.repo;
  }

  /**
   * Grants pull on the destination repository.
   */
  public grantPull(grantee: iam.IGrantable): iam.Grant {
    return this.grantReader(grantee);
  }

  /**
   * Grants the sync function what the copy needs.
   *
   * @internal
   */
  public _bind(fn: lambda.IFunction, removeOnDelete: boolean): void {
    this.grantWriter(fn);
    if (removeOnDelete) {
      // The opt-in removal reads where the tag points and deletes the tag with the ECR API.
      this.repo.grant(fn, 'ecr:DescribeImages', 'ecr:BatchDeleteImage');
    }
  }
}

/**
 * Settings of the sync function that every `ImageSync` of a stack shares: give them on one
 * `ImageSync`, or the same values on all.
 */
export interface ImageSyncFunctionOptions {
  /**
   * Memory of the stack's sync function, in MiB. Shared by every `ImageSync` of the stack:
   * give it on one of them, or the same value on all.
   *
   * @default 1024
   */
  readonly memorySize?: number;

  /**
   * How long the sync function's logs are kept. Shared by every `ImageSync` of the stack.
   *
   * @default logs.RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * A VPC to run the stack's sync function in. In private subnets without a NAT gateway it needs
   * VPC endpoints for ECR (`ecr.api`, `ecr.dkr`), S3 (gateway), STS and, for registry credentials,
   * Secrets Manager. Shared by every `ImageSync` of the stack.
   *
   * @default - the function does not run in a VPC
   */
  readonly vpc?: ec2.IVpc;

  /**
   * Which subnets of `vpc` the sync function uses.
   *
   * @default - the VPC's default selection (private subnets)
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * Security groups of the sync function in `vpc`. It needs outbound HTTPS only.
   *
   * @default - a security group allowing all outbound traffic
   */
  readonly securityGroups?: ec2.ISecurityGroup[];

  /**
   * Create the VPC endpoints the function needs in `vpc`: interface endpoints for ECR (`ecr.api`,
   * `ecr.dkr`) and STS, Secrets Manager when a registry source has credentials, and an S3 gateway
   * endpoint, reachable on port 443 from the function only. Leave it off when the VPC has these
   * endpoints already: two interface endpoints of one service with private DNS conflict.
   * Shared by every `ImageSync` of the stack.
   *
   * @default false
   */
  readonly createVpcEndpoints?: boolean;
}

/**
 * Properties of an `ImageSync`.
 */
export interface ImageSyncProps extends ImageSyncFunctionOptions {
  /**
   * The image to copy.
   */
  readonly source: ImageSource;

  /**
   * The repository to copy it into.
   */
  readonly destination: ImageSyncDestination;

  /**
   * The tag written at the destination.
   *
   * @default - the source tag; required when the source is given by digest only
   */
  readonly tag?: string;

  /**
   * Platforms to copy from a multi-platform image, e.g. `['linux/arm64']`. When a subset is chosen
   * the destination gets a new index listing only those platforms (with its own digest).
   *
   * @default - all platforms, the index is copied byte for byte
   */
  readonly platforms?: string[];

  /**
   * A release id. Changing it runs the sync again (a no-op when the destination is up to date) and
   * it names the pull session in the tenant account's CloudTrail.
   *
   * @default - no release id
   */
  readonly releaseId?: string;

  /**
   * Delete the destination tag when this resource is deleted (or replaced by another tag), but only
   * if the tag still points at the digest this resource copied. Off by default: running
   * workloads may still pull the image.
   *
   * @default false
   */
  readonly removeOnDelete?: boolean;

  /**
   * The time budget of one Create or Update, across as many function invocations as the copy needs.
   * At most one hour, CloudFormation's limit for custom resources.
   *
   * @default Duration.hours(1)
   */
  readonly totalTimeout?: Duration;
}

/**
 * Copies one image (or any OCI artifact) into an install account's repository by digest, on every
 * deployment that changes the source, tag or release id.
 *
 * A CloudFormation custom resource (`Custom::ImageSync`) backed by one function and one provider
 * per stack. Create and Update copy (a no-op when the destination already holds the digest under
 * the tag; the tag moves only after everything under it has been copied). Delete keeps the image
 * unless `removeOnDelete` is set.
 */
export class ImageSync extends Construct {
  /**
   * The digest of the image at the destination (`sha256:...`).
   */
  public readonly imageDigest: string;

  /**
   * The digest-pinned image, `<repositoryUri>@<digest>`.
   */
  public readonly imageUri: string;

  /**
   * The tag written at the destination.
   */
  public readonly imageTag: string;

  /**
   * The destination repository's URI.
   */
  public readonly repositoryUri: string;

  /**
   * The custom resource.
   */
  public readonly resource: CustomResource;

  /**
   * The stack's sync function (shared by every `ImageSync` of the stack).
   */
  public readonly syncFunction: lambda.IFunction;

  private readonly destination: ImageSyncDestination;

  constructor(scope: Construct, id: string, props: ImageSyncProps) {
    super(scope, id);

    const tag = props.tag ?? props.source._defaultTag;
    const totalTimeout = props.totalTimeout ?? Duration.seconds(DEFAULT_TOTAL_TIMEOUT_SECONDS);
    const p = new ValidationProblems('ImageSync');
    if (tag === undefined) {
      p.add('tag', undefined, 'a destination tag: the source is given by digest only, so name the tag to write');
    } else {
      checkImageTag(p, 'tag', tag);
    }
    for (const platform of props.platforms ?? []) {
      if (!isToken(platform) && platformProblem(platform) !== undefined) {
        p.add('platforms', platform, 'os/architecture[/variant], e.g. "linux/amd64" or "linux/arm64/v8"');
      }
    }
    if (props.platforms !== undefined && !isToken(props.platforms) && props.platforms.length === 0) {
      p.add('platforms', props.platforms, 'at least one platform, or leave platforms out to copy all of them');
    }
    if (props.releaseId !== undefined && !isToken(props.releaseId) && !RELEASE_ID.test(props.releaseId)) {
      p.add('releaseId', props.releaseId, '1-64 characters of letters, digits and _+=,.@- (it becomes part of the STS session name)');
    }
    if (!totalTimeout.isUnresolved()) {
      const seconds = totalTimeout.toSeconds();
      if (seconds < 300 || seconds > DEFAULT_TOTAL_TIMEOUT_SECONDS) {
        p.add('totalTimeout', `${seconds} seconds`, 'between 5 minutes and 1 hour (CloudFormation waits at most 1 hour for a custom resource)');
      }
    }
    if (props.memorySize !== undefined && !isToken(props.memorySize) && (props.memorySize < 256 || props.memorySize > 10240)) {
      p.add('memorySize', props.memorySize, 'between 256 and 10240 MiB');
    }
    if (props.createVpcEndpoints && !props.vpc) {
      p.add('createVpcEndpoints', true, 'only with a vpc: the endpoints are created in the VPC the function runs in');
    }
    p.throwIfAny();

    const provider = ImageSyncProvider.of(this, props);
    this.syncFunction = provider.function;
    this.destination = props.destination;

    const removeOnDelete = props.removeOnDelete ?? false;
    const sourceProperties = props.source._bind(provider.function);
    if (props.source._readsSecrets) {
      provider.needSecretsManager();
    }
    props.destination._bind(provider.function, removeOnDelete);

    const repository = props.destination.destinationRepository;
    const properties: { [key: string]: unknown } = {
      ...sourceProperties,
      [Props.DESTINATION_REPOSITORY_URI]: repository.repositoryUri,
      [Props.DESTINATION_REPOSITORY_NAME]: repository.repositoryName,
      [Props.DESTINATION_TAG]: tag,
      [Props.REMOVE_ON_DELETE]: String(removeOnDelete),
      [Props.TOTAL_TIMEOUT_SECONDS]: String(totalTimeout.toSeconds()),
    };
    if (props.platforms !== undefined) {
      properties[Props.PLATFORMS] = props.platforms;
    }
    if (props.releaseId !== undefined) {
      properties[Props.RELEASE_ID] = props.releaseId;
    }

    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: IMAGE_SYNC_RESOURCE_TYPE,
      properties,
      serviceTimeout: totalTimeout,
    });
    // The grants above land in the function's role policy: the copy must not start before them.
    this.resource.node.addDependency(provider.function);

    this.imageDigest = this.resource.getAttString(Attributes.IMAGE_DIGEST);
    this.imageUri = this.resource.getAttString(Attributes.IMAGE_URI);
    this.imageTag = this.resource.getAttString(Attributes.IMAGE_TAG);
    this.repositoryUri = this.resource.getAttString(Attributes.REPOSITORY_URI);
  }

  /**
   * The copied image for ECS, pinned by digest. A task definition using it is granted pull on the
   * destination repository through its execution role.
   */
  public containerImage(): ecs.ContainerImage {
    return new DigestPinnedImage(this.destination, this.imageDigest);
  }

  /**
   * Grants pull on the destination repository (for consumers outside ECS: EKS nodes, Helm).
   */
  public grantPull(grantee: iam.IGrantable): iam.Grant {
    return this.destination.grantPull(grantee);
  }
}

/** A digest-pinned ECR image for ECS. `ContainerImage.fromEcrRepository` cannot tell a digest token from a tag token. */
class DigestPinnedImage extends ecs.ContainerImage {
  constructor(private readonly destination: ImageSyncDestination, private readonly digest: string) {
    super();
  }

  public bind(_scope: Construct, containerDefinition: ecs.ContainerDefinition): ecs.ContainerImageConfig {
    this.destination.grantPull(containerDefinition.taskDefinition.obtainExecutionRole());
    return { imageName: this.destination.destinationRepository.repositoryUriForDigest(this.digest) };
  }
}


const PROVIDER_ID = 'cdk-byoc-artifacts.ImageSyncProvider';

// Memory: the copy hashes every byte (sha256) while streaming it, so it is CPU-bound and Lambda
// CPU scales with memory; 1024 MiB (about 0.6 vCPU on arm64) keeps up with ECR's ingest while
// the memory itself stays flat (streaming, no temp files).
const DEFAULT_MEMORY_MIB = 1024;

// The provider framework invokes the function synchronously from its own 15-minute functions;
// staying under that leaves them time to record the answer. The copy stops a little before this.
const FUNCTION_TIMEOUT = Duration.minutes(14);

/**
 * One function and one provider per stack, shared by every ImageSync in it.
 *
 * The same function serves the provider's `onEvent` and `isComplete`: both phases need the same
 * code and the same permissions, and one function keeps one role for the install repository's
 * write-deny to exempt. The handler tells the phases apart by a marker that `onEvent` adds to the
 * event it hands to `isComplete`.
 */
class ImageSyncProvider extends Construct {
  public static of(scope: IConstruct, settings: ImageSyncFunctionOptions): ImageSyncProvider {
    const stack = Stack.of(scope);
    const existing = stack.node.tryFindChild(PROVIDER_ID) as ImageSyncProvider | undefined;
    if (!existing) {
      return new ImageSyncProvider(stack, PROVIDER_ID, settings, scope.node.path);
    }
    existing.checkSame(scope, settings);
    return existing;
  }

  public readonly function: lambda.Function;
  public readonly serviceToken: string;
  private readonly endpoints?: SyncEndpoints;

  private constructor(scope: Construct, id: string, private readonly settings: ImageSyncFunctionOptions, private readonly firstPath: string) {
    super(scope, id);

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: settings.logRetention ?? logs.RetentionDays.THREE_MONTHS,
    });
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Copies release images into this account\'s ECR (cdk-byoc-artifacts ImageSync)',
    });
    // Logs go to the group above only: no AWSLambdaBasicExecutionRole (logs:* on every group).
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
    }));
    if (settings.vpc) {
      // Lambda manages the function's network interfaces with these (ec2:Describe* requires '*').
      role.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole'));
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
        reason: 'Lambda needs the ENI permissions of this AWS managed policy to place the function in the VPC; ec2:DescribeNetworkInterfaces cannot be scoped.',
      });
    }

    this.function = new ImageSyncFunction(this, 'Function', {
      role,
      architecture: lambda.Architecture.ARM_64,
      memorySize: settings.memorySize ?? DEFAULT_MEMORY_MIB,
      timeout: FUNCTION_TIMEOUT,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      vpc: settings.vpc,
      vpcSubnets: settings.vpc ? settings.vpcSubnets : undefined,
      securityGroups: settings.vpc ? settings.securityGroups : undefined,
      description: 'cdk-byoc-artifacts ImageSync: copies release images by digest',
    });

    if (settings.vpc && settings.createVpcEndpoints) {
      this.endpoints = new SyncEndpoints(this, 'Endpoints', this.function, settings.vpc, settings.vpcSubnets);
    }

    const frameworkLogs = new logs.LogGroup(this, 'FrameworkLogs', {
      retention: settings.logRetention ?? logs.RetentionDays.THREE_MONTHS,
    });
    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.function,
      isCompleteHandler: this.function,
      // The first isComplete runs right after onEvent; a copy cut short by the function's timeout
      // resumes after this pause (blobs already at the destination are skipped).
      queryInterval: Duration.seconds(10),
      // The provider's ceiling; each resource enforces its own (shorter or equal) budget.
      totalTimeout: Duration.seconds(DEFAULT_TOTAL_TIMEOUT_SECONDS),
      logGroup: frameworkLogs,
      disableWaiterStateMachineLogging: false,
      // Execution data would put the CloudFormation response URL (a pre-signed URL) in the logs.
      waiterStateMachineLogOptions: {
        destination: new logs.LogGroup(this, 'WaiterLogs', {
          retention: settings.logRetention ?? logs.RetentionDays.THREE_MONTHS,
        }),
        level: sfn.LogLevel.ALL,
        includeExecutionData: false,
      },
    });
    this.serviceToken = provider.serviceToken;
    this.acknowledgeFindings(role, provider);
  }

  /** Adds the Secrets Manager endpoint when the provider creates endpoints (once). */
  public needSecretsManager(): void {
    this.endpoints?.add('SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER);
  }

  private checkSame(scope: IConstruct, settings: ImageSyncFunctionOptions): void {
    const conflicts: string[] = [];
    const names: (keyof ImageSyncFunctionOptions)[] = ['memorySize', 'logRetention', 'vpc', 'vpcSubnets', 'securityGroups', 'createVpcEndpoints'];
    for (const name of names) {
      const given = settings[name];
      if (given !== undefined && !sameSetting(given, this.settings[name])) {
        conflicts.push(name);
      }
    }
    if (conflicts.length > 0) {
      throw new Error(
        `ImageSync ${scope.node.path}: ${conflicts.join(', ')} differ from ${this.firstPath}, the first ImageSync of stack ` +
        `${Stack.of(scope).stackName}, which created the function every ImageSync of the stack shares. Give these props ` +
        'on that ImageSync (or the same value on every one).',
      );
    }
  }

  private acknowledgeFindings(role: iam.Role, provider: cr.Provider): void {
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken has no resource-level permissions: IAM requires "*". Every other action is granted on named repositories, roles and secrets.',
    });
    const stack = Stack.of(this);
    const arnOf = (fn: lambda.IFunction) => `<${stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction)}.Arn>`;
    const v = Validations.of(provider);
    v.acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'The custom resource provider framework gives its own functions the basic execution policy; the construct cannot replace it.',
    });
    const frameworkFunctions = provider.node.children.filter((c): c is lambda.Function => c instanceof lambda.Function);
    for (const fn of [this.function, ...frameworkFunctions]) {
      v.acknowledge({
        id: `AwsSolutions-IAM5[Resource::${arnOf(fn)}:*]`,
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

/** The VPC endpoints the sync function needs, reachable on 443 from the function only. */
class SyncEndpoints extends Construct {
  private readonly securityGroup: ec2.SecurityGroup;

  constructor(
    scope: Construct,
    id: string,
    fn: lambda.Function,
    private readonly vpc: ec2.IVpc,
    private readonly subnets: ec2.SubnetSelection | undefined,
  ) {
    super(scope, id);
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: 'VPC endpoints of the ImageSync function: HTTPS from the function only',
      allowAllOutbound: false,
    });
    this.securityGroup.connections.allowFrom(fn, ec2.Port.tcp(443), 'HTTPS from the ImageSync function');
    this.add('EcrApi', ec2.InterfaceVpcEndpointAwsService.ECR);
    this.add('EcrDkr', ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER);
    this.add('Sts', ec2.InterfaceVpcEndpointAwsService.STS);
    // ECR serves layers from S3: the gateway endpoint adds a route to the subnets' route tables.
    new ec2.GatewayVpcEndpoint(this, 'S3', {
      vpc,
      service: ec2.GatewayVpcEndpointAwsService.S3,
      subnets: subnets ? [subnets] : undefined,
    });
  }

  public add(id: string, service: ec2.IInterfaceVpcEndpointService): void {
    if (this.node.tryFindChild(id)) {
      return;
    }
    new ec2.InterfaceVpcEndpoint(this, id, {
      vpc: this.vpc,
      service,
      subnets: this.subnets,
      securityGroups: [this.securityGroup],
      privateDnsEnabled: true,
      open: false,
    });
  }
}

/** Equal settings: the same value, or subnet selections and security group lists naming the same things. */
function sameSetting(a: unknown, b: unknown): boolean {
  if (a === b) {
    return true;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].every((k) => sameSetting((a as { [k: string]: unknown })[k], (b as { [k: string]: unknown })[k]));
  }
  return false;
}

const RELEASE_ID = /^[\w+=,.@-]{1,64}$/;

function checkTagOrDigest(p: ValidationProblems, tag: string | undefined, digest: string | undefined): void {
  if (tag === undefined && digest === undefined) {
    p.add('tag', undefined, 'a tag or a digest of the source image');
  }
  if (tag !== undefined) {
    checkImageTag(p, 'tag', tag);
  }
  if (digest !== undefined) {
    checkDigest(p, 'digest', digest);
  }
}

function uriFromArn(arn: string): string {
  return ecrRepositoryUri(parseEcrRepositoryArn(arn)!);
}

function arnFromUri(uri: string): string {
  return ecrRepositoryArn(parseEcrRepositoryUri(uri)!);
}
