import { RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';

/**
 * The settings shared by the tenant and install repositories, each with a secure default.
 */
export interface SecureRepositoryProps {
  /**
   * The repository name, following ECR's rules (2-256 characters, lowercase, `/` separated namespaces).
   *
   * @default - CloudFormation generates a unique name
   */
  readonly repositoryName?: string;

  /**
   * A customer managed KMS key that encrypts the images at rest.
   *
   * @default - AES256 (Amazon S3 managed keys)
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * Tag patterns that stay mutable: every other tag is immutable.
   *
   * ECR wildcard filters: letters, digits, `.`, `_`, `-` and `*` (any characters), 1-128
   * characters each, e.g. `latest` or `dev-*`. Release tags should never match: an immutable tag
   * guarantees the digest behind a version never changes. A tag that moves leaves the image it
   * pointed at untagged unless it has another tag.
   *
   * @default - no exclusions but the signature tags of `mutableSignatureTags`
   */
  readonly mutableTagPatterns?: string[];

  /**
   * Keep the signature tag family `sha256-*` mutable: cosign's `sha256-<hex>.sig|.att|.sbom`
   * tags and the referrers tag schema's `sha256-<hex>` index. cosign adds a second signature or
   * attestation by pushing the tag again with one more layer, and an `ImageSync` carries it to
   * the install the same way; with the family immutable, that push fails. Release tags stay
   * immutable; a moved signature tag can drop signatures, never forge one.
   *
   * @default true
   */
  readonly mutableSignatureTags?: boolean;

  /**
   * Scan every image for vulnerabilities when it is pushed (ECR basic scanning; an
   * enhanced-scanning registry configuration takes precedence).
   *
   * @default true
   */
  readonly imageScanOnPush?: boolean;

  /**
   * What happens to the repository when it is removed from the stack.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Delete the images with the repository. Requires `removalPolicy: RemovalPolicy.DESTROY`.
   *
   * @default false
   */
  readonly emptyOnDelete?: boolean;
}
