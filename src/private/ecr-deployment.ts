/**
 * Everything this library knows about cdk-ecr-deployment, in one place.
 *
 * Relies on cdk-ecr-deployment 4.2.x (the peer dependency is `^4.2.65`; tested with 4.2.65):
 * - `ECRDeployment` runs its copies in a `lambda.SingletonFunction` created under the stack with
 *   `lambdaPurpose: 'Custom::CDKECRDeployment'` and the uuid `bd07c930-edb9-4112-a20f-03f096f53666`
 *   followed by `-<memoryLimit>MiB`, so its construct id is `Custom::CDKECRDeployment` + that uuid
 *   without dashes (`HANDLER_ID` below). One handler per stack and memory size: a memory size other
 *   users rarely pick keeps this library's handler, and its scoped role, apart from theirs.
 * - It takes the handler's `role` from its props and adds ECR actions and `s3:GetObject` on `*` to
 *   it with `addToPrincipalPolicy`. Giving it an immutable view of a role
 *   (`Role.withoutPolicyUpdates()`) drops those statements; the real role holds only our grants.
 * - The handler writes its logs to `/aws/lambda/<function name>`, which it creates itself.
 *
 * cdk-ecr-deployment is an optional peer dependency: it is loaded when the first `TenantImage` is
 * created, so install-only apps and the CLI never need it (it is about 50 MB with its Go handler).
 *
 * What breaks if that changes:
 * - another uuid, purpose or construct id: the handler is not found, a warning says so, and the
 *   role gets no permission to write logs (copies still run, silently);
 * - `role` ignored: the handler gets its own role with actions on `*`, and cdk-nag's AwsSolutions
 *   IAM5 findings fail the synthesis of every stack using `TenantImage` (the tests catch it);
 * - another log group name: the copies cannot log.
 */
import { Annotations, ArnFormat, Stack, Token, Validations } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { ECRDeployment } from 'cdk-ecr-deployment';
import { Construct, IConstruct } from 'constructs';
import { ECR_AUTH_ACTIONS, ECR_PULL_ACTIONS, ECR_PUSH_ACTIONS } from './perms';
import { stackSingleton } from './stack-singleton';
import { InstallRepository } from '../install-repository';

/** The memory of the copy handler, and so the key of its singleton (see above). */
export const COPY_MEMORY_MIB = 1024;
// The id of the handler under the stack: the lambda purpose and the slug of its singleton uuid.
const HANDLER_ID = `Custom::CDKECRDeploymentbd07c930edb94112a20f03f096f53666${COPY_MEMORY_MIB}MiB`;
const COPY_ROLE_ID = 'ByocArtifactsImageCopyRole';

/** One image copy: from a CDK asset repository into a destination repository. */
export interface ImageCopy {
  /** The repository the image is read from. */
  readonly sourceRepository: ecr.IRepository;
  /** The image read, `<repository uri>:<tag>`. */
  readonly sourceImageUri: string;
  /** The repository the image is written to. */
  readonly destinationRepository: ecr.IRepository;
  /** The image written, `<repository uri>:<tag>`. */
  readonly destinationImageUri: string;
  /** Copy only this CPU architecture of an index (`amd64`, `arm64`). */
  readonly architecture?: string;
}

/**
 * Copies an image with cdk-ecr-deployment under `scope`, with the stack's scoped copy role.
 * Returns the deployment: depend on it to use the image in the same stack.
 */
export function copyImage(scope: Construct, id: string, copy: ImageCopy): Construct {
  const { DockerImageName, ECRDeployment } = loadEcrDeployment();
  const copyRole = ImageCopyRole.of(scope);
  copyRole.allow(copy.sourceRepository, copy.destinationRepository);
  const deployment = new ECRDeployment(scope, id, {
    src: new DockerImageName(copy.sourceImageUri),
    dest: new DockerImageName(copy.destinationImageUri),
    imageArch: copy.architecture ? [copy.architecture] : undefined,
    memoryLimit: COPY_MEMORY_MIB,
    // An immutable view: ECRDeployment adds ECR and S3 actions on '*' to whatever role it gets;
    // the real role holds only the grants made above.
    role: copyRole.immutableRole,
  });
  copyRole.attachTo(deployment);
  return deployment;
}

/** The module name, in a variable so that bundlers leave the optional dependency alone. */
const MODULE = 'cdk-ecr-deployment';

/**
 * Loads cdk-ecr-deployment, or explains how to install it.
 *
 * @param load how to load a module (tests pass one that fails)
 */
export function loadEcrDeployment(load: (name: string) => unknown = require): typeof import('cdk-ecr-deployment') {
  try {
    return load(MODULE) as typeof import('cdk-ecr-deployment');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') {
      throw err;
    }
    throw new Error(
      'TenantImage (TenantRepository.addImage, addTarball) copies CDK-built images with the cdk-ecr-deployment package, ' +
      'which is not installed. It is an optional peer dependency: install it next to cdk-byoc-artifacts, e.g. ' +
      '`npm install cdk-ecr-deployment@^4.2.65`. Every other construct works without it.',
    );
  }
}

/**
 * The one role per stack that cdk-ecr-deployment's singleton handler runs with.
 */
class ImageCopyRole extends Construct {
  public static of(scope: IConstruct): ImageCopyRole {
    return stackSingleton(scope, COPY_ROLE_ID, ImageCopyRole, (stack, id) => new ImageCopyRole(stack, id));
  }

  public readonly role: iam.Role;
  public readonly immutableRole: iam.IRole;
  private readonly granted = new Set<string>();
  private handler?: lambda.IFunction;

  private constructor(scope: Construct, id: string) {
    super(scope, id);
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Copies CDK-built images from the asset repository into tenant repositories (cdk-ecr-deployment)',
    });
    this.immutableRole = this.role.withoutPolicyUpdates();
    // IAM accepts no other resource for this action: the token is for the registry.
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ECR_AUTH_ACTIONS, resources: ['*'] }));
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken is the only action on "*": IAM accepts no other resource for it. ' +
        'Pull (asset repository) and push (tenant repositories) are granted on the repositories\' ARNs.',
    });
  }

  /** Pull from the asset repository, pull and push on the destination (never anything else). */
  public allow(from: ecr.IRepository, to: ecr.IRepository): void {
    this.grantOnce(from, ECR_PULL_ACTIONS);
    // Pull on the destination too: the copy checks which layers and manifests are already there.
    // An install repository's inner repository is granted through its owner, which also exempts
    // the role from the owner's write deny.
    this.grantOnce(InstallRepository._of(to) ?? to, [...ECR_PULL_ACTIONS, ...ECR_PUSH_ACTIONS]);
  }

  /** Lets the handler write its logs (to its own log group only) before any copy runs. */
  public attachTo(deployment: ECRDeployment): void {
    const handlers = Stack.of(this).node.children.filter((c): c is lambda.Function =>
      c instanceof lambda.Function && c.node.id === HANDLER_ID);
    const handler = handlers.find((h) => h.role === this.immutableRole);
    if (!handler) {
      Annotations.of(deployment).addWarningV2('@cdk-byoc-artifacts/tenant-image:sharedHandler', handlers.length > 0
        ? `This stack already has a cdk-ecr-deployment handler with ${COPY_MEMORY_MIB} MiB and its own role: ` +
          'images are copied with that role\'s permissions, not with the scoped role of TenantImage. ' +
          'Give the other ECRDeployment another memoryLimit.'
        : 'The cdk-ecr-deployment handler was not found in the stack (a cdk-ecr-deployment version with other ' +
          'construct ids?): its permission to write logs was not added.');
      return;
    }
    if (!this.handler) {
      this.handler = handler;
      const logs = new iam.Policy(this, 'LogsPolicy', {
        statements: [new iam.PolicyStatement({
          actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [Stack.of(this).formatArn({
            service: 'logs',
            resource: 'log-group',
            resourceName: `/aws/lambda/${handler.functionName}:*`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          })],
        })],
      });
      this.role.attachInlinePolicy(logs);
      // cdk-nag names the finding after the rendered ARN, with references as <LogicalId>.
      const stack = Stack.of(this);
      const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
      const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
      const fn = stack.getLogicalId(handler.node.defaultChild as lambda.CfnFunction);
      Validations.of(logs).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:${region}:${account}:log-group:/aws/lambda/<${fn}>:*]`,
        reason: 'Only the log streams of the copy handler\'s own log group: Lambda names the streams at run time.',
      });
    }
    // The copy (the custom resource) starts only when the handler may write its logs.
    deployment.node.addDependency(this.node.findChild('LogsPolicy'));
  }

  private grantOnce(repository: ecr.IRepository, actions: string[]): void {
    const key = `${repository.node.path} ${actions.join(',')}`;
    if (this.granted.has(key)) return;
    this.granted.add(key);
    repository.grant(this.role, ...actions);
  }
}
