import * as crypto from 'crypto';
import { Token } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { newStack, tenantSource } from './support/image-sync';
import { ImageSync } from '../src/image-sync';
import { IMAGE_SYNC_RESOURCE_TYPE, Props } from '../src/image-sync-contract';
import { ImageSyncDestination } from '../src/image-sync-destination';
import { SignatureVerification } from '../src/signature-verification';

const pem = (key: crypto.KeyObject) => key.export({ type: 'spki', format: 'pem' }).toString();
const p256 = pem(crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
const rsa = pem(crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);

describe('SignatureVerification', () => {
  test('cosignKeys takes P-256 and RSA public keys and names them by fingerprint', () => {
    const policy = SignatureVerification.cosignKeys([p256, rsa]);
    const fingerprint = (text: string) => `sha256:${crypto.createHash('sha256')
      .update(crypto.createPublicKey(text).export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16)}`;
    expect(policy.description).toBe(`cosign public keys ${fingerprint(p256)}, ${fingerprint(rsa)}`);
  });

  test.each([
    ['no key', [], 'publicKeys: "0 keys" is not allowed: 1 to 10 PEM public keys'],
    ['eleven keys', Array(11).fill(p256), 'publicKeys: "11 keys" is not allowed: 1 to 10 PEM public keys'],
    ['a text that is no key', ['hello'], 'publicKeys[0]: "hello" is not allowed: a PEM public key of ECDSA P-256 or RSA (2048 bits or more); this one is not a PEM public key'],
    ['a P-384 key', [pem(crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey)], 'this one is an EC key on secp384r1'],
    ['a token', [Token.asString({ Ref: 'KeyParameter' })], 'publicKeys[0]: "<token>" is not allowed: a PEM text known at synth'],
  ])('fails for %s, naming the prop, the value and what is allowed', (_name, keys, message) => {
    expect(() => SignatureVerification.cosignKeys(keys)).toThrow(message);
  });
});

const GITHUB = 'https://token.actions.githubusercontent.com';
const RELEASE = 'https://github.com/vendor/app/.github/workflows/release.yml@refs/heads/main';
const TRUSTED_ROOT = JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [] });

describe('SignatureVerification.sigstore', () => {
  test('takes identities by subject or pattern and names them', () => {
    const policy = SignatureVerification.sigstore({
      identities: [{ issuer: GITHUB, subject: RELEASE }, { issuer: GITHUB, subjectPattern: 'https://github\\.com/vendor/.*' }],
    });

    expect(policy.description).toBe(`Sigstore identities issuer ${GITHUB} with subject ${RELEASE}; issuer ${GITHUB} with subject matching /https://github\\.com/vendor/.*/`);
  });

  test('anyOf holds keys and identities: any one suffices', () => {
    const keys = SignatureVerification.cosignKeys([p256]);
    const identities = SignatureVerification.sigstore({ identities: [{ issuer: GITHUB, subject: RELEASE }] });
    const policy = SignatureVerification.anyOf([keys, identities]);

    expect(policy.description).toMatch(new RegExp(`^cosign public keys sha256:[0-9a-f]{16}, or Sigstore identities issuer ${GITHUB} with subject ${RELEASE}$`));
  });

  test.each([
    ['no identity', { identities: [] }, 'identities: "0 identities" is not allowed: 1 to 10 identities'],
    ['an issuer that is not an https URL', { identities: [{ issuer: 'accounts.google.com', subject: 'a@b.c' }] }, 'issuer "accounts.google.com" is not allowed: an https URL'],
    ['both a subject and a pattern', { identities: [{ issuer: GITHUB, subject: RELEASE, subjectPattern: '.*' }] }, 'must have exactly one of subject and subjectPattern'],
    ['neither a subject nor a pattern', { identities: [{ issuer: GITHUB }] }, 'must have exactly one of subject and subjectPattern'],
    ['a pattern that does not compile', { identities: [{ issuer: GITHUB, subjectPattern: '[' }] }, 'subjectPattern "[" does not compile as a regular expression'],
    ['a token issuer', { identities: [{ issuer: Token.asString({ Ref: 'Issuer' }), subject: RELEASE }] }, 'identities[0]: "<token>" is not allowed'],
    ['a trusted root that is not JSON', { identities: [{ issuer: GITHUB, subject: RELEASE }], trustedRootJson: 'nope' }, 'trustedRootJson: "nope" is not allowed: a Sigstore trusted_root.json known at synth; this one is not JSON'],
    ['a trusted root without a Sigstore media type', { identities: [{ issuer: GITHUB, subject: RELEASE }], trustedRootJson: '{}' }, 'this one is not a Sigstore trusted root'],
  ])('fails for %s, naming the prop, the value and what is allowed', (_name, options, message) => {
    expect(() => SignatureVerification.sigstore(options)).toThrow(message);
  });

  test('anyOf fails for two different trusted roots', () => {
    const a = SignatureVerification.sigstore({ identities: [{ issuer: GITHUB, subject: RELEASE }], trustedRootJson: TRUSTED_ROOT });
    const b = SignatureVerification.sigstore({ identities: [{ issuer: GITHUB, subject: RELEASE }], trustedRootJson: TRUSTED_ROOT.replace('tlogs', 'ctlogs":[],"tlogs') });

    expect(() => SignatureVerification.anyOf([a, b])).toThrow('at most one trusted root among the policies');
  });
});

describe('ImageSync: supply chain props', () => {
  test('copies referrers by default and renders no verification policy', () => {
    const stack = newStack();
    new ImageSync(stack, 'Api', { source: tenantSource(stack), destination: ImageSyncDestination.fromEcr(new ecr.Repository(stack, 'Repo')) });

    Template.fromStack(stack).hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, {
      [Props.COPY_REFERRERS]: 'true',
      [Props.VERIFICATION_PUBLIC_KEYS]: Match.absent(),
    });
  });

  test('renders the opt-out and the policy\'s public keys for the handler', () => {
    const stack = newStack();
    new ImageSync(stack, 'Api', {
      source: tenantSource(stack),
      destination: ImageSyncDestination.fromEcr(new ecr.Repository(stack, 'Repo')),
      copyReferrers: false,
      verification: SignatureVerification.cosignKeys([p256]),
    });

    Template.fromStack(stack).hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, {
      [Props.COPY_REFERRERS]: 'false',
      [Props.VERIFICATION_PUBLIC_KEYS]: [p256.trim() + '\n'],
    });
  });

  test('renders a Sigstore policy as JSON for the handler, and no key property', () => {
    const stack = newStack();
    new ImageSync(stack, 'Api', {
      source: tenantSource(stack),
      destination: ImageSyncDestination.fromEcr(new ecr.Repository(stack, 'Repo')),
      verification: SignatureVerification.sigstore({ identities: [{ issuer: GITHUB, subject: RELEASE }], trustedRootJson: TRUSTED_ROOT }),
    });

    Template.fromStack(stack).hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, {
      [Props.VERIFICATION_PUBLIC_KEYS]: Match.absent(),
      [Props.VERIFICATION_SIGSTORE]: JSON.stringify({ identities: [{ issuer: GITHUB, subject: RELEASE }], trustedRoot: TRUSTED_ROOT }),
    });
  });

  test('renders both properties for a policy of keys and identities', () => {
    const stack = newStack();
    new ImageSync(stack, 'Api', {
      source: tenantSource(stack),
      destination: ImageSyncDestination.fromEcr(new ecr.Repository(stack, 'Repo')),
      verification: SignatureVerification.anyOf([SignatureVerification.cosignKeys([p256]), SignatureVerification.sigstore({ identities: [{ issuer: GITHUB, subjectPattern: '.*' }] })]),
    });

    Template.fromStack(stack).hasResourceProperties(IMAGE_SYNC_RESOURCE_TYPE, {
      [Props.VERIFICATION_PUBLIC_KEYS]: [p256.trim() + '\n'],
      [Props.VERIFICATION_SIGSTORE]: JSON.stringify({ identities: [{ issuer: GITHUB, subjectPattern: '.*' }] }),
    });
  });

  test('warns when a verified image\'s signatures would not travel with it', () => {
    const stack = newStack();
    new ImageSync(stack, 'Api', {
      source: tenantSource(stack),
      destination: ImageSyncDestination.fromEcr(new ecr.Repository(stack, 'Repo')),
      copyReferrers: false,
      verification: SignatureVerification.cosignKeys([p256]),
    });

    Annotations.fromStack(stack).hasWarning('/Install/Api', Match.stringLikeRegexp('verification is set but copyReferrers is false'));
  });
});
