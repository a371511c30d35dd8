import { createHash } from 'crypto';
import { LifecyclePreviewImage } from '../../src/lifecycle/preview-types';

const DAY_MS = 24 * 60 * 60 * 1000;

/** One component's releases over the history. */
export interface ComponentPlan {
  /** The `ImageSync` component: its releases are tagged `<component>_<version>`. */
  readonly component: string;
  /** How many releases it ships over the history (evenly spread, with jitter). */
  readonly releases: number;
  /** Multi-arch: each release is an index with two platform manifests and two attestation manifests. */
  readonly multiArch?: boolean;
}

/** A release as it sits in the install repository. */
export interface Release {
  readonly component: string;
  /** The destination tag, `<component>_<version>`. */
  readonly tag: string;
  /** The tagged image: the index of a multi-arch release, else the image manifest. */
  readonly digest: string;
  /** The untagged manifests the index lists (platform and attestation manifests). */
  readonly children: string[];
  readonly pushedAt: Date;
}

/** A generated install repository. */
export interface ReleaseHistory {
  /** Every image, as `DescribeImages` would list it, with `referencedBy` on index children. */
  readonly images: LifecyclePreviewImage[];
  /** Every release, oldest first per component. */
  readonly releases: Release[];
  /** The evaluation time: the end of the history. */
  readonly now: Date;
  /** The releases of one component, oldest first. */
  releasesOf(component: string): Release[];
  /** The release tagged `tag`. */
  release(tag: string): Release;
}

/** Options of a generated history. */
export interface HistoryOptions {
  readonly start: Date;
  readonly days: number;
  readonly components: ComponentPlan[];
  /** Third-party images synced once, at the start: `component` to its version tag. */
  readonly syncedOnce?: Record<string, string>;
  /** Seeds the release-time jitter. */
  readonly seed?: number;
}

function digestOf(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

/**
 * A repository after `days` days of releases: each component ships its releases spread over the
 * period (jittered, reproducible from `seed`), children pushed seconds before their index as the
 * copy engine does. Nothing is expired: the preview decides that.
 */
export function generateHistory(options: HistoryOptions): ReleaseHistory {
  let state = options.seed ?? 9;
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
  const images: LifecyclePreviewImage[] = [];
  const releases: Release[] = [];
  const start = options.start.getTime();
  const add = (component: string, version: string, at: number, multiArch: boolean) => {
    const tag = `${component}_${version}`;
    const children = multiArch
      ? ['linux/amd64', 'linux/arm64', 'attestation linux/amd64', 'attestation linux/arm64'].map((part) => digestOf(`${tag} ${part}`))
      : [];
    const digest = digestOf(`${tag} ${multiArch ? 'index' : 'manifest'}`);
    children.forEach((child, i) => {
      images.push({ imageDigest: child, imageTags: [], imagePushedAt: new Date(at + i * 1000), referencedBy: [digest] });
    });
    const pushedAt = new Date(at + children.length * 1000 + 1000);
    images.push({ imageDigest: digest, imageTags: [tag], imagePushedAt: pushedAt });
    releases.push({ component, tag, digest, children, pushedAt });
  };
  for (const [component, version] of Object.entries(options.syncedOnce ?? {})) {
    add(component, version, start + DAY_MS / 2, false);
  }
  for (const plan of options.components) {
    const interval = (options.days * DAY_MS) / plan.releases;
    for (let i = 0; i < plan.releases; i++) {
      const at = start + Math.floor(i * interval + random() * interval * 0.8);
      add(plan.component, `1.${i}.0`, at, plan.multiArch ?? false);
    }
  }
  const now = new Date(start + options.days * DAY_MS);
  const byComponent = (component: string) => releases.filter((r) => r.component === component)
    .sort((a, b) => a.pushedAt.getTime() - b.pushedAt.getTime());
  return {
    images,
    releases,
    now,
    releasesOf: byComponent,
    release: (tag) => {
      const found = releases.find((r) => r.tag === tag);
      if (!found) {
        throw new Error(`no release tagged ${tag} in the history`);
      }
      return found;
    },
  };
}

/** The images that make up `releases`: each tagged image and the manifests its index lists. */
export function imagesOf(releases: Release[]): string[] {
  return releases.flatMap((r) => [r.digest, ...r.children]).sort();
}
