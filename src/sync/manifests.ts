import { ImageReference, isLoopbackHost, normalizeDockerHub, parseImageReference } from '../image-reference';
import { CredentialSource } from './auth';
import { CopyError, redact } from './errors';
import { HttpPool } from './http';
import { RegistryClient } from './registry-client';

/** Options for the single-request helpers. */
export interface ManifestRequestOptions {
  /** Which registries speak plain HTTP; default: loopback hosts. */
  readonly plainHttp?: (registry: string) => boolean;
  readonly signal?: AbortSignal;
}

/** Resolve a manifest digest (HEAD) without copying; undefined when absent. */
export async function resolveDigest(
  reference: string, credentials?: CredentialSource, options: ManifestRequestOptions = {},
): Promise<string | undefined> {
  const ref = parse(reference);
  return withClient(ref, credentials, options, async client => {
    const info = await client.headManifest(ref.repository, ref.digest ?? ref.tag ?? 'latest');
    return info?.digest;
  });
}

/**
 * Delete a manifest at the destination. A tag is first resolved to its digest; registries delete
 * by digest, which removes every tag pointing at it. Deleting what is already gone succeeds.
 */
export async function deleteManifest(reference: string, credentials?: CredentialSource, options: ManifestRequestOptions = {}): Promise<void> {
  const ref = parse(reference);
  await withClient(ref, credentials, options, async client => {
    const digest = ref.digest ?? (await client.headManifest(ref.repository, ref.tag ?? 'latest', [`repository:${ref.repository}:pull,delete`]))?.digest;
    if (digest) {
      await client.deleteManifest(ref.repository, digest);
    }
  });
}

function parse(reference: string): ImageReference {
  try {
    return normalizeDockerHub(parseImageReference(reference));
  } catch (err) {
    throw new CopyError('INVALID', (err as Error).message);
  }
}

async function withClient<T>(ref: ImageReference, credentials: CredentialSource | undefined, options: ManifestRequestOptions,
  fn: (client: RegistryClient) => Promise<T>): Promise<T> {
  const pool = new HttpPool({ maxSockets: 4 });
  const client = new RegistryClient({
    registry: ref.registry, credentials, plainHttp: (options.plainHttp ?? isLoopbackHost)(ref.registry), pool, signal: options.signal,
  });
  try {
    return await fn(client);
  } catch (err) {
    if (err instanceof Error) {
      err.message = redact(err.message, client.auth.secrets);
    }
    throw err;
  } finally {
    pool.close();
  }
}
