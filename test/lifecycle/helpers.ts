import { createHash } from 'crypto';
import { LifecyclePreviewImage } from '../../src/lifecycle/preview-types';
import { LifecycleStorageClass } from '../../src/lifecycle/rules';

/** The evaluation time every preview test uses. */
export const NOW = new Date('2026-06-01T12:00:00.000Z');

const DAY_MS = 24 * 60 * 60 * 1000;

/** The time `days` days before NOW (fractions allowed). */
export function daysAgo(days: number): Date {
  return new Date(NOW.getTime() - days * DAY_MS);
}

/** A stable digest per image name, so results can be read back by name. */
export function digestOf(name: string): string {
  return `sha256:${createHash('sha256').update(name).digest('hex')}`;
}

/** Options of a test image. */
export interface ImageSpec {
  readonly tags?: string[];
  readonly pushed: number;
  readonly pulled?: number;
  readonly archived?: number;
  readonly activated?: number;
  readonly storageClass?: LifecycleStorageClass;
}

/** A DescribeImages-shaped image named `name`, with times in days before NOW. */
export function image(name: string, spec: ImageSpec): LifecyclePreviewImage {
  return {
    imageDigest: digestOf(name),
    imageTags: spec.tags ?? [],
    imagePushedAt: daysAgo(spec.pushed),
    ...(spec.pulled !== undefined ? { lastRecordedPullTime: daysAgo(spec.pulled) } : {}),
    ...(spec.archived !== undefined ? { lastArchivedAt: daysAgo(spec.archived) } : {}),
    ...(spec.activated !== undefined ? { lastActivatedAt: daysAgo(spec.activated) } : {}),
    ...(spec.storageClass !== undefined ? { storageClass: spec.storageClass } : {}),
  };
}

/** Builds a set of named images and a function mapping digests back to names. */
export function repository(specs: Record<string, ImageSpec>): { images: LifecyclePreviewImage[]; nameOf: (digest: string) => string } {
  const names = new Map<string, string>();
  const images = Object.entries(specs).map(([name, spec]) => {
    names.set(digestOf(name), name);
    return image(name, spec);
  });
  return { images, nameOf: (digest) => names.get(digest) ?? digest };
}
