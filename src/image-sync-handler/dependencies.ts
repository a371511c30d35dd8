/**
 * What the handler needs from AWS and its surroundings, as narrow functions. The Lambda entry
 * builds them from SDK clients; tests and the demo pass fakes, or SDK clients under
 * aws-sdk-client-mock, through the same functions.
 */
import { AssumeRole, AwsCredentials, CopyProgressEvent, EcrAuthorizationData, Redactor } from '../sync';
import { RegistryRoutes } from '../sync/registry-connection';

/** An ECR repository, and the region whose API serves it. */
export interface EcrRepository {
  readonly region: string;
  /** The registry's account. */
  readonly registryId?: string;
  readonly repositoryName: string;
}

/** One tag of an ECR repository, and the digest it must still name. */
export interface EcrTag extends EcrRepository {
  readonly tag: string;
  readonly digest: string;
}

/** Which tags of a repository can be moved: ECR's `imageTagMutability` and its exclusion filters. */
export interface TagMutability {
  /** `MUTABLE`, `IMMUTABLE`, `IMMUTABLE_WITH_EXCLUSION` or `MUTABLE_WITH_EXCLUSION`. */
  readonly mutability: string;
  /** Wildcard filters (`*` matches any run of characters) of the tags that are the exception. */
  readonly exclusions: string[];
}

/** What ECR reports it could not do for an image of a batch call. */
export interface EcrImageFailure {
  readonly failureCode?: string;
  readonly failureReason?: string;
}

/** One S3 object to read, and the most bytes it may have. */
export interface S3Object {
  readonly bucket: string;
  readonly key: string;
  readonly maxBytes: number;
}

/** An S3 object larger than the reader allows. */
export class ObjectTooLargeError extends Error {}

/** The S3 API call `readObject` needs (`GetObject`), as an SDK client's `send` answers it. */
export type GetObject = (bucket: string, key: string) => Promise<{ ContentLength?: number; Body?: unknown }>;

/**
 * `readObject` over a `GetObject` call: the declared length is checked before the body is read,
 * and the body's bytes are counted as they arrive, so no object over the limit is ever held whole.
 */
export function objectReader(getObject: GetObject): (object: S3Object) => Promise<Buffer> {
  return async ({ bucket, key, maxBytes }) => {
    const answer = await getObject(bucket, key);
    const tooLarge = (size: number | string) => new ObjectTooLargeError(`s3://${bucket}/${key} is ${size} bytes, more than the ${maxBytes} allowed`);
    if (answer.ContentLength !== undefined && answer.ContentLength > maxBytes) {
      throw tooLarge(answer.ContentLength);
    }
    const body = answer.Body as AsyncIterable<Uint8Array> | undefined;
    if (!body) {
      throw new Error(`s3://${bucket}/${key} has no body`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body) {
      size += chunk.length;
      if (size > maxBytes) {
        (body as { destroy?: () => void }).destroy?.();
        throw tooLarge(`over ${maxBytes}`);
      }
      chunks.push(Buffer.from(chunk));
    }
    return Buffer.concat(chunks);
  };
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
  /**
   * `ecr:BatchDeleteImage` of one tag together with the digest it must name (ECR refuses with
   * `ImageTagDoesNotMatchDigest` when the tag has moved): the failures ECR reports.
   */
  readonly deleteTag: (tag: EcrTag) => Promise<EcrImageFailure[]>;
  /** `ecr:DescribeRepositories` of one repository: which of its tags can move. */
  readonly tagMutability: (repository: EcrRepository) => Promise<TagMutability | undefined>;
  /** `secretsmanager:GetSecretValue`: a secret's string value (registry credentials). */
  readonly readSecret: (secretId: string) => Promise<string | undefined>;
  /**
   * `s3:GetObject`: an object's bytes (an OCI archive asset). Refuses an object over `maxBytes`
   * before reading its body.
   */
  readonly readObject: (object: S3Object) => Promise<Buffer>;
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
  /**
   * The stack the function belongs to (the provider passes it in the function's environment):
   * events of any other stack are refused.
   * @default - events of any stack are served
   */
  readonly stackId?: string;
}

/** What one invocation shares: its dependencies, its log and its redactor. */
export interface Invocation {
  readonly deps: HandlerDependencies;
  /** Every line passes the redactor. */
  readonly log: Log;
  /** Learns the external id, registry secrets and every token of the invocation; every failure reason and log line passes it. */
  readonly redactor: Redactor;
}

/** An invocation's tools: the dependencies' log (or JSON lines on stdout), behind a redactor of its own. */
export function invocationOf(deps: HandlerDependencies): Invocation {
  const redactor = new Redactor();
  const out: Log = deps.log ?? ((message, fields) => console.log(JSON.stringify({ message, ...fields })));
  const log: Log = (message, fields) => out(redactor.text(message), fields && redactor.fields(fields) as { [key: string]: unknown });
  return { deps, log, redactor };
}

/** The engine options every copy and push of an invocation shares. */
export interface EngineOptions extends RegistryRoutes {
  readonly concurrency?: number;
  readonly deadline: number;
  readonly onProgress?: (event: CopyProgressEvent) => void;
  readonly redactor: Redactor;
}

/**
 * What the engine needs of the invocation for one copy or push: the parallelism, the deadline,
 * where to dial and which hosts speak plain HTTP, the progress callback and the redactor. One
 * place, so a copy, a push and a tag written from the destination run under the same rules.
 */
export function engineOptions({ deps, redactor }: Invocation, deadline: number): EngineOptions {
  return {
    concurrency: deps.concurrency,
    deadline,
    dial: deps.dial,
    plainHttp: deps.plainHttp,
    onProgress: deps.onProgress,
    redactor,
  };
}
