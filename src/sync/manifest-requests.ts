/**
 * Single manifest requests outside a copy: what digest a tag names, and removing a manifest.
 */
import { ImageReference, isLoopbackHost } from '../image-reference';
import { CredentialSource } from './auth';
import { HttpPool } from './http';
import { Redactor } from './redact';
import { ImageReferenceInput, engineReference } from './reference';
import { ManifestInfo, RegistryClient } from './registry-client';
import { RegistryRoutes, routeOf } from './registry-connection';

/** Options for the single-request helpers: where to dial, which hosts speak HTTP, and a stop signal. */
export interface ManifestRequestOptions extends RegistryRoutes {
  readonly signal?: AbortSignal;
  /** Errors leave through it; it learns the credentials used. @default - a redactor of its own */
  readonly redactor?: Redactor;
}

/** Resolve a manifest digest (HEAD) without copying; undefined when absent. */
export async function resolveDigest(
  reference: ImageReferenceInput, credentials?: CredentialSource, options: ManifestRequestOptions = {},
): Promise<string | undefined> {
  return (await inspectManifest(reference, credentials, options))?.digest;
}

/** What a registry holds under a tag or digest (HEAD): its digest, media type and size; undefined when absent. */
export async function inspectManifest(
  reference: ImageReferenceInput, credentials?: CredentialSource, options: ManifestRequestOptions = {},
): Promise<ManifestInfo | undefined> {
  const ref = engineReference(reference);
  return withClient(ref, credentials, options, client => client.headManifest(ref.repository, ref.digest ?? ref.tag ?? 'latest'));
}

/**
 * Delete a manifest at the destination. A tag is first resolved to its digest; registries delete
 * by digest, which removes every tag pointing at it. Deleting what is already gone succeeds.
 */
export async function deleteManifest(
  reference: ImageReferenceInput, credentials?: CredentialSource, options: ManifestRequestOptions = {},
): Promise<void> {
  const ref = engineReference(reference);
  await withClient(ref, credentials, options, async client => {
    const digest = ref.digest ?? (await client.headManifest(ref.repository, ref.tag ?? 'latest', [`repository:${ref.repository}:pull,delete`]))?.digest;
    if (digest) {
      await client.deleteManifest(ref.repository, digest);
    }
  });
}

async function withClient<T>(ref: ImageReference, credentials: CredentialSource | undefined, options: ManifestRequestOptions,
  fn: (client: RegistryClient) => Promise<T>): Promise<T> {
  const pool = new HttpPool({
    maxSockets: 4, plainHttp: options.plainHttp ?? isLoopbackHost, lookup: options.lookup, ca: options.ca, insecureTls: options.insecureTls,
  });
  const redactor = options.redactor ?? new Redactor();
  const client = new RegistryClient({
    registry: ref.registry, ...routeOf(ref.registry, options), credentials, pool, signal: options.signal, redactor,
  });
  try {
    return await fn(client);
  } catch (err) {
    throw redactor.error(err);
  } finally {
    pool.close();
  }
}
