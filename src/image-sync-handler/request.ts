/**
 * The CloudFormation event, read once at the handler's entry: the request type and phase, the
 * parsed resource properties (image references, not strings), the logical and physical ids and
 * the time budget. Everything after the entry works on the typed request.
 */
import { chartTag } from '../artifacts/chart';
import { ImageReference, formatImageReference, isDigest, isTag, parseImageReference } from '../image-reference';
import {
  DEFAULT_TOTAL_TIMEOUT_SECONDS,
  IMAGE_SYNC_RESOURCE_TYPE,
  ImageSyncResourceProperties,
  Props,
  SourceKind,
  SourceKinds,
} from '../image-sync-contract';
import { CopiedImage, parsePhysicalId } from './physical-id';
import { checkNoPolicy, readVerificationPolicy } from './verification-policy';
import { chartNameProblem, chartVersionProblem, helmRepositoryUrlProblem, HELM_REPOSITORY_URL_RULE } from '../private/helm-source';
import { SigstoreIdentity } from '../private/sigstore-policy';

/** The registry name of an archive's source reference: never dialled, only named. */
const ARCHIVE_REGISTRY = 's3';
/** The registry name of a Helm repository chart's source reference: never dialled, only named. */
const HELM_REGISTRY = 'helm';

/** Marks the event `onEvent` hands to `isComplete`: one function serves both phases. */
export const PHASE_KEY = 'ImageSyncPhase';
export const BUDGET_KEY = 'ImageSyncBudgetEndsAt';
export const STARTED_KEY = 'ImageSyncStartedAt';
export const IS_COMPLETE_PHASE = 'isComplete';

/** The CloudFormation custom resource event, as the provider framework forwards it. */
export interface ImageSyncEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly RequestId?: string;
  readonly StackId?: string;
  readonly LogicalResourceId?: string;
  readonly ResourceType?: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties?: { [key: string]: unknown };
  readonly OldResourceProperties?: { [key: string]: unknown };
  readonly ResponseURL?: string;
  /** Set by `onEvent` for the `isComplete` phase (the framework merges onEvent's answer into the event). */
  readonly [PHASE_KEY]?: string;
  /** Epoch ms after which a Create or Update fails with "time budget exhausted". */
  readonly [BUDGET_KEY]?: number;
  /** Epoch ms when `onEvent` started the Create or Update. */
  readonly [STARTED_KEY]?: number;
  readonly [key: string]: unknown;
}

/** The resource properties after parsing: what one sync has to do. */
export interface SyncRequest {
  readonly kind: SourceKind;
  /**
   * The source image: a tag or a digest (the digest wins). For an OCI archive, the archive's
   * bucket and key as the repository, pinned to the expected digest.
   */
  readonly source: ImageReference;
  /** OCI archive only: where the archive lies in S3. */
  readonly archive?: { readonly bucket: string; readonly key: string };
  /** Helm repository only: the repository URL, the chart and its version. */
  readonly helm?: { readonly repoUrl: string; readonly chart: string; readonly version: string };
  readonly sourceRepositoryArn?: string;
  readonly accessRoleArn?: string;
  readonly externalId?: string;
  readonly credentialsSecretArn?: string;
  /** The destination repository and the tag written there. */
  readonly destination: ImageReference & { readonly tag: string };
  /** The destination repository URI as the properties give it: attributes and physical ids repeat it. */
  readonly destinationRepositoryUri: string;
  readonly destinationRepositoryName: string;
  readonly platforms?: string[];
  readonly releaseId?: string;
  readonly removeOnDelete: boolean;
  readonly totalTimeoutSeconds: number;
  /** The digest the source tag must name; the copy fails before writing when it names another. */
  readonly expectedSourceDigest?: string;
  /** Copy the image's referrers too. */
  readonly copyReferrers: boolean;
  /** PEM public keys of the verification policy; absent: no verification. */
  readonly verificationPublicKeys?: string[];
  /** The Sigstore identities of the verification policy, and its trusted root; absent: none. */
  readonly verificationSigstore?: { readonly identities: SigstoreIdentity[]; readonly trustedRoot?: string };
}

/** onEvent of a Create or Update: the properties are checked and the clock starts; the copy runs in isComplete. */
export interface StartRequest {
  readonly step: 'start';
  readonly requestType: 'Create' | 'Update';
  readonly logicalId?: string;
  /** The resource's current physical id (an Update keeps it until the copy completes). */
  readonly physicalId?: string;
  readonly sync: SyncRequest;
}

/** isComplete of a Create or Update: run, or resume, the copy. */
export interface CopyRequest {
  readonly step: 'copy';
  readonly requestType: 'Create' | 'Update';
  readonly logicalId?: string;
  /** The physical id onEvent answered: for an Update, the one the resource had before it. */
  readonly physicalId?: string;
  /** Names this Create or Update across its polls (stack, logical id, request id). */
  readonly requestKey: string;
  readonly sync: SyncRequest;
  /** Epoch ms after which the request fails; unlimited when onEvent set none. */
  readonly budgetEndsAt: number;
  /** Epoch ms when onEvent started the request. */
  readonly startedAt?: number;
}

/** onEvent of a Delete: keep the image, or remove the tag when opted in. */
export interface DeleteRequest {
  readonly step: 'delete';
  readonly requestType: 'Delete';
  readonly logicalId?: string;
  readonly physicalId?: string;
  /** What the physical id says this resource copied; undefined when it copied nothing. */
  readonly copied?: CopiedImage;
  /** The properties; undefined when they cannot be read (then nothing is removed). */
  readonly sync?: SyncRequest;
}

/** isComplete of a Delete: onEvent did all there is to do. */
export interface DeleteDoneRequest {
  readonly step: 'delete-done';
  readonly requestType: 'Delete';
  readonly logicalId?: string;
}

/** One invocation's work. */
export type HandlerRequest = StartRequest | CopyRequest | DeleteRequest | DeleteDoneRequest;

/**
 * Reads the event. Properties that cannot be read fail a Create or Update, and make a Delete keep
 * whatever exists.
 *
 * @throws Error on an unknown request type or invalid Create/Update properties
 */
export function parseEvent(event: ImageSyncEvent): HandlerRequest {
  const logicalId = event.LogicalResourceId;
  const polling = event[PHASE_KEY] === IS_COMPLETE_PHASE;
  switch (event.RequestType) {
    case 'Create':
    case 'Update': {
      const requestType = event.RequestType;
      const sync = parseSyncRequest(event.ResourceProperties);
      if (!polling) {
        return { step: 'start', requestType, logicalId, physicalId: event.PhysicalResourceId, sync };
      }
      return {
        step: 'copy',
        requestType,
        logicalId,
        physicalId: event.PhysicalResourceId,
        requestKey: [event.StackId, logicalId, event.RequestId].join('/'),
        sync,
        budgetEndsAt: typeof event[BUDGET_KEY] === 'number' ? event[BUDGET_KEY] : Number.POSITIVE_INFINITY,
        startedAt: typeof event[STARTED_KEY] === 'number' ? event[STARTED_KEY] : undefined,
      };
    }
    case 'Delete': {
      if (polling) {
        return { step: 'delete-done', requestType: 'Delete', logicalId };
      }
      let sync: SyncRequest | undefined;
      try {
        sync = parseSyncRequest(event.ResourceProperties);
      } catch {
        sync = undefined;
      }
      return { step: 'delete', requestType: 'Delete', logicalId, physicalId: event.PhysicalResourceId, copied: parsePhysicalId(event.PhysicalResourceId), sync };
    }
    default:
      throw new Error(`Unsupported request type ${JSON.stringify((event as ImageSyncEvent).RequestType)}`);
  }
}

/**
 * Reads and checks the resource properties. The construct validates the same things at synth
 * time; this guards against hand-written templates and tokens that resolved to bad values.
 *
 * @throws Error listing every problem (never echoing the external id)
 */
export function parseSyncRequest(raw: unknown): SyncRequest {
  const props = (raw ?? {}) as Partial<ImageSyncResourceProperties> & { [key: string]: unknown };
  const problems: string[] = [];
  const str = (key: string, required: boolean): string | undefined => {
    const value = props[key];
    if (value === undefined || value === '') {
      if (required) problems.push(`${key} is missing`);
      return undefined;
    }
    if (typeof value !== 'string') {
      problems.push(`${key} must be a string`);
      return undefined;
    }
    return value;
  };

  const kind = str(Props.SOURCE_KIND, true) as SourceKind | undefined;
  if (kind !== undefined && !Object.values(SourceKinds).includes(kind)) {
    problems.push(`${Props.SOURCE_KIND} ${JSON.stringify(kind)} is not one of ${Object.values(SourceKinds).join(', ')}`);
  }
  const archive = kind === SourceKinds.OCI_ARCHIVE;
  const helmKind = kind === SourceKinds.HELM_REPOSITORY;
  const sourceImage = str(Props.SOURCE_IMAGE, !archive && !helmKind);
  const helmUrl = str(Props.HELM_REPOSITORY_URL, helmKind);
  const helmChart = str(Props.HELM_CHART, helmKind);
  const helmVersion = str(Props.HELM_CHART_VERSION, helmKind);
  const sourceBucket = str(Props.SOURCE_BUCKET, archive);
  const sourceObjectKey = str(Props.SOURCE_OBJECT_KEY, archive);
  let source: ImageReference | undefined;
  if (archive) {
    if (sourceImage !== undefined) {
      problems.push(`${Props.SOURCE_IMAGE} is not allowed with ${Props.SOURCE_KIND} ${kind}: the archive's ${Props.EXPECTED_SOURCE_DIGEST} names the artifact`);
    }
    if (props[Props.EXPECTED_SOURCE_DIGEST] === undefined) {
      problems.push(`${Props.EXPECTED_SOURCE_DIGEST} is missing (required with ${Props.SOURCE_KIND} ${kind})`);
    }
  } else if (helmKind) {
    if (sourceImage !== undefined) {
      problems.push(`${Props.SOURCE_IMAGE} is not allowed with ${Props.SOURCE_KIND} ${kind}: the repository, chart and version name the chart`);
    }
    const urlProblem = helmUrl === undefined ? undefined : helmRepositoryUrlProblem(helmUrl);
    if (urlProblem) {
      problems.push(`${Props.HELM_REPOSITORY_URL} ${JSON.stringify(helmUrl)} is refused (${urlProblem}): give ${HELM_REPOSITORY_URL_RULE}`);
    }
    const chartProblem = helmChart === undefined ? undefined : chartNameProblem(helmChart);
    if (chartProblem) {
      problems.push(`${Props.HELM_CHART} ${JSON.stringify(helmChart)} is not ${chartProblem}`);
    }
    const versionProblem = helmVersion === undefined ? undefined : chartVersionProblem(helmVersion);
    if (versionProblem) {
      problems.push(`${Props.HELM_CHART_VERSION} ${JSON.stringify(helmVersion)} is not ${versionProblem}`);
    }
    if (helmChart !== undefined && helmVersion !== undefined && !chartProblem && !versionProblem) {
      source = { registry: HELM_REGISTRY, repository: helmChart.toLowerCase(), tag: chartTag(helmVersion) };
    }
  } else if (sourceImage !== undefined) {
    try {
      source = parseImageReference(sourceImage);
      if (!source.tag && !source.digest) {
        problems.push(`${Props.SOURCE_IMAGE} ${JSON.stringify(sourceImage)} has neither a tag nor a digest`);
      }
    } catch (e) {
      problems.push(`${Props.SOURCE_IMAGE}: ${(e as Error).message}`);
    }
  }
  if (archive || helmKind) {
    checkNoPolicy(props, kind, problems);
  }
  const sourceRepositoryArn = str(Props.SOURCE_REPOSITORY_ARN, kind === SourceKinds.TENANT_ECR);
  const accessRoleArn = str(Props.ACCESS_ROLE_ARN, kind === SourceKinds.TENANT_ECR);
  const externalId = str(Props.EXTERNAL_ID, kind === SourceKinds.TENANT_ECR);
  const credentialsSecretArn = str(Props.CREDENTIALS_SECRET_ARN, false);

  const destinationRepositoryUri = str(Props.DESTINATION_REPOSITORY_URI, true);
  let repository: ImageReference | undefined;
  if (destinationRepositoryUri !== undefined) {
    try {
      // A repository URI is a reference without tag and digest: the probe tag rejects either.
      repository = parseImageReference(`${destinationRepositoryUri}:probe`);
    } catch (e) {
      problems.push(`${Props.DESTINATION_REPOSITORY_URI}: ${(e as Error).message}`);
    }
  }
  const destinationRepositoryName = str(Props.DESTINATION_REPOSITORY_NAME, true);
  const destinationTag = str(Props.DESTINATION_TAG, true);
  if (destinationTag !== undefined && !isTag(destinationTag)) {
    problems.push(`${Props.DESTINATION_TAG} ${JSON.stringify(destinationTag)} is not a valid tag`);
  }

  let platforms: string[] | undefined;
  const rawPlatforms = props[Props.PLATFORMS];
  if (rawPlatforms !== undefined) {
    if (!Array.isArray(rawPlatforms) || rawPlatforms.some((x) => typeof x !== 'string')) {
      problems.push(`${Props.PLATFORMS} must be a list of strings such as "linux/arm64"`);
    } else if (rawPlatforms.length > 0) {
      platforms = rawPlatforms as string[];
    }
  }

  if ((archive || helmKind) && platforms !== undefined) {
    problems.push(`${Props.PLATFORMS} is not allowed with ${Props.SOURCE_KIND} ${kind}: the artifact is pushed as it is`);
  }

  const removeOnDelete = str(Props.REMOVE_ON_DELETE, false) ?? 'false';
  if (removeOnDelete !== 'true' && removeOnDelete !== 'false') {
    problems.push(`${Props.REMOVE_ON_DELETE} must be "true" or "false"`);
  }
  const copyReferrers = str(Props.COPY_REFERRERS, false) ?? 'false';
  if (copyReferrers !== 'true' && copyReferrers !== 'false') {
    problems.push(`${Props.COPY_REFERRERS} must be "true" or "false"`);
  }
  const { verificationPublicKeys, verificationSigstore } = readVerificationPolicy(props, problems);
  const timeoutText = str(Props.TOTAL_TIMEOUT_SECONDS, false);
  const totalTimeoutSeconds = timeoutText === undefined ? DEFAULT_TOTAL_TIMEOUT_SECONDS : Number(timeoutText);
  if (!Number.isFinite(totalTimeoutSeconds) || totalTimeoutSeconds <= 0) {
    problems.push(`${Props.TOTAL_TIMEOUT_SECONDS} must be a positive number of seconds`);
  }

  const expectedSourceDigest = str(Props.EXPECTED_SOURCE_DIGEST, false);
  if (expectedSourceDigest !== undefined && !isDigest(expectedSourceDigest)) {
    problems.push(`${Props.EXPECTED_SOURCE_DIGEST} ${JSON.stringify(expectedSourceDigest)} is not a sha256 digest`);
  } else if (expectedSourceDigest !== undefined && source?.digest !== undefined && source.digest !== expectedSourceDigest) {
    problems.push(`${Props.EXPECTED_SOURCE_DIGEST} ${expectedSourceDigest} contradicts the digest ${source.digest} of ${Props.SOURCE_IMAGE}`);
  }

  const archivePinned = expectedSourceDigest !== undefined && isDigest(expectedSourceDigest);
  if (archive && sourceBucket !== undefined && sourceObjectKey !== undefined && archivePinned) {
    // The archive names its artifact by digest: the rest of the flow (destination first, the
    // pinned tag) reads it as a source pinned to that digest.
    source = { registry: ARCHIVE_REGISTRY, repository: `${sourceBucket}/${sourceObjectKey}`, digest: expectedSourceDigest };
  }

  if (problems.length > 0) {
    throw new Error(`Invalid ${IMAGE_SYNC_RESOURCE_TYPE} properties: ${problems.join('; ')}. Fix the ImageSync props and deploy again.`);
  }
  return {
    kind: kind!,
    source: source!,
    archive: archive ? { bucket: sourceBucket!, key: sourceObjectKey! } : undefined,
    helm: helmKind ? { repoUrl: helmUrl!, chart: helmChart!, version: helmVersion! } : undefined,
    sourceRepositoryArn,
    accessRoleArn,
    externalId,
    credentialsSecretArn,
    destination: { registry: repository!.registry, repository: repository!.repository, tag: destinationTag! },
    destinationRepositoryUri: destinationRepositoryUri!,
    destinationRepositoryName: destinationRepositoryName!,
    platforms,
    releaseId: str(Props.RELEASE_ID, false),
    removeOnDelete: removeOnDelete === 'true',
    totalTimeoutSeconds,
    expectedSourceDigest,
    copyReferrers: copyReferrers === 'true',
    verificationPublicKeys,
    verificationSigstore,
  };
}

/** The source image, for messages and logs. */
export function sourceName(request: SyncRequest): string {
  if (request.archive) {
    return `s3://${request.archive.bucket}/${request.archive.key}`;
  }
  if (request.helm) {
    return `chart ${request.helm.chart} ${request.helm.version} of ${request.helm.repoUrl}`;
  }
  return formatImageReference(request.source);
}

/** `<repositoryUri>:<tag>` of the destination, for messages and logs. */
export function destinationName(request: SyncRequest): string {
  return `${request.destinationRepositoryUri}:${request.destination.tag}`;
}

/** The event without the response URL (a pre-signed URL) and without the external id, for the log. */
export function describeEvent(event: ImageSyncEvent): { [key: string]: unknown } {
  const properties = { ...(event.ResourceProperties ?? {}) } as { [key: string]: unknown };
  delete properties.ServiceToken;
  if (properties[Props.EXTERNAL_ID] !== undefined) properties[Props.EXTERNAL_ID] = '***';
  return {
    requestType: event.RequestType,
    stackId: event.StackId,
    logicalResourceId: event.LogicalResourceId,
    physicalResourceId: event.PhysicalResourceId,
    properties,
  };
}
