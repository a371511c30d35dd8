/**
 * The contract between the `ImageSync` construct and its Lambda handler: the custom resource
 * type, the property keys the construct renders and the handler reads, and the attribute keys
 * the handler returns. Both sides import these names from here so they cannot drift apart.
 *
 * CloudFormation delivers every scalar property as a string (booleans and numbers included),
 * so the construct renders them as strings and the handler parses them.
 */

/** The CloudFormation resource type of an image sync. Public contract: renaming it replaces every resource. */
export const IMAGE_SYNC_RESOURCE_TYPE = 'Custom::ImageSync';

/**
 * The environment variable through which the provider tells its function which stack it serves:
 * the function refuses events of any other stack.
 */
export const STACK_ID_ENV = 'IMAGE_SYNC_STACK_ID';

/** How the handler reaches the source image. */
export const SourceKinds = {
  /** An ECR repository in another (tenant) account, read through an assumed access role. */
  TENANT_ECR: 'TenantEcr',
  /** An ECR repository the function's own role may pull from. */
  ECR: 'Ecr',
  /** Any other OCI registry, anonymous or with a username/password kept in Secrets Manager. */
  REGISTRY: 'Registry',
  /**
   * An artifact packed at synth time (`TenantRepository.addChart` / `addBundle`): an `oci-archive`
   * (its OCI image layout as one tar file) in S3, pushed with its expected manifest digest.
   */
  OCI_ARCHIVE: 'OciArchive',
  /**
   * A chart version of a classic Helm repository (`index.yaml`): the archive is downloaded,
   * checked against the index's sha256 and pushed unchanged as Helm's OCI chart artifact.
   */
  HELM_REPOSITORY: 'HelmRepository',
} as const;

export type SourceKind = typeof SourceKinds[keyof typeof SourceKinds];

/** Resource property keys (`ResourceProperties` of the CloudFormation event). */
export const Props = {
  SOURCE_KIND: 'SourceKind',
  /**
   * `host/repository:tag` or `host/repository@sha256:...` (digest wins when both are given).
   * Absent for an OCI archive, whose `ExpectedSourceDigest` names the artifact, and for a Helm
   * repository, whose `HelmRepositoryUrl`, `HelmChart` and `HelmChartVersion` name the chart.
   */
  SOURCE_IMAGE: 'SourceImage',
  /** OCI archive only: the S3 bucket of the archive (a file asset). */
  SOURCE_BUCKET: 'SourceBucket',
  /** OCI archive only: the archive's object key; the function may read this object only. */
  SOURCE_OBJECT_KEY: 'SourceObjectKey',
  /** Helm repository only: the repository URL (`https://...`), as in `helm repo add NAME URL`. */
  HELM_REPOSITORY_URL: 'HelmRepositoryUrl',
  /** Helm repository only: the chart's name in the index. */
  HELM_CHART: 'HelmChart',
  /** Helm repository only: the chart version, exactly as the index lists it. */
  HELM_CHART_VERSION: 'HelmChartVersion',
  /** Tenant ECR only: the source repository ARN, the only resource the pull session may read. */
  SOURCE_REPOSITORY_ARN: 'SourceRepositoryArn',
  /** Tenant ECR only: the access role to assume. */
  ACCESS_ROLE_ARN: 'AccessRoleArn',
  /** Tenant ECR only: the external id the access role's trust policy requires. */
  EXTERNAL_ID: 'ExternalId',
  /** Registry and Helm repository only: a Secrets Manager secret holding `{ "username": ..., "password": ... }`. */
  CREDENTIALS_SECRET_ARN: 'CredentialsSecretArn',
  /** The destination repository URI (`<account>.dkr.ecr.<region>.amazonaws.com/<name>`). */
  DESTINATION_REPOSITORY_URI: 'DestinationRepositoryUri',
  /** The destination repository name (for the ECR API calls of the opt-in removal). */
  DESTINATION_REPOSITORY_NAME: 'DestinationRepositoryName',
  /** The tag written at the destination. */
  DESTINATION_TAG: 'DestinationTag',
  /** Platforms to copy from a multi-platform index, e.g. `linux/arm64`; absent or empty = all. */
  PLATFORMS: 'Platforms',
  /** A free-form release id: changing it re-runs the sync and it names the pull session. */
  RELEASE_ID: 'ReleaseId',
  /** `'true'` to delete the tag on Delete when it still points at this resource's digest. */
  REMOVE_ON_DELETE: 'RemoveOnDelete',
  /** The time budget of one Create or Update, in seconds. */
  TOTAL_TIMEOUT_SECONDS: 'TotalTimeoutSeconds',
  /**
   * The digest the source tag must name (`sha256:...`): when it names another, the copy fails
   * before any tag is written (an upstream tag that moved fails the release).
   */
  EXPECTED_SOURCE_DIGEST: 'ExpectedSourceDigest',
  /** `'true'` to copy the image's referrers (signatures, SBOMs, attestations); absent = `'false'`. */
  COPY_REFERRERS: 'CopyReferrers',
  /** PEM public keys: the tag is written only when a cosign signature of the source digest verifies with one. */
  VERIFICATION_PUBLIC_KEYS: 'VerificationPublicKeys',
  /**
   * A Sigstore policy, JSON: `{"identities":[{"issuer":..., "subject":... | "subjectPattern":...}],
   * "trustedRoot"?: "<trusted_root.json text>"}`. The tag is written only when a signature
   * satisfies the policy: a key signature with one of `VerificationPublicKeys`, or a Sigstore
   * bundle signed by one of the identities.
   */
  VERIFICATION_SIGSTORE: 'VerificationSigstore',
} as const;

/** Attribute keys (`Data` of the response; `Fn::GetAtt` names). */
export const Attributes = {
  IMAGE_DIGEST: 'ImageDigest',
  /** `<repositoryUri>@<digest>`: the digest-pinned image. */
  IMAGE_URI: 'ImageUri',
  IMAGE_TAG: 'ImageTag',
  REPOSITORY_URI: 'RepositoryUri',
  MEDIA_TYPE: 'MediaType',
  /** Blob bytes written by the invocation that completed the copy. */
  BYTES_COPIED: 'BytesCopied',
  BLOBS_COPIED: 'BlobsCopied',
  BLOBS_SKIPPED: 'BlobsSkipped',
} as const;

/** The typed view of the resource properties, after the handler has parsed them. */
export interface ImageSyncResourceProperties {
  readonly SourceKind: string;
  readonly SourceImage?: string;
  readonly SourceBucket?: string;
  readonly SourceObjectKey?: string;
  readonly HelmRepositoryUrl?: string;
  readonly HelmChart?: string;
  readonly HelmChartVersion?: string;
  readonly SourceRepositoryArn?: string;
  readonly AccessRoleArn?: string;
  readonly ExternalId?: string;
  readonly CredentialsSecretArn?: string;
  readonly DestinationRepositoryUri: string;
  readonly DestinationRepositoryName: string;
  readonly DestinationTag: string;
  readonly Platforms?: string[];
  readonly ReleaseId?: string;
  readonly RemoveOnDelete?: string;
  readonly TotalTimeoutSeconds?: string;
  readonly ExpectedSourceDigest?: string;
  readonly CopyReferrers?: string;
  readonly VerificationPublicKeys?: string[];
  readonly VerificationSigstore?: string;
}

/** The default time budget of a Create or Update: one hour, CloudFormation's limit for custom resources. */
export const DEFAULT_TOTAL_TIMEOUT_SECONDS = 3600;

/**
 * The session tag keys the handler may set when it assumes a tenant access role (`sessionTags` in
 * the handler: the release id, for CloudTrail). The access role's trust allows `sts:TagSession`
 * for exactly these keys (`aws:TagKeys`): a key added to the handler must be added here.
 */
export const SESSION_TAG_KEYS: readonly string[] = ['ReleaseId'];
