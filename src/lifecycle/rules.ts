import { Duration } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';

/**
 * An ECR image storage class.
 *
 * The values are the ones `GetLifecyclePolicyPreview` and this library's preview report;
 * the policy JSON uses the same words in lower case.
 */
export enum LifecycleStorageClass {
  /** Active images that can be pulled. Every image starts here. */
  STANDARD = 'STANDARD',
  /** ECR Archive: cheaper storage, cannot be pulled until restored, 90 days minimum. */
  ARCHIVE = 'ARCHIVE',
}

/**
 * What a lifecycle rule does to the images it marks.
 *
 * The values are the ones `GetLifecyclePolicyPreview` and this library's preview report;
 * the policy JSON uses the same words in lower case.
 */
export enum LifecycleActionType {
  /** Delete the image. */
  EXPIRE = 'EXPIRE',
  /** Move the image to the archive storage class. */
  TRANSITION = 'TRANSITION',
}

/**
 * One rule of an ECR lifecycle policy, in the shape CDK users know from `ecr.LifecycleRule`,
 * extended with everything ECR supports today: tag patterns, the archive storage class,
 * pull-based and archive-age rules, and the `transition` action. Named apart from
 * `ecr.LifecycleRule`, which lacks these, so both can be imported side by side.
 *
 * Exactly one of `maxImageCount`, `maxImageAge`, `maxTimeSinceLastPull` and `maxTimeInArchive`
 * must be set. Rules are evaluated in the order they are listed unless `rulePriority` says
 * otherwise; for each image, the first rule whose tag selection matches it decides its fate.
 */
export interface LifecyclePolicyRule {
  /**
   * Describes the purpose of the rule.
   *
   * @default - no description
   */
  readonly description?: string;

  /**
   * Evaluation order (lower first). Must be unique and a whole number of at least 1.
   *
   * @default - one more than the rule listed before it (1 for the first rule)
   */
  readonly rulePriority?: number;

  /**
   * Which images to select by their tags.
   *
   * @default - `ecr.TagStatus.TAGGED` when `tagPrefixList` or `tagPatternList` is given, else `ecr.TagStatus.ANY`
   */
  readonly tagStatus?: ecr.TagStatus;

  /**
   * Select images having, for every prefix in the list, a tag starting with it.
   *
   * Only with `ecr.TagStatus.TAGGED`, and not together with `tagPatternList`.
   *
   * @default - no prefix filter
   */
  readonly tagPrefixList?: string[];

  /**
   * Select images having, for every pattern in the list, a tag matching it as a whole.
   * `*` matches any run of characters (at most four `*` per pattern).
   *
   * Only with `ecr.TagStatus.TAGGED`, and not together with `tagPrefixList`.
   *
   * @default - no pattern filter
   */
  readonly tagPatternList?: string[];

  /**
   * The storage class of the images the rule selects.
   *
   * @default - `LifecycleStorageClass.ARCHIVE` with `maxTimeInArchive`, else `LifecycleStorageClass.STANDARD`
   */
  readonly storageClass?: LifecycleStorageClass;

  /**
   * Keep at most this many matching images (the newest); mark the rest (`imageCountMoreThan`).
   *
   * @default - not a count rule
   */
  readonly maxImageCount?: number;

  /**
   * Mark matching images pushed longer ago than this (`sinceImagePushed`). Whole days.
   *
   * @default - not a push-age rule
   */
  readonly maxImageAge?: Duration;

  /**
   * Mark matching images not pulled for longer than this (`sinceImagePulled`); an image never
   * pulled counts from its push. Whole days. ECR only allows this with the transition action.
   *
   * @default - not a pull-age rule
   */
  readonly maxTimeSinceLastPull?: Duration;

  /**
   * Mark archived images archived longer ago than this (`sinceImageTransitioned`). Whole days,
   * at least 90 (the archive's minimum storage duration). ECR only allows this with the expire
   * action on the archive storage class.
   *
   * @default - not an archive-age rule
   */
  readonly maxTimeInArchive?: Duration;

  /**
   * What to do with the images the rule marks. A transition always targets the archive
   * storage class.
   *
   * @default - `LifecycleActionType.TRANSITION` with `maxTimeSinceLastPull`, else `LifecycleActionType.EXPIRE`
   */
  readonly action?: LifecycleActionType;
}
