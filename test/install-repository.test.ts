import { App, CfnParameter, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import { generateHistory, imagesOf } from './support/release-history';
import { ImageSource } from '../src/image-source';
import { ImageSync } from '../src/image-sync';
import { ImageSyncDestination } from '../src/image-sync-destination';
import { InstallRepository, InstallRepositoryProps } from '../src/install-repository';
import { LifecyclePolicy } from '../src/lifecycle/policy';
import { LifecycleActionType } from '../src/lifecycle/rules';
import { ECR_IMAGE_WRITE_ACTIONS } from '../src/private/perms';

function stack(): Stack {
  return new Stack(new App(), 'Install', { env: { account: '111122223333', region: 'eu-west-1' } });
}

function repositoryProps(s: Stack): Record<string, any> {
  const repos = Template.fromStack(s).findResources('AWS::ECR::Repository');
  const ids = Object.keys(repos);
  expect(ids).toHaveLength(1);
  return repos[ids[0]].Properties;
}

function lifecycleOf(s: Stack): { rules: any[] } {
  return JSON.parse(repositoryProps(s).LifecyclePolicy.LifecyclePolicyText);
}

function role(s: Stack, id: string): iam.Role {
  return new iam.Role(s, id, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
}

describe('InstallRepository', () => {
  test('defaults: immutable tags but the signature tags, scan on push, AES256, retained, default lifecycle policy', () => {
    const s = stack();
    new InstallRepository(s, 'Repo');
    const template = Template.fromStack(s);
    template.hasResource('AWS::ECR::Repository', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        ImageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
        ImageTagMutabilityExclusionFilters: [{ ImageTagMutabilityExclusionFilterType: 'WILDCARD', ImageTagMutabilityExclusionFilterValue: 'sha256-*' }],
        ImageScanningConfiguration: { ScanOnPush: true },
        EncryptionConfiguration: { EncryptionType: 'AES256' },
      }),
    });
    expect(lifecycleOf(s)).toEqual({
      rules: [
        {
          rulePriority: 1,
          description: 'Keep the 300 newest signature and attestation tags (sha256-*)',
          selection: { tagStatus: 'tagged', tagPatternList: ['sha256-*'], countType: 'imageCountMoreThan', countNumber: 300 },
          action: { type: 'expire' },
        },
        {
          rulePriority: 2,
          description: 'Keep the 30 newest tagged images',
          selection: { tagStatus: 'tagged', tagPatternList: ['*'], countType: 'imageCountMoreThan', countNumber: 30 },
          action: { type: 'expire' },
        },
        {
          rulePriority: 3,
          description: 'Keep the 300 newest untagged images (platform manifests, referrers)',
          selection: { tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 300 },
          action: { type: 'expire' },
        },
      ],
    });
  });

  test('the default lifecycle policy never expires by age: a release running for years stays', () => {
    const policy = LifecyclePolicy.fromRules(InstallRepository.defaultLifecycleRules(2));
    const now = new Date('2030-01-01T00:00:00Z');
    const old = new Date('2026-01-01T00:00:00Z');
    const images = [
      { imageDigest: `sha256:${'1'.repeat(64)}`, imageTags: ['v1'], imagePushedAt: old },
      { imageDigest: `sha256:${'2'.repeat(64)}`, imagePushedAt: old },
    ];
    expect(policy.preview(images, now)).toEqual([]);
  });

  test('the default lifecycle policy expires releases only when newer releases push them out', () => {
    const policy = LifecyclePolicy.fromRules(InstallRepository.defaultLifecycleRules(2, 3));
    const at = (day: number) => new Date(Date.UTC(2026, 0, day));
    const images = [
      { imageDigest: `sha256:${'1'.repeat(64)}`, imageTags: ['v1'], imagePushedAt: at(1) },
      { imageDigest: `sha256:${'2'.repeat(64)}`, imageTags: ['v2'], imagePushedAt: at(2) },
      { imageDigest: `sha256:${'3'.repeat(64)}`, imageTags: ['v3'], imagePushedAt: at(3) },
      ...[4, 5, 6, 7].map((d) => ({ imageDigest: `sha256:${String(d).repeat(64)}`, imagePushedAt: at(d) })),
    ];
    expect(policy.preview(images, at(30)).map((r) => [r.imageDigest.slice(7, 8), r.appliedRulePriority])).toEqual([['1', 2], ['4', 3]]);
  });

  test('with the default policy, nothing a kept multi-arch, signed release consists of is expired', () => {
    // Each release: 2 platform manifests, an attestation manifest, the tagged index, a signature.
    const policy = LifecyclePolicy.fromRules(InstallRepository.defaultLifecycleRules());
    const digest = (release: number, part: number) => `sha256:${release.toString(16).padStart(8, '0')}${String(part).repeat(56)}`;
    const images = [];
    const start = Date.UTC(2026, 0, 1);
    for (let release = 1; release <= 100; release++) {
      const t = (part: number) => new Date(start + release * 86_400_000 + part * 1000);
      images.push(
        { imageDigest: digest(release, 1), imagePushedAt: t(1) },
        { imageDigest: digest(release, 2), imagePushedAt: t(2) },
        { imageDigest: digest(release, 3), imagePushedAt: t(3) },
        { imageDigest: digest(release, 4), imageTags: [`v${release}`], imagePushedAt: t(4) },
        { imageDigest: digest(release, 5), imagePushedAt: t(5) },
      );
    }
    const results = policy.preview(images, new Date(Date.UTC(2030, 0, 1)));
    const releaseOf = (d: string) => parseInt(d.slice(7, 15), 16);
    const expiredTagged = results.filter((r) => r.imageTags.length > 0).map((r) => releaseOf(r.imageDigest));
    const expiredUntagged = results.filter((r) => r.imageTags.length === 0).map((r) => releaseOf(r.imageDigest));
    expect(expiredTagged).toEqual(Array.from({ length: 70 }, (_, i) => i + 1));
    // 400 untagged images, 300 kept: the oldest 100 are those of releases 1-25, all expired releases.
    expect(expiredUntagged).toHaveLength(100);
    expect(Math.max(...expiredUntagged)).toBe(25);
  });

  test('sizes the default policy with maxReleaseCount and maxUntaggedImageCount', () => {
    const s = stack();
    new InstallRepository(s, 'Repo', { maxReleaseCount: 5, maxUntaggedImageCount: 40 });
    expect(lifecycleOf(s).rules.map((r) => r.selection.countNumber)).toEqual([40, 5, 40]);
  });

  test('a KMS key, mutable tag patterns and an emptied, destroyed repository', () => {
    const s = stack();
    const key = new kms.Key(s, 'Key');
    new InstallRepository(s, 'Repo', {
      encryptionKey: key, mutableTagPatterns: ['latest', 'dev-*'], removalPolicy: RemovalPolicy.DESTROY, emptyOnDelete: true, imageScanOnPush: false,
    });
    Template.fromStack(s).hasResource('AWS::ECR::Repository', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({
        EncryptionConfiguration: { EncryptionType: 'KMS', KmsKey: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] } },
        ImageTagMutability: 'IMMUTABLE_WITH_EXCLUSION',
        ImageTagMutabilityExclusionFilters: [
          { ImageTagMutabilityExclusionFilterType: 'WILDCARD', ImageTagMutabilityExclusionFilterValue: 'latest' },
          { ImageTagMutabilityExclusionFilterType: 'WILDCARD', ImageTagMutabilityExclusionFilterValue: 'dev-*' },
          { ImageTagMutabilityExclusionFilterType: 'WILDCARD', ImageTagMutabilityExclusionFilterValue: 'sha256-*' },
        ],
        EmptyOnDelete: true,
        ImageScanningConfiguration: { ScanOnPush: false },
      }),
    });
  });

  test('lifecycleRules and addLifecycleRule replace the default policy, in listed order', () => {
    const s = stack();
    const repo = new InstallRepository(s, 'Repo', {
      lifecycleRules: [{ tagPatternList: ['v*'], maxImageCount: 10 }],
    });
    repo.addLifecycleRule({ maxTimeSinceLastPull: Duration.days(60) });
    repo.addLifecycleRule({ maxTimeInArchive: Duration.days(180) });
    expect(lifecycleOf(s).rules.map((r) => [r.rulePriority, r.selection.countType, r.action.type])).toEqual([
      [1, 'imageCountMoreThan', 'expire'],
      [2, 'sinceImagePulled', 'transition'],
      [3, 'sinceImageTransitioned', 'expire'],
    ]);
  });

  test('an empty lifecycleRules list turns lifecycle management off', () => {
    const s = stack();
    const repo = new InstallRepository(s, 'Repo', { lifecycleRules: [] });
    expect(repositoryProps(s).LifecyclePolicy).toBeUndefined();
    expect(repo.lifecyclePolicy()).toBeUndefined();
  });

  test('addLifecycleRule on the default policy is evaluated before the default rules', () => {
    const s = stack();
    const repo = new InstallRepository(s, 'Repo');
    repo.addLifecycleRule({ tagPatternList: ['pr-*'], maxImageAge: Duration.days(7) });
    expect(lifecycleOf(s).rules.map((r) => [r.rulePriority, r.selection.tagPatternList ?? r.selection.tagStatus])).toEqual([
      [1, ['pr-*']],
      [2, ['sha256-*']],
      [3, ['*']],
      [4, 'untagged'],
    ]);
  });

  test('a lifecyclePolicy from text is rendered with the added rules after it', () => {
    const s = stack();
    const policy = LifecyclePolicy.fromPolicyText(JSON.stringify({
      rules: [{ rulePriority: 5, selection: { tagStatus: 'tagged', tagPrefixList: ['v'], countType: 'imageCountMoreThan', countNumber: 3 }, action: { type: 'expire' } }],
    }));
    const repo = new InstallRepository(s, 'Repo', { lifecyclePolicy: policy });
    repo.addLifecycleRule({ tagStatus: ecr.TagStatus.ANY, maxImageAge: Duration.days(400), action: LifecycleActionType.TRANSITION });
    expect(lifecycleOf(s).rules.map((r) => r.rulePriority)).toEqual([5, 6]);
  });

  test('fails at synth with every lifecycle problem in one message', () => {
    const s = stack();
    const repo = new InstallRepository(s, 'Repo', { lifecycleRules: [{ maxImageCount: 0 }] });
    repo.addLifecycleRule({ tagStatus: ecr.TagStatus.UNTAGGED, maxTimeSinceLastPull: Duration.days(3), action: LifecycleActionType.EXPIRE });
    expect(() => Template.fromStack(s)).toThrow(/Invalid InstallRepository lifecycle policy: rules\[0\] \(rulePriority 1\): selection.countNumber: 0[\s\S]*Invalid InstallRepository lifecycle policy: rules\[1\] \(rulePriority 2\): action.type: "expire"/);
  });

  test('warns about lifecycle rules that can never act', () => {
    const s = stack();
    const repo = new InstallRepository(s, 'Repo');
    repo.addLifecycleRule({ tagPatternList: ['*'], maxImageCount: 100 });
    Annotations.fromStack(s).hasWarning('/Install/Repo', Match.stringLikeRegexp('Lifecycle rule rules\\[1\\] \\(rulePriority 2\\) can never act'));
  });

  test('fails with every prop problem in one message', () => {
    const s = stack();
    expect(() => new InstallRepository(s, 'Repo', {
      repositoryName: 'Bad_Name',
      mutableTagPatterns: ['ok', 'no spaces'],
      emptyOnDelete: true,
      lifecycleRules: [],
      maxReleaseCount: 3,
    })).toThrow(new RegExp([
      'Invalid InstallRepository props:',
      '  - repositoryName: "Bad_Name" is not allowed: .*',
      '  - mutableTagPatterns\\[1\\]: "no spaces" is not allowed: .*',
      '  - emptyOnDelete: true is not allowed: true only with removalPolicy RemovalPolicy.DESTROY \\(removalPolicy is RETAIN\\)',
      '  - maxReleaseCount: 3 is not allowed: only without lifecyclePolicy and lifecycleRules',
    ].join('\n')));
  });

  test('fails on a maxReleaseCount that is not a whole number of at least 1', () => {
    expect(() => new InstallRepository(stack(), 'Repo', { maxReleaseCount: 0.5 })).toThrow('maxReleaseCount: 0.5 is not allowed: a concrete whole number of at least 1');
  });

  test('without writers the repository policy denies image writes to everyone', () => {
    const s = stack();
    new InstallRepository(s, 'Repo');
    expect(repositoryProps(s).RepositoryPolicyText).toEqual({
      Version: '2012-10-17',
      Statement: [{ Sid: 'DenyImageWritesExceptSyncWriters', Effect: 'Deny', Principal: { AWS: '*' }, Action: ECR_IMAGE_WRITE_ACTIONS }],
    });
  });

  test('grantPush grants push and exempts only the granted writers from the write Deny, even when granted after use', () => {
    const s = stack();
    const repo = new InstallRepository(s, 'Repo');
    const writer = role(s, 'Writer');
    const other = new iam.User(s, 'Uploader');
    repo.grantPush(writer);
    repo.grantPush(writer);
    repo.grantPush(other);
    const statement = repositoryProps(s).RepositoryPolicyText.Statement[0];
    expect(statement.Condition).toEqual({
      ArnNotEquals: { 'aws:PrincipalArn': [{ 'Fn::GetAtt': [expect.stringMatching(/^Writer/), 'Arn'] }, { 'Fn::GetAtt': [expect.stringMatching(/^Uploader/), 'Arn'] }] },
    });
    Template.fromStack(s).hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Writer') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: [
              'ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage',
              'ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:CompleteLayerUpload', 'ecr:PutImage',
            ],
            Effect: 'Allow',
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Repo'), 'Arn'] },
          }),
          Match.objectLike({ Action: 'ecr:GetAuthorizationToken', Effect: 'Allow', Resource: '*' }),
        ]),
      },
    });
  });

  test('grantPush of a Lambda function exempts its execution role', () => {
    const s = stack();
    const repo = new InstallRepository(s, 'Repo');
    const fn = new lambda.Function(s, 'Sync', { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => {}') });
    repo.grantPush(fn);
    expect(repositoryProps(s).RepositoryPolicyText.Statement[0].Condition).toEqual({
      ArnNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': [expect.stringMatching(/^SyncServiceRole/), 'Arn'] } },
    });
  });

  test('fails on grantPush of a principal that is not a role or user', () => {
    const repo = new InstallRepository(stack(), 'Repo');
    expect(() => repo.grantPush(new iam.AccountPrincipal('444455556666'))).toThrow(/grantPush grantee: .* is not allowed: an IAM role or user/);
  });

  test('grantPullPush and a grant of an image-write action make the grantee a writer; reads and pulls do not', () => {
    const s = stack();
    const repo = new InstallRepository(s, 'Repo');
    repo.grantPullPush(role(s, 'Both'));
    repo.grant(role(s, 'Deleter'), 'ecr:DescribeImages', 'ecr:BatchDeleteImage');
    repo.grant(role(s, 'Describer'), 'ecr:DescribeImages');
    repo.grantRead(role(s, 'Reader'));
    repo.grantPull(role(s, 'Puller'));
    expect(repositoryProps(s).RepositoryPolicyText.Statement[0].Condition).toEqual({
      ArnNotEquals: { 'aws:PrincipalArn': [{ 'Fn::GetAtt': [expect.stringMatching(/^Both/), 'Arn'] }, { 'Fn::GetAtt': [expect.stringMatching(/^Deleter/), 'Arn'] }] },
    });
    Template.fromStack(s).hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Reader') }],
      PolicyDocument: { Statement: [{ Action: ['ecr:DescribeRepositories', 'ecr:DescribeImages'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Repo'), 'Arn'] } }] },
    });
  });

  test('is an ecr.IRepository: aws-cdk-lib\'s ContainerImage.fromEcrRepository takes it and grants pull', () => {
    const s = stack();
    const repo = new InstallRepository(s, 'Repo');
    const task = new ecs.FargateTaskDefinition(s, 'Task');
    task.addContainer('app', { image: ecs.ContainerImage.fromEcrRepository(repo, 'v1') });
    const template = Template.fromStack(s);
    const container = (Object.values(template.findResources('AWS::ECS::TaskDefinition'))[0] as any).Properties.ContainerDefinitions[0];

    expect(JSON.stringify(container.Image)).toMatch(/"\/",\{"Ref":"Repo[0-9A-F]+"\},":v1"/);
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^TaskExecutionRole') }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: Match.arrayWith(['ecr:BatchGetImage']), Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Repo'), 'Arn'] } })]) },
    });
    expect(repositoryProps(s).RepositoryPolicyText.Statement[0].Condition).toBeUndefined();
  });

  test('imports a repository by name or by attributes, validating them', () => {
    const s = stack();
    const byName = InstallRepository.fromRepositoryName(s, 'ByName', 'acme/app');
    const byAttrs = InstallRepository.fromRepositoryAttributes(s, 'ByAttrs', { repositoryName: 'acme/web', repositoryArn: 'arn:aws:ecr:eu-west-1:111122223333:repository/acme/web' });
    expect(byName.repositoryName).toBe('acme/app');
    expect(byAttrs.repositoryArn).toBe('arn:aws:ecr:eu-west-1:111122223333:repository/acme/web');
    expect(() => InstallRepository.fromRepositoryName(s, 'Bad', 'Bad Name'))
      .toThrow('Invalid InstallRepository.fromRepositoryName props:\n  - repositoryName: "Bad Name" is not allowed');
  });

  test('applies a removal policy to its repository', () => {
    const s = stack();
    new InstallRepository(s, 'Repo').applyRemovalPolicy(RemovalPolicy.DESTROY);
    Template.fromStack(s).hasResource('AWS::ECR::Repository', { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
  });

  test('grantPull grants pull on the repository and the registry token', () => {
    const s = stack();
    const repo = new InstallRepository(s, 'Repo');
    repo.grantPull(role(s, 'Task'));
    Template.fromStack(s).hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Task') }],
      PolicyDocument: {
        Statement: [
          { Action: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Repo'), 'Arn'] } },
          { Action: 'ecr:GetAuthorizationToken', Effect: 'Allow', Resource: '*' },
        ],
      },
    });
  });

  test('exposes the repository and its name, ARN and URI', () => {
    const s = stack();
    const repo = new InstallRepository(s, 'Repo', { repositoryName: 'acme/app' });
    expect(s.resolve(repo.repositoryName)).toEqual({ Ref: expect.stringMatching(/^Repo/) });
    expect(s.resolve(repo.repositoryArn)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^Repo/), 'Arn'] });
    expect(JSON.stringify(s.resolve(repo.repositoryUri))).toMatch(/\.dkr\.ecr\..*"\/",\{"Ref":"Repo[0-9A-F]+"\}/);
    expect(repo.repository.repositoryArn).toBe(repo.repositoryArn);
  });

  test('a stack using it passes cdk-nag AwsSolutions', () => {
    const s = stack();
    const repo = new InstallRepository(s, 'Repo', { encryptionKey: new kms.Key(s, 'Key', { enableKeyRotation: true }) });
    repo.grantPush(role(s, 'Writer'));
    repo.grantPull(role(s, 'Task'));
    const result = new AwsSolutionsChecks().validateScope(s);
    expect(result.violations).toEqual([]);
    expect(result.success).toBe(true);
  });
});

describe('InstallRepository release families', () => {
  const TWO_YEARS = { start: new Date('2024-06-01T00:00:00Z'), days: 730 };

  /** An install stack whose syncs point at `live` (component to version). */
  function install(live: Record<string, string>, props: InstallRepositoryProps = {}): { stack: Stack; repo: InstallRepository } {
    const s = stack();
    const repo = new InstallRepository(s, 'Artifacts', props);
    for (const [component, version] of Object.entries(live)) {
      new ImageSync(s, `Sync-${component}`, {
        source: ImageSource.fromRegistry(`ghcr.io/acme/${component}:${version}`),
        destination: ImageSyncDestination.fromInstallRepository(repo),
        component,
      });
    }
    return { stack: s, repo };
  }

  /** The lifecycle policy text the template carries, as ECR would receive it. */
  function policyText(s: Stack): string {
    return repositoryProps(s).LifecyclePolicy.LifecyclePolicyText;
  }

  const history = generateHistory({
    ...TWO_YEARS,
    components: [{ component: 'api', releases: 60, multiArch: true }, { component: 'web', releases: 48, multiArch: true }, { component: 'worker', releases: 36 }],
    syncedOnce: { proxy: '1.27-alpine' },
  });
  // Deployed: the newest web and worker, the proxy synced on day one, and api rolled back from 1.59.0 to 1.20.0.
  const LIVE = { api: '1.20.0', web: '1.47.0', worker: '1.35.0', proxy: '1.27-alpine' };
  const liveReleases = Object.entries(LIVE).map(([c, v]) => history.release(`${c}_${v}`));

  test('renders a protect rule per live release first, then a keep rule per component, then the catch-all rules', () => {
    const { stack: s } = install({ web: '1.0.0', api: '2.1.0' });
    const rules = JSON.parse(policyText(s)).rules;
    expect(rules.map((r: any) => [r.rulePriority, r.selection.tagPatternList ?? r.selection.tagStatus, r.selection.countNumber])).toEqual([
      [1, ['api_2.1.0'], 1],
      [2, ['web_1.0.0'], 1],
      [3, ['api_*'], 30],
      [4, ['web_*'], 30],
      [5, ['sha256-*'], 600],
      [6, ['*'], 30],
      [7, 'untagged', 600],
    ]);
  });

  test('on a two-year history of three components and a third-party image, expires old releases and nothing deployed', () => {
    const { stack: s } = install(LIVE);
    const results = LifecyclePolicy.fromPolicyText(policyText(s)).preview(history.images, history.now);
    const expired = results.map((r) => r.imageDigest).sort();

    expect(results.every((r) => r.action.type === LifecycleActionType.EXPIRE)).toBe(true);
    for (const release of liveReleases) {
      expect(expired).not.toEqual(expect.arrayContaining([release.digest]));
      release.children.forEach((child) => expect(expired).not.toContain(child));
    }
    // Per component, everything but the 30 newest and the live release: api 60 - 30 - the rolled-back one, web 48 - 30.
    const expectedTagged = ['api', 'web', 'worker'].flatMap((c) => history.releasesOf(c).slice(0, -30))
      .filter((r) => !liveReleases.includes(r)).map((r) => r.digest).sort();
    expect(results.filter((r) => r.imageTags.length > 0).map((r) => r.imageDigest).sort()).toEqual(expectedTagged);
    expect(expectedTagged).toHaveLength(29 + 18 + 6);
    // 432 untagged manifests stay under the untagged budget (10 x 30 x 4 components): none is expired yet.
    expect(results.filter((r) => r.imageTags.length === 0)).toEqual([]);
  });

  test('with a small untagged budget, expires the manifests of expired releases but never those an index still lists', () => {
    const { stack: s } = install(LIVE, { maxReleaseCount: 10, maxUntaggedImageCount: 40 });
    const results = LifecyclePolicy.fromPolicyText(policyText(s)).preview(history.images, history.now);
    const expired = new Set(results.map((r) => r.imageDigest));
    const kept = history.releases.filter((r) => !expired.has(r.digest));

    // The rolled-back api 1.20.0 is the oldest image of its family: still kept, with its manifests.
    expect(kept.map((r) => r.tag)).toEqual(expect.arrayContaining(Object.entries(LIVE).map(([c, v]) => `${c}_${v}`)));
    expect(kept).toHaveLength(10 + 1 + 10 + 10 + 1);
    kept.forEach((release) => release.children.forEach((child) => expect(expired.has(child)).toBe(false)));
    const expiredChildren = history.releases.filter((r) => expired.has(r.digest)).flatMap((r) => r.children).filter((c) => expired.has(c));
    expect(expiredChildren.length).toBeGreaterThan(300);
    // Without the references, the same rule would have listed the live rolled-back release's manifests.
    const blind = LifecyclePolicy.fromPolicyText(policyText(s))
      .preview(history.images.map(({ referencedBy, ...image }) => image), history.now).map((r) => r.imageDigest);
    expect(blind).toEqual(expect.arrayContaining(history.release('api_1.20.0').children));
  });

  test('the former repository-wide default would expire the third-party image and the rolled-back release', () => {
    const results = LifecyclePolicy.fromRules(InstallRepository.defaultLifecycleRules()).preview(history.images, history.now);
    const expired = results.map((r) => r.imageDigest);
    expect(expired).toEqual(expect.arrayContaining([history.release('proxy_1.27-alpine').digest, history.release('api_1.20.0').digest]));
  });

  test('a deploy moves the protection with the release, and a rollback moves it back', () => {
    const before = LifecyclePolicy.fromPolicyText(policyText(install({ ...LIVE, api: '1.59.0' }).stack));
    const rolledBack = LifecyclePolicy.fromPolicyText(policyText(install(LIVE).stack));
    const tags = (policy: LifecyclePolicy) => JSON.parse(policy.renderPolicyText()).rules
      .filter((r: any) => r.selection.countNumber === 1).map((r: any) => r.selection.tagPatternList[0]);
    expect(tags(before)).toEqual(['api_1.59.0', 'proxy_1.27-alpine', 'web_1.47.0', 'worker_1.35.0']);
    expect(tags(rolledBack)).toEqual(['api_1.20.0', 'proxy_1.27-alpine', 'web_1.47.0', 'worker_1.35.0']);
    // With maxReleaseCount 10, api 1.20.0 is far outside its family's window: only the protect rule keeps it.
    const small = (live: Record<string, string>) => LifecyclePolicy.fromPolicyText(policyText(install(live, { maxReleaseCount: 10 }).stack))
      .preview(history.images, history.now).map((r) => r.imageDigest);
    expect(small({ ...LIVE, api: '1.59.0' })).toContain(history.release('api_1.20.0').digest);
    expect(small(LIVE)).not.toContain(history.release('api_1.20.0').digest);
  });

  test('rules a user adds keep the guarantee: protect rules come first and the user\'s rules keep their order after them', () => {
    const fromText = LifecyclePolicy.fromPolicyText(JSON.stringify({
      rules: [{ rulePriority: 1, selection: { tagStatus: 'any', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 30 }, action: { type: 'expire' } }],
    }));
    const { stack: s, repo } = install(LIVE, { lifecyclePolicy: fromText });
    repo.addLifecycleRule({ rulePriority: 7, tagStatus: ecr.TagStatus.ANY, storageClass: undefined, maxTimeInArchive: Duration.days(365) });
    const rules = JSON.parse(policyText(s)).rules;
    expect(rules.map((r: any) => [r.rulePriority, r.selection.tagPatternList ?? r.selection.tagStatus])).toEqual([
      [1, ['api_1.20.0']], [2, ['proxy_1.27-alpine']], [3, ['web_1.47.0']], [4, ['worker_1.35.0']], [5, 'any'], [11, 'any'],
    ]);
    // An age rule on every image: everything older than 30 days goes but the live releases and what their indexes list.
    const expired = LifecyclePolicy.fromPolicyText(policyText(s)).preview(history.images, history.now).map((r) => r.imageDigest).sort();
    const live = new Set(imagesOf(liveReleases));
    const old = history.images.filter((i) => history.now.getTime() - i.imagePushedAt.getTime() > 30 * 86_400_000);
    expect(expired).toEqual(old.map((i) => i.imageDigest).filter((d) => !live.has(d)).sort());
    // Old enough to expire, yet kept: the proxy and the rolled-back api release (index, 2 platform and 2 attestation manifests).
    expect(old.filter((i) => live.has(i.imageDigest))).toHaveLength(6);
    expect(Annotations.fromStack(s).findWarning('*', Match.stringLikeRegexp('protectLiveReleases'))).toEqual([]);
  });

  test('lifecycleRules keep the guarantee too, and an empty list still turns lifecycle management off', () => {
    const { stack: s } = install({ api: '1.0.0' }, { lifecycleRules: [{ tagPatternList: ['api_*'], maxImageCount: 2 }] });
    expect(JSON.parse(policyText(s)).rules.map((r: any) => [r.rulePriority, r.selection.tagPatternList])).toEqual([[1, ['api_1.0.0']], [2, ['api_*']]]);
    const off = install({ api: '1.0.0' }, { lifecycleRules: [] });
    expect(repositoryProps(off.stack).LifecyclePolicy).toBeUndefined();
  });

  test('warns with a stable id when protectLiveReleases is off and a policy could expire a live release', () => {
    const { stack: s } = install({ api: '1.0.0' }, { protectLiveReleases: false });
    expect(JSON.parse(policyText(s)).rules[0].selection.tagPatternList).toEqual(['api_*']);
    Annotations.fromStack(s).hasWarning('/Install/Artifacts',
      Match.stringLikeRegexp('protectLiveReleases is false: the lifecycle policy may expire the releases 1 ImageSync.*\\[ack: cdk-byoc-artifacts:liveReleasesUnprotected\\]'));
    expect(Annotations.fromStack(install({}, { protectLiveReleases: false }).stack).findWarning('*', Match.stringLikeRegexp('protectLiveReleases'))).toEqual([]);
  });

  test('a release tag known only at deploy time is rendered into its protect rule', () => {
    const s = stack();
    const repo = new InstallRepository(s, 'Artifacts');
    const version = new CfnParameter(s, 'ApiVersion');
    new ImageSync(s, 'Api', { source: ImageSource.fromRegistry('ghcr.io/acme/api:1.0.0'), destination: ImageSyncDestination.fromInstallRepository(repo), tag: version.valueAsString });
    const text = repositoryProps(s).LifecyclePolicy.LifecyclePolicyText;
    expect(JSON.stringify(text)).toContain('"tagPatternList\\":[\\"api_"');
    expect(JSON.stringify(text)).toContain('{"Ref":"ApiVersion"}');
  });

  test('fits 40 components with 128-character release tags in ECR\'s 30,720-character policy, and fails at synth past the limit', () => {
    const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`component-${String(i).padStart(2, '0')}`, `v${'1'.repeat(113)}`]));
    const { stack: fits } = install(many(40));
    expect(policyText(fits).length).toBeLessThanOrEqual(30_720);
    expect(() => Template.fromStack(install(many(80)).stack)).toThrow(/Invalid InstallRepository lifecycle policy: policy text: \d+ characters is not allowed: 100 to 30720 characters/);
  });
});
