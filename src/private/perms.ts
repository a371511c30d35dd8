/**
 * Named IAM action lists for ECR, in the manner of aws-cdk-lib's aws-ecr `perms.ts`, so every
 * grant, policy and test refers to the same sets.
 */

/**
 * Fetching a registry login token. IAM only accepts `'*'` as the resource of this action: the
 * token is for the registry, not for a repository.
 */
export const ECR_AUTH_ACTIONS = ['ecr:GetAuthorizationToken'];

/** Pulling an image by tag or digest: what `docker pull` (or a copy engine) needs. */
export const ECR_PULL_ACTIONS = ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'];

/** Reading a repository's metadata and image list, so a puller can resolve tags and digests. */
export const ECR_READ_ACTIONS = ['ecr:DescribeImages', 'ecr:ListImages', 'ecr:DescribeRepositories'];

/** Pushing layers and manifests (tagging included). */
export const ECR_PUSH_ACTIONS = ['ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:CompleteLayerUpload', 'ecr:PutImage'];

/**
 * What `grantPush` grants: the set ECR documents for pushing, since clients check which layers and
 * manifests exist (and read the manifest they are about to replace) first.
 */
export const ECR_PUSH_GRANT_ACTIONS = ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', ...ECR_PUSH_ACTIONS];

/** Every action that adds, moves or removes an image: what an install repository denies to all but its writers. */
export const ECR_IMAGE_WRITE_ACTIONS = [...ECR_PUSH_ACTIONS, 'ecr:BatchDeleteImage'];

/** The cross-account pull set: pull plus read, as granted by `EcrAccessRole` and `grantCrossAccountPull`. */
export const ECR_CROSS_ACCOUNT_PULL_ACTIONS = [...ECR_PULL_ACTIONS, ...ECR_READ_ACTIONS];

/** Assuming a cross-account access role with a tagged session (the release id): what `ImageSync` grants for a tenant source. */
export const STS_ASSUME_ROLE_ACTIONS = ['sts:AssumeRole', 'sts:TagSession'];

/**
 * What a pull through a pull-through cache needs beyond pull: importing the upstream image, and
 * creating its cached repository on the first pull.
 */
export const ECR_PULL_THROUGH_ACTIONS = ['ecr:BatchImportUpstreamImage', 'ecr:CreateRepository'];

/** Reading one S3 object (an archive asset): granted on that object's ARN only. */
export const S3_GET_OBJECT_ACTIONS = ['s3:GetObject'];
