import { isDigest, isTag, parseImageReference } from '../image-reference';
import {
  DEFAULT_TOTAL_TIMEOUT_SECONDS,
  ImageSyncResourceProperties,
  Props,
  SourceKind,
  SourceKinds,
} from '../image-sync-contract';

/** The resource properties after parsing: what one sync has to do. */
export interface SyncRequest {
  readonly kind: SourceKind;
  /** `host/repository:tag` or `host/repository@digest`. */
  readonly sourceImage: string;
  readonly sourceRegistry: string;
  readonly sourceRepositoryArn?: string;
  readonly accessRoleArn?: string;
  readonly externalId?: string;
  readonly credentialsSecretArn?: string;
  readonly destinationRepositoryUri: string;
  readonly destinationRegistry: string;
  readonly destinationRepositoryName: string;
  readonly destinationTag: string;
  readonly platforms?: string[];
  readonly releaseId?: string;
  readonly removeOnDelete: boolean;
  readonly totalTimeoutSeconds: number;
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
  const sourceImage = str(Props.SOURCE_IMAGE, true);
  let sourceRegistry = '';
  if (sourceImage !== undefined) {
    try {
      const ref = parseImageReference(sourceImage);
      sourceRegistry = ref.registry;
      if (!ref.tag && !ref.digest) {
        problems.push(`${Props.SOURCE_IMAGE} ${JSON.stringify(sourceImage)} has neither a tag nor a digest`);
      }
    } catch (e) {
      problems.push(`${Props.SOURCE_IMAGE}: ${(e as Error).message}`);
    }
  }
  const sourceRepositoryArn = str(Props.SOURCE_REPOSITORY_ARN, kind === SourceKinds.TENANT_ECR);
  const accessRoleArn = str(Props.ACCESS_ROLE_ARN, kind === SourceKinds.TENANT_ECR);
  const externalId = str(Props.EXTERNAL_ID, kind === SourceKinds.TENANT_ECR);
  const credentialsSecretArn = str(Props.CREDENTIALS_SECRET_ARN, false);

  const destinationRepositoryUri = str(Props.DESTINATION_REPOSITORY_URI, true);
  let destinationRegistry = '';
  if (destinationRepositoryUri !== undefined) {
    try {
      const ref = parseImageReference(`${destinationRepositoryUri}:probe`);
      destinationRegistry = ref.registry;
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

  const removeOnDelete = str(Props.REMOVE_ON_DELETE, false) ?? 'false';
  if (removeOnDelete !== 'true' && removeOnDelete !== 'false') {
    problems.push(`${Props.REMOVE_ON_DELETE} must be "true" or "false"`);
  }
  const timeoutText = str(Props.TOTAL_TIMEOUT_SECONDS, false);
  const totalTimeoutSeconds = timeoutText === undefined ? DEFAULT_TOTAL_TIMEOUT_SECONDS : Number(timeoutText);
  if (!Number.isFinite(totalTimeoutSeconds) || totalTimeoutSeconds <= 0) {
    problems.push(`${Props.TOTAL_TIMEOUT_SECONDS} must be a positive number of seconds`);
  }

  if (problems.length > 0) {
    throw new Error(`Invalid ${'Custom::ImageSync'} properties: ${problems.join('; ')}. Fix the ImageSync props and deploy again.`);
  }
  return {
    kind: kind!,
    sourceImage: sourceImage!,
    sourceRegistry,
    sourceRepositoryArn,
    accessRoleArn,
    externalId,
    credentialsSecretArn,
    destinationRepositoryUri: destinationRepositoryUri!,
    destinationRegistry,
    destinationRepositoryName: destinationRepositoryName!,
    destinationTag: destinationTag!,
    platforms,
    releaseId: str(Props.RELEASE_ID, false),
    removeOnDelete: removeOnDelete === 'true',
    totalTimeoutSeconds,
  };
}

/** The id of a copied image: `<repositoryUri>:<tag>@<digest>`, stable across re-syncs of the same release. */
export function physicalId(repositoryUri: string, tag: string, digest?: string): string {
  return digest ? `${repositoryUri}:${tag}@${digest}` : `${repositoryUri}:${tag}`;
}

/** Reads back a {@link physicalId}; undefined when the id carries no digest (nothing was copied). */
export function parsePhysicalId(id: string | undefined): { repositoryUri: string; tag: string; digest: string } | undefined {
  if (!id) return undefined;
  const at = id.lastIndexOf('@');
  if (at < 0) return undefined;
  const digest = id.slice(at + 1);
  const rest = id.slice(0, at);
  const colon = rest.lastIndexOf(':');
  if (colon < 0 || !isDigest(digest)) return undefined;
  const tag = rest.slice(colon + 1);
  const repositoryUri = rest.slice(0, colon);
  if (!isTag(tag) || repositoryUri.indexOf('/') < 0) return undefined;
  return { repositoryUri, tag, digest };
}
