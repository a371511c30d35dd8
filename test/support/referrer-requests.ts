import { cosignKeyPair, cosignSignature, signatureTag } from './cosign';
import { buildRelease } from './fanout';
import { RESYNC_CASES, ResyncCase } from './fanout-model';
import { startFaultProxy } from './fault-proxy';
import { MEDIA_TYPES, RegistryTarget, buildArtifact, pushImage, putManifest } from './images';
import { startReferrersFront } from './referrers-front';
import { TestRegistry } from './registry';
import { copyImage } from '../../src/sync';
import { referrersTag } from '../../src/sync/referrers';

/** Source requests of one re-sync, with the referrers API and without. */
export interface ResyncRequests {
  withApi: number;
  withoutApi: number;
}

/**
 * What referrers cost a re-sync of the model's release: the requests the source answers when the
 * destination already holds the release under its tag, for each of the model's cases, with the
 * source behind a referrers-API front (as ECR) and without one (as distribution 2.8). The copy is
 * the engine's, as the sync function runs it; a proxy in front of the source counts the requests.
 */
export async function measureResyncRequests(source: TestRegistry, destination: TestRegistry): Promise<{ [name: string]: ResyncRequests }> {
  const key = cosignKeyPair();
  const out: { [name: string]: ResyncRequests } = {};
  let n = 0;
  for (const c of RESYNC_CASES) {
    const counts: ResyncRequests = { withApi: 0, withoutApi: 0 };
    for (const api of [true, false]) {
      const front = api ? await startReferrersFront(source) : undefined;
      const proxy = await startFaultProxy(front ?? source);
      try {
        const repository = `resync/${api ? 'api' : 'schema'}-${++n}`;
        await publish(front ?? source, repository, c, key.privateKey);
        const options = {
          source: `${proxy.host}/${repository}:v1`,
          destination: `${destination.host}/${repository}`,
          referrers: c.referrers,
          verifyKeys: c.verify ? [key.publicKeyPem] : undefined,
        };
        await copyImage(options);
        proxy.clearRequests();
        const again = await copyImage(options);
        if (!again.alreadyPresent) throw new Error(`${c.name}: the re-sync copied the release again`);
        counts[api ? 'withApi' : 'withoutApi'] = proxy.requests.length;
      } finally {
        await proxy.stop();
        await front?.stop();
      }
    }
    out[c.name] = counts;
  }
  return out;
}

/** The release under `v1`, with what the case attaches to its index: a cosign signature (tag) and an SBOM (referrer). */
async function publish(registry: RegistryTarget, repository: string, c: ResyncCase, key: import('crypto').KeyObject): Promise<void> {
  const release = buildRelease();
  await pushImage(registry, repository, 'v1', release);
  if (!c.attached) return;
  const sig = cosignSignature({ digest: release.digest, dockerReference: `${registry.host}/${repository}`, key });
  await pushImage(registry, repository, signatureTag(release.digest), sig);
  const sbom = buildArtifact({ kind: 'sbom', subject: release });
  await pushImage(registry, repository, undefined, sbom);
  // Without the API, clients list it in the referrers tag schema (a front with the API indexes the push itself).
  if (!('referrersOf' in registry)) {
    await putManifest(registry, repository, referrersTag(release.digest), MEDIA_TYPES.ociIndex, Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: [{ mediaType: sbom.mediaType, digest: sbom.digest, size: sbom.manifest.length, artifactType: sbom.artifactType }],
    })));
  }
}
