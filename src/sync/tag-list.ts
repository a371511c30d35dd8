/**
 * A repository's tags (`GET /v2/<name>/tags/list`), page by page as the registry hands them out.
 */
import { isLoopbackHost } from '../image-reference';
import { CredentialSource } from './auth';
import { CopyError } from './errors';
import { HttpPool, readBody } from './http';
import { ManifestRequestOptions } from './manifest-requests';
import { Redactor } from './redact';
import { RegistryConnection, routeOf } from './registry-connection';

/** Pages followed at most: a registry that keeps linking to another page is not followed forever. */
const MAX_PAGES = 1000;
const PAGE_SIZE = 1000;

/**
 * Every tag of `registry/repository`, in the order the registry lists them.
 *
 * @throws CopyError NOT_FOUND for an unknown repository, or the registry's refusal
 */
export async function listTags(
  registry: string, repository: string, credentials?: CredentialSource, options: ManifestRequestOptions = {},
): Promise<string[]> {
  const pool = new HttpPool({
    maxSockets: 2, plainHttp: options.plainHttp ?? isLoopbackHost, lookup: options.lookup, ca: options.ca, insecureTls: options.insecureTls,
  });
  const redactor = options.redactor ?? new Redactor();
  const connection = new RegistryConnection({ registry, ...routeOf(registry, options), credentials, pool, signal: options.signal, redactor });
  const tags: string[] = [];
  try {
    let target: string | undefined = `/v2/${repository}/tags/list?n=${PAGE_SIZE}`;
    for (let page = 0; target && page < MAX_PAGES; page++) {
      const res = await connection.call({ method: 'GET', target, scopes: [`repository:${repository}:pull`], what: `tags of ${repository}` });
      if (res.status !== 200) {
        throw await connection.failure(res, `GET tags of ${repository}`, repository);
      }
      let body: { tags?: unknown };
      try {
        body = JSON.parse((await readBody(res, 16 * 1024 * 1024)).toString('utf8'));
      } catch {
        throw new CopyError('REGISTRY', `${registry} answered the tag list of ${repository} with invalid JSON`, { registry });
      }
      if (Array.isArray(body.tags)) {
        tags.push(...body.tags.filter((t): t is string => typeof t === 'string'));
      }
      target = nextPage(res.headers.link);
    }
    return tags;
  } catch (err) {
    throw redactor.error(err);
  } finally {
    pool.close();
  }
}

/** The `rel="next"` target of a `Link` header (`</v2/app/tags/list?n=2&last=b>; rel="next"`), a path on the same registry only. */
function nextPage(link: string | string[] | undefined): string | undefined {
  const text = Array.isArray(link) ? link.join(', ') : link;
  const match = text ? /<([^>]+)>\s*;\s*rel="?next"?/i.exec(text) : undefined;
  return match && match[1].startsWith('/v2/') ? match[1] : undefined;
}
