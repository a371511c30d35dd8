import { LifecycleActionType, LifecycleStorageClass } from './rules';

/**
 * An image as `DescribeImages` reports it: the input of a lifecycle preview.
 */
export interface LifecyclePreviewImage {
  /** The image manifest digest (`sha256:...`). */
  readonly imageDigest: string;

  /**
   * The image's tags.
   *
   * @default - untagged
   */
  readonly imageTags?: string[];

  /** When the image was pushed. */
  readonly imagePushedAt: Date;

  /**
   * When the image was last pulled, as ECR records it.
   *
   * @default - never pulled
   */
  readonly lastRecordedPullTime?: Date;

  /**
   * The image's storage class (`DescribeImages` reports `imageStatus` `ARCHIVED` for archived images).
   *
   * @default LifecycleStorageClass.STANDARD
   */
  readonly storageClass?: LifecycleStorageClass;

  /**
   * When the image was last archived.
   *
   * @default - never archived
   */
  readonly lastArchivedAt?: Date;

  /**
   * When the image was last restored from the archive.
   *
   * @default - never restored
   */
  readonly lastActivatedAt?: Date;

  /**
   * The digests of the image indexes (manifest lists) that list this manifest: a platform
   * manifest, or the attestation manifest of a build. ECR never expires or archives a manifest
   * before every index listing it, so the preview keeps it while one of them stays. Not in
   * `DescribeImages`' output: read it from the indexes (`manifests[].digest`).
   *
   * @default - unknown: the image is previewed like any other
   */
  readonly referencedBy?: string[];

  /**
   * The digest of the image this one refers to, for a referrer (an OCI artifact with a
   * `subject`: a signature, an SBOM, an attestation). ECR expires a referrer within 24 hours
   * after its subject, so the preview expires it with its subject, under the subject's rule.
   *
   * @default - not a referrer, or unknown
   */
  readonly subjectDigest?: string;
}

/**
 * What a lifecycle rule does to one image.
 */
export interface LifecyclePreviewAction {
  /** Expire (delete) or transition (archive). */
  readonly type: LifecycleActionType;

  /**
   * The storage class a transition moves the image to.
   *
   * @default - none: the action is an expiry
   */
  readonly targetStorageClass?: LifecycleStorageClass;
}

/**
 * One image a lifecycle policy would act on, shaped like `GetLifecyclePolicyPreview`'s
 * `previewResults`.
 */
export interface LifecyclePreviewResult {
  /** The image manifest digest. */
  readonly imageDigest: string;
  /** The image's tags (empty for an untagged image). */
  readonly imageTags: string[];
  /** When the image was pushed. */
  readonly imagePushedAt: Date;
  /** What the policy does to the image. */
  readonly action: LifecyclePreviewAction;
  /** The `rulePriority` of the rule that acts on the image. */
  readonly appliedRulePriority: number;
  /** The image's current storage class. */
  readonly storageClass: LifecycleStorageClass;
}
