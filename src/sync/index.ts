/**
 * The copy engine, as the ImageSync handler and the CLI use it. It ships inside their bundles
 * only: nothing here is part of the package's API.
 */
export type { CredentialSource, RegistryCredentials } from './auth';
export { copyImage, copyReferrersOf } from './copy';
export type { CopyImageOptions, CopyProgressEvent, CopyResult } from './copy';
export { assumePullSession, ecrCredentialSource } from './ecr-credentials';
export type { AssumeRole, AssumeRoleRequest, AwsCredentials, EcrAuthorizationData, GetEcrAuthorizationToken, PullSessionOptions } from './ecr-credentials';
export { CopyError, StoppedError } from './errors';
export type { CopyErrorCode } from './errors';
export type { BlobProgress } from './blob-transfer';
export { inspectManifest, resolveDigest } from './manifest-requests';
export { listTags } from './tag-list';
export type { ManifestRequestOptions } from './manifest-requests';
export { Redactor } from './redact';
export type { ImageReferenceInput } from './reference';
export type { ManifestInfo } from './registry-client';
export { HttpPool } from './http';
export type { LookupFunction } from './http';
export type { RegistryRoutes } from './registry-connection';
export { parseTrustedKey } from '../private/cosign-keys';
export type { TrustedKey } from '../private/cosign-keys';
export type { VerificationOutcome } from './signatures';
export type { ReferrersResult } from './referrers';
