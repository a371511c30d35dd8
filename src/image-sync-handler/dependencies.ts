/**
 * What the handler needs from AWS and its surroundings, as narrow functions. The Lambda entry
 * builds them from SDK clients; tests and the demo pass fakes, or SDK clients under
 * aws-sdk-client-mock, through the same functions.
 */
import { AssumeRole, AwsCredentials, CopyProgressEvent, EcrAuthorizationData } from '../sync';

/** One tag of an ECR repository, and the region whose API serves it. */
export interface EcrTag {
  readonly region: string;
  /** The registry's account. */
  readonly registryId?: string;
  readonly repositoryName: string;
  readonly tag: string;
}

/** What ECR reports it could not do for an image of a batch call. */
export interface EcrImageFailure {
  readonly failureCode?: string;
  readonly failureReason?: string;
}

/** A structured log line. */
export type Log = (message: string, fields?: { [key: string]: unknown }) => void;

export interface HandlerDependencies {
  /** The function's region: where ECR calls go when a registry host names no region. */
  readonly region: string;
  /** `sts:AssumeRole`, for the pull session in the tenant account. */
  readonly assumeRole: AssumeRole;
  /** `ecr:GetAuthorizationToken` in a region, as the function or with the given credentials. */
  readonly ecrAuthorizationToken: (region: string, credentials?: AwsCredentials) => Promise<EcrAuthorizationData | undefined>;
  /** `ecr:DescribeImages` of one tag: the digest it points at. Rejects with ECR's error, e.g. when the tag is gone. */
  readonly describeTag: (tag: EcrTag) => Promise<string | undefined>;
  /** `ecr:BatchDeleteImage` of one tag: the failures ECR reports. */
  readonly deleteTag: (tag: EcrTag) => Promise<EcrImageFailure[]>;
  /** `secretsmanager:GetSecretValue`: a secret's string value (registry credentials). */
  readonly readSecret: (secretId: string) => Promise<string | undefined>;
  /**
   * Where to dial a registry: the host to connect to for the one named in the properties.
   * Tests and the demo point ECR hosts at loopback registries with it.
   * @default - the registry itself
   */
  readonly dial?: (registry: string) => string;
  /** Registries (dialled hosts) spoken to over plain HTTP. @default - loopback hosts only */
  readonly plainHttp?: (host: string) => boolean;
  /** Parallel blob copies. @default - the engine's default */
  readonly concurrency?: number;
  /** The clock. @default Date.now */
  readonly now?: () => number;
  /** Structured log lines. @default - JSON lines on stdout */
  readonly log?: Log;
  /** Copy progress, for the demo. @default - none */
  readonly onProgress?: (event: CopyProgressEvent) => void;
}

/** The dependencies' log, or JSON lines on stdout. */
export function logOf(deps: HandlerDependencies): Log {
  return deps.log ?? ((message, fields) => console.log(JSON.stringify({ message, ...fields })));
}
