/**
 * A small blob read whole into memory (a signature payload, a Sigstore bundle): bounded, and
 * checked against its digest before anything trusts it.
 */
import { CopyError, describeNetworkError } from './errors';
import { readBody } from './http';
import { Descriptor } from './manifest-format';
import { RegistryClient, sha256 } from './registry-client';

/** Where the blob is read. */
export interface BlobSource {
  readonly client: RegistryClient;
  readonly repository: string;
  readonly scopes?: readonly string[];
}

/** The bytes of `layer`, at most `maxSize` of them; `what` names it in messages. */
export async function readSmallBlob(source: BlobSource, layer: Descriptor, maxSize: number, what: string): Promise<Buffer> {
  const { client, repository } = source;
  return client.retrying(`${what} ${layer.digest}`, async () => {
    const res = await client.getBlob(repository, layer.digest, source.scopes);
    let body: Buffer;
    try {
      body = await readBody(res, maxSize);
    } catch (err) {
      throw new CopyError('NETWORK', `reading ${what} ${layer.digest} from ${client.registry} failed: ${describeNetworkError(err)}`, {
        registry: client.registry, retryable: true, cause: err,
      });
    }
    if (sha256(body) !== layer.digest) {
      throw new CopyError('DIGEST_MISMATCH', `${what} ${layer.digest} from ${client.registry}/${repository} does not match its digest`, {
        registry: client.registry, retryable: true,
      });
    }
    return body;
  });
}
