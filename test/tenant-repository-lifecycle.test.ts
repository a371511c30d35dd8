import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { LifecyclePolicy } from '../src/lifecycle/policy';
import { LifecycleActionType } from '../src/lifecycle/rules';
import { TenantRepository } from '../src/tenant-repository';

function stack(): Stack {
  return new Stack(new App(), 'Tenant', { env: { account: '111122223333', region: 'eu-west-1' } });
}

function lifecycleOf(s: Stack): { rules: any[] } | undefined {
  const repos = Template.fromStack(s).findResources('AWS::ECR::Repository');
  const [id] = Object.keys(repos);
  const text = repos[id].Properties.LifecyclePolicy?.LifecyclePolicyText;
  return text === undefined ? undefined : JSON.parse(text);
}

describe('TenantRepository lifecycle', () => {
  test('has no lifecycle policy unless rules are given', () => {
    const s = stack();
    new TenantRepository(s, 'Repo');
    expect(lifecycleOf(s)).toBeUndefined();
  });

  test('renders lifecycleRules and rules added later, in order, with archive and pull-based rules', () => {
    const s = stack();
    const repo = new TenantRepository(s, 'Repo', {
      lifecycleRules: [{ tagPatternList: ['pr-*'], maxImageAge: Duration.days(14) }],
    });
    repo.addLifecycleRule({ tagStatus: ecr.TagStatus.ANY, maxTimeSinceLastPull: Duration.days(180) });
    repo.addLifecycleRule({ maxTimeInArchive: Duration.days(365) });
    expect(lifecycleOf(s)).toEqual({
      rules: [
        { rulePriority: 1, selection: { tagStatus: 'tagged', tagPatternList: ['pr-*'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 14 }, action: { type: 'expire' } },
        { rulePriority: 2, selection: { tagStatus: 'any', countType: 'sinceImagePulled', countUnit: 'days', countNumber: 180 }, action: { type: 'transition', targetStorageClass: 'archive' } },
        { rulePriority: 3, selection: { tagStatus: 'any', storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 365 }, action: { type: 'expire' } },
      ],
    });
  });

  test('lifecyclePolicy() shows the rules in evaluation order: the policy\'s, the configured, then the added', () => {
    const s = stack();
    const base = LifecyclePolicy.fromRules([{ description: 'base', tagPatternList: ['v*'], maxImageCount: 50 }]);
    const repo = new TenantRepository(s, 'Repo', { lifecyclePolicy: base, lifecycleRules: [{ description: 'configured', tagPatternList: ['pr-*'], maxImageCount: 5 }] });
    repo.addLifecycleRule({ description: 'added', tagStatus: ecr.TagStatus.UNTAGGED, maxImageCount: 10 });
    expect(JSON.parse(repo.lifecyclePolicy()!.renderPolicyText()).rules.map((r: any) => [r.rulePriority, r.description])).toEqual([
      [1, 'base'], [2, 'configured'], [3, 'added'],
    ]);
  });

  test('addLifecycleRule alone gives the repository a lifecycle policy', () => {
    const s = stack();
    const repo = new TenantRepository(s, 'Repo');
    repo.addLifecycleRule({ tagStatus: ecr.TagStatus.UNTAGGED, maxImageCount: 10 });
    expect(lifecycleOf(s)?.rules).toHaveLength(1);
  });

  test('a lifecyclePolicy from text keeps its priorities and takes rules after it', () => {
    const s = stack();
    const policy = LifecyclePolicy.fromPolicyText(JSON.stringify({
      rules: [{ rulePriority: 10, selection: { tagStatus: 'tagged', tagPatternList: ['v*'], countType: 'imageCountMoreThan', countNumber: 50 }, action: { type: 'expire' } }],
    }));
    const repo = new TenantRepository(s, 'Repo', { lifecyclePolicy: policy });
    repo.addLifecycleRule({ tagStatus: ecr.TagStatus.UNTAGGED, maxImageAge: Duration.days(3) });
    expect(lifecycleOf(s)?.rules.map((r) => r.rulePriority)).toEqual([10, 11]);
  });

  test('fails at synth naming every problem of the lifecycle rules', () => {
    const s = stack();
    const repo = new TenantRepository(s, 'Repo');
    repo.addLifecycleRule({ maxImageCount: 3 });
    repo.addLifecycleRule({ tagStatus: ecr.TagStatus.UNTAGGED, maxTimeSinceLastPull: Duration.days(3), action: LifecycleActionType.EXPIRE });
    let message = '';
    try {
      Template.fromStack(s);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('Invalid TenantRepository lifecycle policy: rules[0] (rulePriority 1): rulePriority: 1 is not allowed: a rule with tagStatus "any" must have the highest rulePriority');
    expect(message).toContain('Invalid TenantRepository lifecycle policy: rules[1] (rulePriority 2): action.type: "expire" is not allowed');
  });

  test('warns about a rule that can never act', () => {
    const s = stack();
    new TenantRepository(s, 'Repo', {
      lifecycleRules: [{ tagPrefixList: ['v'], maxImageCount: 5 }, { tagPrefixList: ['v1'], maxImageCount: 1 }],
    });
    Annotations.fromStack(s).hasWarning('/Tenant/Repo', Match.stringLikeRegexp('rules\\[1\\] \\(rulePriority 2\\) can never act'));
  });
});
