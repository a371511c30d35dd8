import { Duration, Lazy } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { LifecyclePolicy } from '../../src/lifecycle/policy';
import { LifecycleActionType, LifecycleStorageClass } from '../../src/lifecycle/rules';

/** Policy JSON text for `rules`, pretty-printed so short policies stay above ECR's 100-character minimum. */
function text(rules: unknown[]): string {
  return JSON.stringify({ rules }, null, 2);
}

const expire = { type: 'expire' };
const archive = { type: 'transition', targetStorageClass: 'archive' };
const keep5 = { countType: 'imageCountMoreThan', countNumber: 5 };

function errorsOf(rules: unknown[]): string {
  try {
    LifecyclePolicy.fromPolicyText(text(rules));
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('fails: the policy was accepted');
}

describe('LifecyclePolicy.fromRules', () => {
  test('renders rules in listed order with automatic priorities, fixed key order and no null', () => {
    const policy = LifecyclePolicy.fromRules([
      { description: 'releases', tagPatternList: ['v*'], maxImageCount: 30 },
      { tagStatus: ecr.TagStatus.UNTAGGED, maxImageAge: Duration.days(14) },
      { maxTimeSinceLastPull: Duration.days(90) },
      { maxTimeInArchive: Duration.days(365) },
    ]);
    expect(policy.validate()).toEqual([]);
    expect(policy.renderPolicyText()).toBe(JSON.stringify({
      rules: [
        { rulePriority: 1, description: 'releases', selection: { tagStatus: 'tagged', tagPatternList: ['v*'], countType: 'imageCountMoreThan', countNumber: 30 }, action: { type: 'expire' } },
        { rulePriority: 2, selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 14 }, action: { type: 'expire' } },
        { rulePriority: 3, selection: { tagStatus: 'any', countType: 'sinceImagePulled', countUnit: 'days', countNumber: 90 }, action: { type: 'transition', targetStorageClass: 'archive' } },
        { rulePriority: 4, selection: { tagStatus: 'any', storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 365 }, action: { type: 'expire' } },
      ],
    }));
    expect(policy.renderPolicyText()).not.toContain('null');
  });

  test('explicit priorities are kept, the next rule continues after them, and rendering sorts by priority', () => {
    const policy = LifecyclePolicy.fromRules([
      { rulePriority: 10, tagPrefixList: ['prod'], maxImageCount: 3 },
      { tagPrefixList: ['dev'], maxImageCount: 3 },
      { rulePriority: 5, tagPrefixList: ['qa'], maxImageCount: 3 },
    ]);
    const rendered = JSON.parse(policy.renderPolicyText());
    expect(rendered.rules.map((r: { rulePriority: number }) => r.rulePriority)).toEqual([5, 10, 11]);
    expect(rendered.rules[2].selection.tagPrefixList).toEqual(['dev']);
  });

  test('rendering is deterministic: the same rules give the same text', () => {
    const rules = [{ tagPatternList: ['*'], maxImageCount: 3 }, { maxImageAge: Duration.days(7), action: LifecycleActionType.TRANSITION }];
    expect(LifecyclePolicy.fromRules(rules).renderPolicyText()).toBe(LifecyclePolicy.fromRules(rules).renderPolicyText());
  });

  test('withRules appends rules after the highest priority so far', () => {
    const base = LifecyclePolicy.fromPolicyText(text([{ rulePriority: 7, selection: { tagStatus: 'tagged', tagPatternList: ['v*'], ...keep5 }, action: expire }]));
    const rendered = JSON.parse(base.withRules([{ tagStatus: ecr.TagStatus.UNTAGGED, maxImageCount: 50 }]).renderPolicyText());
    expect(rendered.rules.map((r: { rulePriority: number }) => r.rulePriority)).toEqual([7, 8]);
  });

  test('fails with every struct problem in one message, each naming the rule and field', () => {
    const policy = LifecyclePolicy.fromRules([
      { tagPatternList: ['a*'], maxImageCount: 3, maxImageAge: Duration.days(3) },
      { tagPatternList: ['b*'] },
      { tagPatternList: ['c*'], maxImageAge: Duration.hours(36) },
      { tagPatternList: ['d*'], maxTimeInArchive: Duration.days(30) },
      { tagStatus: ecr.TagStatus.UNTAGGED, tagPrefixList: ['x'], maxImageCount: 1 },
    ]);
    const problems = policy.validate();
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/^rules\[0\] \(rulePriority 1\): maxImageCount, maxImageAge: \[3,"3 days"\] is not allowed: exactly one of maxImageCount, maxImageAge, maxTimeSinceLastPull, maxTimeInArchive$/),
      expect.stringMatching(/^rules\[1\] \(rulePriority 2\): maxImageCount\/maxImageAge\/maxTimeSinceLastPull\/maxTimeInArchive: undefined is not allowed: exactly one of/),
      expect.stringMatching(/^rules\[2\] \(rulePriority 3\): maxImageAge: "1 day 12 hours" is not allowed: a whole number of days, at least 1$/),
      expect.stringMatching(/^rules\[3\] \(rulePriority 4\): selection.countNumber: 30 is not allowed: at least 90 with countType "sinceImageTransitioned"/),
      expect.stringMatching(/^rules\[4\] \(rulePriority 5\): selection.tagPrefixList: \["x"\] is not allowed: only allowed with tagStatus "tagged"/),
    ]));
    expect(problems).toHaveLength(5);
    expect(() => policy.renderPolicyText()).toThrow(/^Invalid lifecycle policy:\n {2}- rules\[0\]/);
  });

  test('a transition rule on pull age defaults to transition, and an expire on pull age is rejected', () => {
    expect(LifecyclePolicy.fromRules([{ maxTimeSinceLastPull: Duration.days(30) }]).validate()).toEqual([]);
    expect(LifecyclePolicy.fromRules([{ maxTimeSinceLastPull: Duration.days(30), action: LifecycleActionType.EXPIRE }]).validate())
      .toEqual([expect.stringContaining('action.type: "expire" is not allowed: "transition" with countType "sinceImagePulled"')]);
  });

  test('fails on an archive-class count rule: archived images are selected only by archive age', () => {
    expect(LifecyclePolicy.fromRules([{ storageClass: LifecycleStorageClass.ARCHIVE, maxImageCount: 3 }]).validate())
      .toEqual([expect.stringContaining('selection.storageClass: "archive" is not allowed: "standard" with countType "imageCountMoreThan"')]);
  });
});

describe('LifecyclePolicy.fromPolicyText validation', () => {
  test('accepts every documented example policy and renders it back unchanged in meaning', () => {
    const rules = [
      { rulePriority: 1, description: 'Archive images older than 30 days', selection: { tagStatus: 'any', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 30 }, action: archive },
      { rulePriority: 2, description: 'Expire images archived for more than 365 days', selection: { tagStatus: 'any', storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 365 }, action: expire },
    ];
    const policy = LifecyclePolicy.fromPolicyText(text(rules));
    expect(JSON.parse(policy.renderPolicyText())).toEqual({ rules });
    expect(policy.warnings()).toEqual([]);
  });

  test.each([
    ['duplicate priorities', [
      { rulePriority: 1, selection: { tagStatus: 'tagged', tagPrefixList: ['a'], ...keep5 }, action: expire },
      { rulePriority: 1, selection: { tagStatus: 'tagged', tagPrefixList: ['b'], ...keep5 }, action: expire },
    ], 'rules[0], rules[1]: rulePriority: 1 is not allowed: each rule needs its own rulePriority'],
    ['a fractional priority', [{ rulePriority: 1.5, selection: { tagStatus: 'any', ...keep5 }, action: expire }],
      'rules[0]: rulePriority: 1.5 is not allowed: a whole number of at least 1'],
    ['an any rule before another standard rule', [
      { rulePriority: 1, selection: { tagStatus: 'any', ...keep5 }, action: expire },
      { rulePriority: 2, selection: { tagStatus: 'untagged', ...keep5 }, action: expire },
    ], 'rules[0] (rulePriority 1): rulePriority: 1 is not allowed: a rule with tagStatus "any" must have the highest rulePriority of the standard storage class rules (highest is 2)'],
    ['two untagged rules on one storage class', [
      { rulePriority: 1, selection: { tagStatus: 'untagged', ...keep5 }, action: expire },
      { rulePriority: 2, selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 3 }, action: expire },
    ], 'rules[0] (rulePriority 1), rules[1] (rulePriority 2): selection.tagStatus: "untagged" is not allowed: only one rule of the standard storage class may select untagged images'],
    ['a tagged rule without a list', [{ rulePriority: 1, selection: { tagStatus: 'tagged', ...keep5 }, action: expire }],
      'rules[0] (rulePriority 1): selection.tagPrefixList/tagPatternList: undefined is not allowed: a tagged rule needs exactly one of tagPrefixList and tagPatternList'],
    ['a tagged rule with both lists', [{ rulePriority: 1, selection: { tagStatus: 'tagged', tagPrefixList: ['a'], tagPatternList: ['a*'], ...keep5 }, action: expire }],
      'a tagged rule takes only one of tagPrefixList and tagPatternList'],
    ['a pattern list on an any rule', [{ rulePriority: 1, selection: { tagStatus: 'any', tagPatternList: ['a*'], ...keep5 }, action: expire }],
      'rules[0] (rulePriority 1): selection.tagPatternList: ["a*"] is not allowed: only allowed with tagStatus "tagged" (this rule is "any")'],
    ['five wildcards in a pattern', [{ rulePriority: 1, selection: { tagStatus: 'tagged', tagPatternList: ['*test*1*2*3', 'test*1*2*3*4*5*6'], ...keep5 }, action: expire }],
      'rules[0] (rulePriority 1): selection.tagPatternList[1]: "test*1*2*3*4*5*6" is not allowed: at most 4 wildcards (*) per pattern; this one has 6'],
    ['an empty prefix list', [{ rulePriority: 1, selection: { tagStatus: 'tagged', tagPrefixList: [], ...keep5 }, action: expire }],
      'selection.tagPrefixList: [] is not allowed: a non-empty list of tag prefixes'],
    ['a prefix with a character tags cannot have', [{ rulePriority: 1, selection: { tagStatus: 'tagged', tagPrefixList: ['v 1'], ...keep5 }, action: expire }],
      'selection.tagPrefixList[0]: "v 1" is not allowed: a non-empty list of tag prefixes'],
    ['a countUnit on a count rule', [{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countUnit: 'days', countNumber: 5 }, action: expire }],
      'rules[0] (rulePriority 1): selection.countUnit: "days" is not allowed: only allowed with countType "sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned" (this rule is "imageCountMoreThan")'],
    ['an age rule without countUnit', [{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'sinceImagePushed', countNumber: 5 }, action: expire }],
      'rules[0] (rulePriority 1): selection.countUnit: undefined is not allowed: "days" (required with countType "sinceImagePushed")'],
    ['a countUnit other than days', [{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'sinceImagePushed', countUnit: 'hours', countNumber: 5 }, action: expire }],
      'selection.countUnit: "hours" is not allowed: "days"'],
    ['a zero countNumber', [{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 0 }, action: expire }],
      'rules[0] (rulePriority 1): selection.countNumber: 0 is not allowed: a whole number of at least 1'],
    ['a string countNumber', [{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: '5' }, action: expire }],
      'selection.countNumber: "5" is not allowed: a whole number of at least 1'],
    ['an unknown countType', [{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'sinceImageBuilt', countNumber: 5 }, action: expire }],
      'selection.countType: "sinceImageBuilt" is not allowed: one of "imageCountMoreThan", "sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned"'],
    ['an unknown tagStatus', [{ rulePriority: 1, selection: { tagStatus: 'TAGGED', tagPrefixList: ['a'], ...keep5 }, action: expire }],
      'selection.tagStatus: "TAGGED" is not allowed: one of "tagged", "untagged", "any"'],
    ['sinceImagePulled with expire', [{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'sinceImagePulled', countUnit: 'days', countNumber: 5 }, action: expire }],
      'action.type: "expire" is not allowed: "transition" with countType "sinceImagePulled"'],
    ['sinceImageTransitioned with transition', [{ rulePriority: 1, selection: { tagStatus: 'any', storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 90 }, action: archive }],
      'action.type: "transition" is not allowed: "expire" with countType "sinceImageTransitioned"'],
    ['sinceImageTransitioned on the standard class', [{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 90 }, action: expire }],
      'selection.storageClass: undefined is not allowed: "archive" (required with countType "sinceImageTransitioned")'],
    ['sinceImageTransitioned under 90 days', [{ rulePriority: 1, selection: { tagStatus: 'any', storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 89 }, action: expire }],
      'selection.countNumber: 89 is not allowed: at least 90 with countType "sinceImageTransitioned"'],
    ['a transition without a target', [{ rulePriority: 1, selection: { tagStatus: 'any', ...keep5 }, action: { type: 'transition' } }],
      'action.targetStorageClass: undefined is not allowed: "archive" (required with action type "transition")'],
    ['a target on an expire', [{ rulePriority: 1, selection: { tagStatus: 'any', ...keep5 }, action: { type: 'expire', targetStorageClass: 'archive' } }],
      'action.targetStorageClass: "archive" is not allowed: only allowed with action type "transition"'],
    ['an unknown action', [{ rulePriority: 1, selection: { tagStatus: 'any', ...keep5 }, action: { type: 'delete' } }],
      'action.type: "delete" is not allowed: one of "expire", "transition"'],
    ['an unknown selection field', [{ rulePriority: 1, selection: { tagStatus: 'any', ...keep5, tagSuffixList: ['x'] }, action: expire }],
      'selection.tagSuffixList: ["x"] is not allowed: not a selection field'],
    ['a rule that is not an object', ['rule one'], 'rules[0]: rule: "rule one" is not allowed: an object with rulePriority, selection and action'],
    ['an unknown rule field', [{ rulePriority: 1, selection: { tagStatus: 'any', ...keep5 }, action: expire, enabled: true }],
      'rules[0] (rulePriority 1): enabled: true is not allowed: not a rule field; a rule has rulePriority, description, selection, action'],
    ['a description that is not text', [{ rulePriority: 1, description: 7, selection: { tagStatus: 'any', ...keep5 }, action: expire }],
      'rules[0] (rulePriority 1): description: 7 is not allowed: a string'],
    ['a rule without selection or action', [{ rulePriority: 1 }],
      'rules[0] (rulePriority 1): selection: undefined is not allowed: an object with tagStatus, countType and countNumber'],
    ['an unknown action field', [{ rulePriority: 1, selection: { tagStatus: 'any', ...keep5 }, action: { type: 'expire', after: 3 } }],
      'rules[0] (rulePriority 1): action.after: 3 is not allowed: not an action field'],
    ['an unknown storage class', [{ rulePriority: 1, selection: { tagStatus: 'any', storageClass: 'glacier', ...keep5 }, action: expire }],
      'rules[0] (rulePriority 1): selection.storageClass: "glacier" is not allowed: one of "standard", "archive"'],
    ['the same prefix set twice in one storage class', [
      { rulePriority: 1, selection: { tagStatus: 'tagged', tagPrefixList: ['a', 'b'], ...keep5 }, action: expire },
      { rulePriority: 2, selection: { tagStatus: 'tagged', tagPrefixList: ['b', 'a'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 9 }, action: expire },
    ], 'rules[1] (rulePriority 2): selection.tagPrefixList: ["b","a"] is not allowed: the standard storage class rules need distinct prefix sets (rules[0] (rulePriority 1) has the same)'],
  ])('fails on %s', (_title, rules, message) => {
    expect(errorsOf(rules)).toContain(message);
  });

  test('fails with all problems of all rules in one message', () => {
    const message = errorsOf([
      { rulePriority: 1, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 0 }, action: expire },
      { rulePriority: 1, selection: { tagStatus: 'untagged', countType: 'sinceImagePulled', countUnit: 'days', countNumber: 3 }, action: expire },
    ]);
    expect(message.split('\n')[0]).toBe('Invalid lifecycle policy:');
    expect(message).toContain('rules[0] (rulePriority 1): selection.countNumber: 0');
    expect(message).toContain('rules[1] (rulePriority 1): action.type: "expire"');
    expect(message).toContain('rules[0], rules[1]: rulePriority: 1');
  });

  test.each([
    ['text that is not JSON', '{"rules": [', 'is not allowed: valid JSON'],
    ['a policy without rules', JSON.stringify({ rules: [] }).padEnd(120, ' '), 'rules: [] is not allowed: a list of at least one rule'],
    ['text shorter than 100 characters', '{"rules":[]}', 'policy text: 12 characters is not allowed: 100 to 30720 characters'],
    ['text longer than 30,720 characters', text(Array.from({ length: 200 }, (_, i) => ({
      rulePriority: i + 1, description: 'x'.repeat(100), selection: { tagStatus: 'tagged', tagPrefixList: [`p${i}`], ...keep5 }, action: expire,
    }))), 'characters is not allowed: 100 to 30720 characters'],
    ['a policy that is a list', JSON.stringify([{ rulePriority: 1 }]).padEnd(120, ' '), 'policy: [{"rulePriority":1}] is not allowed: a JSON object with a "rules" list'],
    ['an extra top-level field', JSON.stringify({ rules: [{ rulePriority: 1, selection: { tagStatus: 'any', ...keep5 }, action: expire }], version: 2 }, null, 2),
      'policy.version: 2 is not allowed: the policy has only a "rules" list'],
  ])('fails on %s', (_title, policyText, message) => {
    expect(() => LifecyclePolicy.fromPolicyText(policyText)).toThrow(message);
  });

  test('fails when rules rendered from structs exceed ECR\'s text limit', () => {
    const policy = LifecyclePolicy.fromRules(Array.from({ length: 120 }, (_, i) => ({ description: 'd'.repeat(200), tagPrefixList: [`p${i}`], maxImageCount: 1 })));
    expect(policy.validate()).toEqual([expect.stringMatching(/^policy text: \d+ characters is not allowed: 100 to 30720 characters/)]);
  });
});

describe('LifecyclePolicy warnings', () => {
  test.each([
    ['a tagged rule after a * pattern rule', [
      { rulePriority: 1, selection: { tagStatus: 'tagged', tagPatternList: ['*'], ...keep5 }, action: expire },
      { rulePriority: 2, selection: { tagStatus: 'tagged', tagPatternList: ['v*'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 3 }, action: expire },
    ], 'rules[1] (rulePriority 2) can never act: rules[0] (rulePriority 1) already selects every image it selects'],
    ['a longer prefix after a shorter one', [
      { rulePriority: 1, selection: { tagStatus: 'tagged', tagPrefixList: ['rel'], ...keep5 }, action: expire },
      { rulePriority: 2, selection: { tagStatus: 'tagged', tagPrefixList: ['release', 'x'], ...keep5 }, action: expire },
    ], 'rules[1] (rulePriority 2) can never act'],
    ['an any rule after rules owning every tagged and every untagged image', [
      { rulePriority: 1, selection: { tagStatus: 'tagged', tagPatternList: ['*'], ...keep5 }, action: expire },
      { rulePriority: 2, selection: { tagStatus: 'untagged', ...keep5 }, action: expire },
      { rulePriority: 3, selection: { tagStatus: 'any', ...keep5 }, action: expire },
    ], 'rules[2] (rulePriority 3) can never act: rules[0] (rulePriority 1) owns every tagged image and rules[1] (rulePriority 2) every untagged one'],
  ])('warns about %s', (_title, rules, warning) => {
    const policy = LifecyclePolicy.fromPolicyText(text(rules));
    expect(policy.warnings()).toEqual([expect.stringContaining(warning)]);
  });

  test('does not warn about rules that select images no earlier rule owns', () => {
    const policy = LifecyclePolicy.fromPolicyText(text([
      { rulePriority: 1, selection: { tagStatus: 'tagged', tagPrefixList: ['release'], ...keep5 }, action: expire },
      { rulePriority: 2, selection: { tagStatus: 'tagged', tagPrefixList: ['rel'], ...keep5 }, action: expire },
      { rulePriority: 3, selection: { tagStatus: 'tagged', tagPatternList: ['*-rc*'], ...keep5 }, action: expire },
      { rulePriority: 4, selection: { tagStatus: 'any', ...keep5 }, action: expire },
    ]));
    expect(policy.warnings()).toEqual([]);
  });
});

describe('documented usage', () => {
  test('the example policy of the lifecycle guide is valid and renders its rules in order', () => {
    const policy = LifecyclePolicy.fromRules([
      { description: 'releases', tagPatternList: ['v*'], maxImageCount: 30 },
      { tagPatternList: ['pr-*'], maxImageAge: Duration.days(7), action: LifecycleActionType.TRANSITION },
      { tagStatus: ecr.TagStatus.UNTAGGED, maxImageCount: 100 },
      { maxTimeSinceLastPull: Duration.days(90) },
      { maxTimeInArchive: Duration.days(365) },
    ]);
    expect(policy.validate()).toEqual([]);
    expect(policy.warnings()).toEqual([]);
    expect(JSON.parse(policy.renderPolicyText()).rules.map((r: any) => [r.selection.countType, r.action.type, r.selection.storageClass ?? 'standard']))
      .toEqual([
        ['imageCountMoreThan', 'expire', 'standard'],
        ['sinceImagePushed', 'transition', 'standard'],
        ['imageCountMoreThan', 'expire', 'standard'],
        ['sinceImagePulled', 'transition', 'standard'],
        ['sinceImageTransitioned', 'expire', 'archive'],
      ]);
  });
});

describe('LifecyclePolicy tokens', () => {
  test('fails on tokens in rules: the policy text is rendered at synth time', () => {
    const policy = LifecyclePolicy.fromRules([
      { rulePriority: Lazy.number({ produce: () => 1 }), maxImageCount: Lazy.number({ produce: () => 5 }), tagPatternList: ['a*'] },
      { maxImageAge: Duration.days(Lazy.number({ produce: () => 5 })), tagPatternList: ['b*'] },
    ]);
    expect(policy.validate()).toEqual([
      expect.stringContaining('rules[0]: rulePriority: "<token>" is not allowed: a concrete whole number'),
      expect.stringContaining('rules[0]: maxImageCount: "<token>" is not allowed: a concrete whole number'),
      expect.stringContaining('rules[1] (rulePriority 2): maxImageAge: "<token>" is not allowed: a concrete Duration of whole days'),
    ]);
  });
});
