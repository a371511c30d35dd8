import * as crypto from 'crypto';
import { initializeCA, type CA } from '@sigstore/mock/dist/fulcio/ca';
import { initializeCTLog, type CTLog } from '@sigstore/mock/dist/fulcio/ctlog';
import { initializeTLog, type TLog } from '@sigstore/mock/dist/rekor/tlog';
import { BuiltImage, MEDIA_TYPES, sha256 } from './images';

/**
 * Sigstore bundles in cosign v3's exact format, made per run by a Sigstore of the test bed's
 * own: a Fulcio-like CA whose certificates embed an SCT from a CT log, and a Rekor-like log that
 * gives each entry a signed entry timestamp, a checkpoint and an inclusion proof (the signing
 * primitives of `@sigstore/mock`, with none of its HTTP interceptors), and the trusted root that
 * names them. `cosign sign` (v3, or `--new-bundle-format`) makes the same objects:
 *
 * - an in-toto statement `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":
 *   {"sha256":<hex>}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}`,
 *   in a DSSE envelope of payload type `application/vnd.in-toto+json`, signed with an ephemeral
 *   P-256 key certified by the CA for the signer's identity;
 * - a `dsse` 0.0.1 Rekor entry of the envelope; the bundle (media type
 *   `application/vnd.dev.sigstore.bundle.v0.3+json`) holds the certificate, the entry and the
 *   envelope;
 * - pushed as an OCI 1.1 referrer of the image: artifact type and layer media type the bundle's,
 *   an empty config, `dev.sigstore.bundle.content: dsse-envelope` and
 *   `dev.sigstore.bundle.predicateType` annotations.
 */

export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
const FULCIO_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';
const REKOR_URL = 'https://rekor.sigstore.test';

export interface SignerIdentity {
  readonly subject: string;
  readonly issuer: string;
}

export interface BundleOptions {
  /** The image digest the statement names. */
  readonly digest: string;
  readonly identity: SignerIdentity;
  /** Another predicate type (an attestation rather than a signature). */
  readonly predicateType?: string;
  /** Replaces the envelope's payload after signing and logging (a tampered bundle). */
  readonly tamperedDigest?: string;
  /** Signs with this key and a public-key hint instead of a certificate (cosign --key --new-bundle-format). */
  readonly key?: crypto.KeyObject;
}

export interface TestSigstore {
  /** The trusted root (JSON) naming the test bed's CA, CT log and Rekor log. */
  readonly trustedRoot: string;
  bundle(o: BundleOptions): Promise<Buffer>;
}

const p256 = () => crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const der = (key: crypto.KeyObject) => key.export({ type: 'spki', format: 'der' });
const b64 = (b: Buffer | Uint8Array) => Buffer.from(b).toString('base64');

export async function startTestSigstore(): Promise<TestSigstore> {
  const ctLog: CTLog = await initializeCTLog(p256());
  const ca: CA = await initializeCA(crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' }), ctLog);
  const tlogKeys = p256();
  const tlog: TLog = await initializeTLog(REKOR_URL, tlogKeys);
  const since = { start: new Date(Date.now() - 3600_000).toISOString() };
  const key = (raw: Buffer) => ({ rawBytes: b64(raw), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: since });
  const trustedRoot = JSON.stringify({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{ baseUrl: REKOR_URL, hashAlgorithm: 'SHA2_256', publicKey: key(der(tlogKeys.publicKey)), logId: { keyId: b64(crypto.createHash('sha256').update(der(tlogKeys.publicKey)).digest()) } }],
    certificateAuthorities: [{
      subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
      uri: 'https://fulcio.sigstore.test',
      certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate as unknown as Uint8Array) }] },
      validFor: since,
    }],
    ctlogs: [{ baseUrl: 'https://ctfe.sigstore.test', hashAlgorithm: 'SHA2_256', publicKey: key(ctLog.publicKey), logId: { keyId: b64(ctLog.logID as unknown as Uint8Array) } }],
    timestampAuthorities: [],
  });

  return {
    trustedRoot,
    async bundle(o: BundleOptions): Promise<Buffer> {
      const statement = (digest: string) => Buffer.from(JSON.stringify({
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ digest: { sha256: digest.replace(/^sha256:/, '') }, annotations: {} }],
        predicateType: o.predicateType ?? COSIGN_SIGN_PREDICATE,
        predicate: {},
      }));
      const payloadType = 'application/vnd.in-toto+json';
      const payload = statement(o.digest);
      const pae = Buffer.concat([Buffer.from(`DSSEv1 ${payloadType.length} ${payloadType} ${payload.length} `), payload]);
      const signing = o.key ? { privateKey: o.key } : p256();
      const sig = crypto.sign('sha256', pae, signing.privateKey);
      let verifier: string;
      let material: object;
      if (o.key) {
        const publicKey = crypto.createPublicKey(o.key);
        verifier = b64(Buffer.from(publicKey.export({ type: 'spki', format: 'pem' }).toString()));
        material = { publicKey: { hint: b64(crypto.createHash('sha256').update(der(publicKey)).digest()) } };
      } else {
        const cert = Buffer.from(await ca.issueCertificate({
          publicKey: der((signing as crypto.KeyPairKeyObjectResult).publicKey) as unknown as ArrayBufferView<ArrayBuffer>,
          subjectAltName: o.identity.subject,
          extensions: [{ oid: FULCIO_ISSUER_V2, value: o.identity.issuer }],
        }) as unknown as Uint8Array);
        verifier = b64(Buffer.from(`-----BEGIN CERTIFICATE-----\n${b64(cert).replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`));
        material = { certificate: { rawBytes: b64(cert) } };
      }
      const envelope = { payload: b64(payload), payloadType, signatures: [{ sig: b64(sig), keyid: '' }] };
      const logged = Object.values(await tlog.log({
        apiVersion: '0.0.1',
        kind: 'dsse',
        spec: {
          envelopeHash: { algorithm: 'sha256', value: crypto.createHash('sha256').update(JSON.stringify(envelope)).digest('hex') },
          payloadHash: { algorithm: 'sha256', value: crypto.createHash('sha256').update(payload).digest('hex') },
          signatures: [{ signature: b64(sig), verifier }],
        },
      }))[0] as any;
      const proof = logged.verification.inclusionProof;
      const tlogEntry = {
        logIndex: String(logged.logIndex),
        logId: { keyId: b64(Buffer.from(logged.logID, 'hex')) },
        kindVersion: { kind: 'dsse', version: '0.0.1' },
        integratedTime: String(logged.integratedTime),
        inclusionPromise: { signedEntryTimestamp: logged.verification.signedEntryTimestamp },
        inclusionProof: {
          logIndex: String(proof.logIndex),
          rootHash: b64(Buffer.from(proof.rootHash, 'hex')),
          treeSize: String(proof.treeSize),
          hashes: [],
          checkpoint: { envelope: proof.checkpoint },
        },
        canonicalizedBody: logged.body,
      };
      if (o.tamperedDigest) {
        envelope.payload = b64(statement(o.tamperedDigest));
      }
      return Buffer.from(JSON.stringify({
        mediaType: BUNDLE_MEDIA_TYPE,
        verificationMaterial: { ...material, tlogEntries: [tlogEntry], timestampVerificationData: {} },
        dsseEnvelope: envelope,
      }));
    },
  };
}

/** The referrer manifest cosign pushes for a bundle of `subject`. */
export function bundleReferrer(bundle: Buffer, subject: BuiltImage, predicateType = COSIGN_SIGN_PREDICATE): BuiltImage {
  const empty = Buffer.from('{}');
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    artifactType: BUNDLE_MEDIA_TYPE,
    config: { mediaType: MEDIA_TYPES.ociEmpty, size: 2, digest: sha256(empty) },
    layers: [{ mediaType: BUNDLE_MEDIA_TYPE, size: bundle.length, digest: sha256(bundle) }],
    subject: { mediaType: subject.mediaType, size: subject.manifest.length, digest: subject.digest },
    annotations: {
      'dev.sigstore.bundle.content': 'dsse-envelope',
      'dev.sigstore.bundle.predicateType': predicateType,
      'org.opencontainers.image.created': '2026-01-01T00:00:00Z',
    },
  }));
  return {
    manifest,
    mediaType: MEDIA_TYPES.ociManifest,
    digest: sha256(manifest),
    children: [],
    artifactType: BUNDLE_MEDIA_TYPE,
    blobs: new Map([[sha256(empty), empty], [sha256(bundle), bundle]]),
  };
}
