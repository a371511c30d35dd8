import { CustomResource, Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { IMAGE_SYNC_RESOURCE_TYPE, Props } from '../image-sync-contract';
import type { ImageSyncDestination } from '../image-sync-destination';
import type { ImageSyncProvider } from '../image-sync-provider';
import { SigstoreIdentity } from './sigstore-policy';

/**
 * A source bound to the provider's function: grants it what reading the source needs and returns
 * the source's resource properties. An `ImageSource`, or an archive asset of `addChart` / `addBundle`.
 */
export interface SyncSource {
  /** @param scope the construct the resource belongs to (where a source's own asset goes) */
  _bind(provider: ImageSyncProvider, scope: Construct): { [key: string]: string };
}

/** What one `Custom::ImageSync` resource copies, already validated by its construct. */
export interface SyncResourceOptions {
  readonly provider: ImageSyncProvider;
  readonly source: SyncSource;
  readonly destination: ImageSyncDestination;
  /** The tag written at the destination, as it is written. */
  readonly destinationTag: string;
  readonly removeOnDelete: boolean;
  readonly totalTimeout: Duration;
  readonly platforms?: string[];
  readonly releaseId?: string;
  readonly expectedSourceDigest?: string;
  /** Copy the image's referrers (signatures, SBOMs, attestations) too. */
  readonly copyReferrers?: boolean;
  /** PEM public keys: the tag is written only when a cosign signature of the source digest verifies with one. */
  readonly verificationPublicKeys?: string[];
  /** Sigstore identities (and a trusted root): bundles signed by one of them count too. */
  readonly verificationSigstore?: { readonly identities: SigstoreIdentity[]; readonly trustedRoot?: string };
}

/**
 * The `Custom::ImageSync` resource (id `Resource`) of an `ImageSync`, a `TenantImport`, a
 * `TenantChart` or a `TenantBundle`: binds the source and destination to the provider's function
 * (their grants) and renders the properties the handler reads. One resource type and one handler
 * serve them all.
 */
export function createSyncResource(scope: Construct, options: SyncResourceOptions): CustomResource {
  const { provider, destination } = options;
  const sourceProperties = options.source._bind(provider, scope);
  destination._bind(provider, options.removeOnDelete);

  const repository = destination.repository;
  const properties: { [key: string]: unknown } = {
    ...sourceProperties,
    [Props.DESTINATION_REPOSITORY_URI]: repository.repositoryUri,
    [Props.DESTINATION_REPOSITORY_NAME]: repository.repositoryName,
    [Props.DESTINATION_TAG]: options.destinationTag,
    [Props.REMOVE_ON_DELETE]: String(options.removeOnDelete),
    [Props.TOTAL_TIMEOUT_SECONDS]: String(options.totalTimeout.toSeconds()),
  };
  if (options.platforms !== undefined) {
    properties[Props.PLATFORMS] = options.platforms;
  }
  if (options.releaseId !== undefined) {
    properties[Props.RELEASE_ID] = options.releaseId;
  }
  if (options.expectedSourceDigest !== undefined) {
    properties[Props.EXPECTED_SOURCE_DIGEST] = options.expectedSourceDigest;
  }
  if (options.copyReferrers !== undefined) {
    properties[Props.COPY_REFERRERS] = String(options.copyReferrers);
  }
  if (options.verificationPublicKeys !== undefined) {
    properties[Props.VERIFICATION_PUBLIC_KEYS] = options.verificationPublicKeys;
  }
  if (options.verificationSigstore !== undefined) {
    properties[Props.VERIFICATION_SIGSTORE] = JSON.stringify(options.verificationSigstore);
  }

  const resource = new CustomResource(scope, 'Resource', {
    serviceToken: provider.serviceToken,
    resourceType: IMAGE_SYNC_RESOURCE_TYPE,
    properties,
    serviceTimeout: options.totalTimeout,
  });
  // The grants above land in the function's role policy: the copy must not start before them.
  resource.node.addDependency(provider.function);
  return resource;
}
