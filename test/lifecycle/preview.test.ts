import { Duration } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { digestOf, ImageSpec, NOW, repository } from './helpers';
import { LifecyclePolicy } from '../../src/lifecycle/policy';
import { LifecycleActionType, LifecycleStorageClass } from '../../src/lifecycle/rules';

type Outcome = [name: string, action: 'EXPIRE' | 'TRANSITION', rulePriority: number];

interface Scenario {
  readonly title: string;
  readonly rules: object[];
  readonly images: Record<string, ImageSpec>;
  readonly expected: Outcome[];
}

const expire = { type: 'expire' };
const archive = { type: 'transition', targetStorageClass: 'archive' };

function run(rules: object[], images: Record<string, ImageSpec>): Outcome[] {
  const policy = LifecyclePolicy.fromPolicyText(JSON.stringify({ rules }, null, 2));
  const repo = repository(images);
  return policy.preview(repo.images, NOW).map((r) => [repo.nameOf(r.imageDigest), r.action.type, r.appliedRulePriority] as Outcome);
}

// Every worked example of the ECR user guide ("Examples of lifecycle policies" and the evaluation
// rules of "Automate the cleanup of images by using lifecycle policies"), with the repository
// contents the guide gives; where the guide gives no contents, images that exercise both sides
// of the rule.
const documented: Scenario[] = [
  {
    title: 'filtering on image age: prod* images older than 14 days are expired',
    rules: [{ rulePriority: 1, description: 'Expire images older than 14 days', selection: { tagStatus: 'tagged', tagPatternList: ['prod*'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 14 }, action: expire }],
    images: {
      old: { tags: ['prod-1'], pushed: 20 },
      fresh: { tags: ['production'], pushed: 13 },
      other: { tags: ['dev-1'], pushed: 40 },
      untagged: { pushed: 40 },
    },
    expected: [['old', 'EXPIRE', 1]],
  },
  {
    title: 'filtering on last pulled time: images not pulled in 90 days (or never, pushed 90+ days ago) are archived',
    rules: [{ rulePriority: 1, description: 'Archive images not pulled in 90 days', selection: { tagStatus: 'any', countType: 'sinceImagePulled', countUnit: 'days', countNumber: 90 }, action: archive }],
    images: {
      stale: { tags: ['v1'], pushed: 300, pulled: 100 },
      used: { tags: ['v2'], pushed: 300, pulled: 10 },
      neverPulledOld: { pushed: 120 },
      neverPulledNew: { pushed: 30 },
      restoredNotPulled: { tags: ['v3'], pushed: 400, pulled: 200, archived: 150, activated: 20 },
      alreadyArchived: { tags: ['v0'], pushed: 500, archived: 100, storageClass: LifecycleStorageClass.ARCHIVE },
    },
    expected: [['stale', 'TRANSITION', 1], ['neverPulledOld', 'TRANSITION', 1]],
  },
  {
    title: 'filtering on archive transition time: images archived more than 365 days ago are expired',
    rules: [{ rulePriority: 1, description: 'Expire images archived for more than 365 days', selection: { tagStatus: 'any', storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 365 }, action: expire }],
    images: {
      longArchived: { tags: ['v1'], pushed: 800, archived: 400, storageClass: LifecycleStorageClass.ARCHIVE },
      recentlyArchived: { tags: ['v2'], pushed: 800, archived: 100, storageClass: LifecycleStorageClass.ARCHIVE },
      active: { tags: ['v3'], pushed: 800 },
    },
    expected: [['longArchived', 'EXPIRE', 1]],
  },
  {
    title: 'filtering on image count: only the newest untagged image is kept',
    rules: [{ rulePriority: 1, description: 'Keep only one untagged image, expire all others', selection: { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 1 }, action: expire }],
    images: {
      u1: { pushed: 5 },
      u2: { pushed: 4 },
      u3: { pushed: 3 },
      tagged: { tags: ['v1'], pushed: 10 },
    },
    expected: [['u1', 'EXPIRE', 1], ['u2', 'EXPIRE', 1]],
  },
  {
    title: 'multiple rules, example A: image B is seen by rule 1 and kept, so only image A is expired',
    rules: [
      { rulePriority: 1, description: 'Rule 1', selection: { tagStatus: 'tagged', tagPatternList: ['prod*'], countType: 'imageCountMoreThan', countNumber: 1 }, action: expire },
      { rulePriority: 2, description: 'Rule 2', selection: { tagStatus: 'tagged', tagPatternList: ['beta*'], countType: 'imageCountMoreThan', countNumber: 1 }, action: expire },
    ],
    images: {
      A: { tags: ['beta-1', 'prod-1'], pushed: 10 },
      B: { tags: ['beta-2', 'prod-2'], pushed: 9 },
      C: { tags: ['beta-3'], pushed: 8 },
    },
    expected: [['A', 'EXPIRE', 1]],
  },
  {
    title: 'multiple rules, example B: with beta* first, images A and B are expired',
    rules: [
      { rulePriority: 1, description: 'Rule 1', selection: { tagStatus: 'tagged', tagPatternList: ['beta*'], countType: 'imageCountMoreThan', countNumber: 1 }, action: expire },
      { rulePriority: 2, description: 'Rule 2', selection: { tagStatus: 'tagged', tagPatternList: ['prod*'], countType: 'imageCountMoreThan', countNumber: 1 }, action: expire },
    ],
    images: {
      A: { tags: ['beta-1', 'prod-1'], pushed: 10 },
      B: { tags: ['beta-2', 'prod-2'], pushed: 9 },
      C: { tags: ['beta-3'], pushed: 8 },
    },
    expected: [['A', 'EXPIRE', 1], ['B', 'EXPIRE', 1]],
  },
  {
    title: 'multiple tags in a single rule, example A: only images matching alpha* and beta* are aged, image C expires',
    rules: [{ rulePriority: 1, description: 'Rule 1', selection: { tagStatus: 'tagged', tagPatternList: ['alpha*', 'beta*'], countType: 'sinceImagePushed', countNumber: 5, countUnit: 'days' }, action: expire }],
    images: {
      A: { tags: ['alpha-1'], pushed: 12 },
      B: { tags: ['beta-1'], pushed: 11 },
      C: { tags: ['alpha-2', 'beta-2'], pushed: 10 },
      D: { tags: ['alpha-3'], pushed: 4 },
      E: { tags: ['beta-3'], pushed: 3 },
      F: { tags: ['alpha-4', 'beta-4'], pushed: 2 },
    },
    expected: [['C', 'EXPIRE', 1]],
  },
  {
    title: 'multiple tags in a single rule, example B: tags are not exclusive, images A and B expire',
    rules: [{ rulePriority: 1, description: 'Rule 1', selection: { tagStatus: 'tagged', tagPatternList: ['alpha*', 'beta*'], countType: 'imageCountMoreThan', countNumber: 1 }, action: expire }],
    images: {
      A: { tags: ['alpha-1', 'beta-1', 'gamma-1'], pushed: 10 },
      B: { tags: ['alpha-2', 'beta-2'], pushed: 9 },
      C: { tags: ['alpha-3', 'beta-3', 'gamma-2'], pushed: 8 },
    },
    expected: [['A', 'EXPIRE', 1], ['B', 'EXPIRE', 1]],
  },
  {
    title: 'all images, example A: everything but the newest image expires',
    rules: [{ rulePriority: 1, description: 'Rule 1', selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 }, action: expire }],
    images: {
      A: { tags: ['alpha-1'], pushed: 4 },
      B: { tags: ['beta-1'], pushed: 3 },
      C: { pushed: 2 },
      D: { tags: ['alpha-2'], pushed: 1 },
    },
    expected: [['A', 'EXPIRE', 1], ['B', 'EXPIRE', 1], ['C', 'EXPIRE', 1]],
  },
  {
    // The guide lists D and E as "pushed 1 day ago", D first; its outcome (rule 2 does not mark E,
    // rule 3 keeps E and marks D) holds when E is exactly one day old and D a little older.
    title: 'all images, example B: all rule types combined expire images A, B and D',
    rules: [
      { rulePriority: 1, description: 'Rule 1', selection: { tagStatus: 'tagged', tagPatternList: ['alpha*'], countType: 'imageCountMoreThan', countNumber: 1 }, action: expire },
      { rulePriority: 2, description: 'Rule 2', selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 }, action: expire },
      { rulePriority: 3, description: 'Rule 3', selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 }, action: expire },
    ],
    images: {
      A: { tags: ['alpha-1', 'beta-1'], pushed: 4 },
      B: { pushed: 3 },
      C: { tags: ['alpha-2'], pushed: 2 },
      D: { tags: ['3f2a9c1'], pushed: 1.01 },
      E: { pushed: 1 },
    },
    expected: [['A', 'EXPIRE', 1], ['B', 'EXPIRE', 2], ['D', 'EXPIRE', 3]],
  },
  {
    title: 'archive example: prod* images older than 30 days are archived',
    rules: [{ rulePriority: 1, description: 'Archive production images older than 30 days', selection: { tagStatus: 'tagged', tagPatternList: ['prod*'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 30 }, action: archive }],
    images: {
      old: { tags: ['prod-1'], pushed: 31 },
      fresh: { tags: ['prod-2'], pushed: 29 },
      dev: { tags: ['dev-1'], pushed: 60 },
    },
    expected: [['old', 'TRANSITION', 1]],
  },
  {
    title: 'archive example: combining archive and expire rules archives after 30 days and deletes after 365 days in archive',
    rules: [
      { rulePriority: 1, description: 'Archive images older than 30 days', selection: { tagStatus: 'any', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 30 }, action: archive },
      { rulePriority: 2, description: 'Expire images archived for more than 365 days', selection: { tagStatus: 'any', storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 365 }, action: expire },
    ],
    images: {
      active: { tags: ['v3'], pushed: 40 },
      fresh: { pushed: 5 },
      archivedLong: { tags: ['v1'], pushed: 500, archived: 400, storageClass: LifecycleStorageClass.ARCHIVE },
      archivedShort: { tags: ['v2'], pushed: 200, archived: 170, storageClass: LifecycleStorageClass.ARCHIVE },
    },
    expected: [['active', 'TRANSITION', 1], ['archivedLong', 'EXPIRE', 2]],
  },
];

describe('LifecyclePolicy.preview on the documented examples', () => {
  test.each(documented)('$title', ({ rules, images, expected }) => {
    expect(run(rules, images)).toEqual(expected);
  });
});

const edgeCases: Scenario[] = [
  {
    title: 'an image exactly at the age limit is not older than it and stays',
    rules: [{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 7 }, action: expire }],
    images: { exact: { pushed: 7 }, older: { pushed: 7.001 } },
    expected: [['older', 'EXPIRE', 1]],
  },
  {
    title: 'tag prefix lists are AND: every prefix needs a tag, one tag may satisfy several prefixes',
    rules: [{ rulePriority: 1, selection: { tagStatus: 'tagged', tagPrefixList: ['rel', 'release'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 }, action: expire }],
    images: { both: { tags: ['release-1'], pushed: 5 }, onlyShort: { tags: ['rel-1'], pushed: 5 } },
    expected: [['both', 'EXPIRE', 1]],
  },
  {
    title: 'patterns match the whole tag: prod matches only prod, *prod* matches anywhere',
    rules: [
      { rulePriority: 1, selection: { tagStatus: 'tagged', tagPatternList: ['prod'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 1 }, action: expire },
      { rulePriority: 2, selection: { tagStatus: 'tagged', tagPatternList: ['*prod*'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 3 }, action: expire },
    ],
    images: { exact: { tags: ['prod'], pushed: 2 }, inside: { tags: ['repo-production'], pushed: 2 }, insideOld: { tags: ['my-prod'], pushed: 4 } },
    expected: [['exact', 'EXPIRE', 1], ['insideOld', 'EXPIRE', 2]],
  },
  {
    title: 'a pattern with inner wildcards matches in order: v*-rc* matches v1.2-rc3 but not rc1-v2',
    rules: [{ rulePriority: 1, selection: { tagStatus: 'tagged', tagPatternList: ['v*-rc*'], countType: 'imageCountMoreThan', countNumber: 1 }, action: expire }],
    images: { a: { tags: ['v1.2-rc3'], pushed: 3 }, b: { tags: ['rc1-v2'], pushed: 2 }, c: { tags: ['v2.0-rc1'], pushed: 1 } },
    expected: [['a', 'EXPIRE', 1]],
  },
  {
    title: 'a count rule keeps the newest by push time, or by restore time for an image restored from the archive',
    rules: [{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 2 }, action: expire }],
    images: { restored: { tags: ['v1'], pushed: 100, archived: 50, activated: 1 }, v2: { tags: ['v2'], pushed: 10 }, v3: { tags: ['v3'], pushed: 5 } },
    expected: [['v2', 'EXPIRE', 1]],
  },
  {
    title: 'a rule on the standard class never touches archived images, and archived images do not count against it',
    rules: [{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 }, action: expire }],
    images: {
      archived: { tags: ['v1'], pushed: 1, archived: 1, storageClass: LifecycleStorageClass.ARCHIVE },
      old: { tags: ['v2'], pushed: 10 },
      new: { tags: ['v3'], pushed: 5 },
    },
    expected: [['old', 'EXPIRE', 1]],
  },
  {
    title: 'a tagged rule that keeps an image protects it from a later any rule that counts it',
    rules: [
      { rulePriority: 1, selection: { tagStatus: 'tagged', tagPatternList: ['release-*'], countType: 'imageCountMoreThan', countNumber: 5 }, action: expire },
      { rulePriority: 2, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 1 }, action: expire },
    ],
    images: { r1: { tags: ['release-1'], pushed: 30 }, r2: { tags: ['release-2'], pushed: 20 }, s1: { tags: ['sha-1'], pushed: 10 }, s2: { tags: ['sha-2'], pushed: 1 } },
    expected: [['s1', 'EXPIRE', 2]],
  },
  {
    title: 'an archived image without a recorded archive time is not aged by sinceImageTransitioned',
    rules: [{ rulePriority: 1, selection: { tagStatus: 'any', storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 90 }, action: expire }],
    images: {
      unknown: { pushed: 900, storageClass: LifecycleStorageClass.ARCHIVE },
      known: { pushed: 900, archived: 91, storageClass: LifecycleStorageClass.ARCHIVE },
    },
    expected: [['known', 'EXPIRE', 1]],
  },
  {
    title: 'sinceImagePulled counts from the last pull when it came after a restore',
    rules: [{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'sinceImagePulled', countUnit: 'days', countNumber: 30 }, action: archive }],
    images: {
      pulledAfterRestore: { pushed: 400, activated: 100, pulled: 40 },
      pulledRecently: { pushed: 400, activated: 100, pulled: 3 },
    },
    expected: [['pulledAfterRestore', 'TRANSITION', 1]],
  },
];

describe('LifecyclePolicy.preview edge cases', () => {
  test.each(edgeCases)('$title', ({ rules, images, expected }) => {
    expect(run(rules, images)).toEqual(expected);
  });

  test('equal push times are ordered by digest, so the result does not depend on input order', () => {
    const policy = LifecyclePolicy.fromRules([{ maxImageCount: 1 }]);
    const repo = repository({ x: { pushed: 2 }, y: { pushed: 2 }, z: { pushed: 2 } });
    const forward = policy.preview(repo.images, NOW).map((r) => r.imageDigest);
    const backward = policy.preview([...repo.images].reverse(), NOW).map((r) => r.imageDigest);
    expect(forward).toEqual(backward);
    expect(forward).toHaveLength(2);
  });

  test('a repeated digest in the input is previewed once', () => {
    const policy = LifecyclePolicy.fromRules([{ maxImageCount: 1 }]);
    const repo = repository({ old: { pushed: 5 }, new: { pushed: 1 } });
    const results = policy.preview([...repo.images, repo.images[0]], NOW);
    expect(results.map((r) => repo.nameOf(r.imageDigest))).toEqual(['old']);
  });

  test('results serialize exactly to the GetLifecyclePolicyPreview shape', () => {
    const policy = LifecyclePolicy.fromRules([
      { tagPatternList: ['v*'], maxImageAge: Duration.days(30), action: LifecycleActionType.TRANSITION },
      { tagStatus: ecr.TagStatus.ANY, maxTimeInArchive: Duration.days(90) },
    ]);
    const repo = repository({
      v1: { tags: ['v1'], pushed: 40 },
      v0: { tags: ['v0'], pushed: 400, archived: 100, storageClass: LifecycleStorageClass.ARCHIVE },
    });
    const json = JSON.parse(JSON.stringify(policy.preview(repo.images, NOW)));
    expect(json).toEqual([
      {
        imageDigest: digestOf('v1'),
        imageTags: ['v1'],
        imagePushedAt: '2026-04-22T12:00:00.000Z',
        action: { type: 'TRANSITION', targetStorageClass: 'ARCHIVE' },
        appliedRulePriority: 1,
        storageClass: 'STANDARD',
      },
      {
        imageDigest: digestOf('v0'),
        imageTags: ['v0'],
        imagePushedAt: '2025-04-27T12:00:00.000Z',
        action: { type: 'EXPIRE' },
        appliedRulePriority: 2,
        storageClass: 'ARCHIVE',
      },
    ]);
  });

  test('preview defaults the evaluation time to now', () => {
    const policy = LifecyclePolicy.fromRules([{ maxImageAge: Duration.days(1) }]);
    const results = policy.preview([{ imageDigest: digestOf('a'), imagePushedAt: new Date(Date.now() - 3 * 86400000) }]);
    expect(results.map((r) => r.imageTags)).toEqual([[]]);
  });

  test('fails on images it cannot evaluate, naming each', () => {
    const policy = LifecyclePolicy.fromRules([{ maxImageCount: 1 }]);
    const bad = [
      { imageDigest: '', imagePushedAt: new Date('not a date') },
      { imageDigest: digestOf('b'), imagePushedAt: NOW, lastRecordedPullTime: 'yesterday' as unknown as Date, imageTags: [1] as unknown as string[] },
    ];
    expect(() => policy.preview(bad, NOW)).toThrow([
      'Invalid lifecycle preview input:',
      '  - images[0].imageDigest: "" is not allowed: the image\'s digest',
      '  - images[0].imagePushedAt: Invalid Date is not allowed: a valid Date',
      '  - images[1].lastRecordedPullTime: yesterday is not allowed: a valid Date or undefined',
      '  - images[1].imageTags: [1] is not allowed: a list of tags',
    ].join('\n'));
    expect(() => policy.preview([], new Date(NaN))).toThrow('now: Invalid Date is not allowed: a valid Date');
  });

  test('fails when previewing an invalid policy, naming the problem', () => {
    const policy = LifecyclePolicy.fromRules([{ maxImageCount: 0 }]);
    expect(() => policy.preview([], NOW)).toThrow(/countNumber: 0 is not allowed: a whole number of at least 1/);
  });
});
