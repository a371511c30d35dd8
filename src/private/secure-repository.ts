import { RemovalPolicy } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import { Construct } from 'constructs';
import { checkRepositoryName, isToken, ValidationProblems } from './validation';
import { SecureRepositoryProps } from '../repository-props';

const WILDCARD_FILTER = /^[0-9a-zA-Z._*-]{1,128}$/;

/** Adds every problem of the shared repository props to `problems`. */
export function checkSecureRepositoryProps(problems: ValidationProblems, props: SecureRepositoryProps): void {
  if (props.repositoryName !== undefined) {
    checkRepositoryName(problems, 'repositoryName', props.repositoryName);
  }
  const patterns = props.mutableTagPatterns ?? [];
  if (!isToken(patterns)) {
    patterns.forEach((pattern, i) => {
      if (isToken(pattern)) {
        return;
      }
      if (!WILDCARD_FILTER.test(pattern)) {
        problems.add(`mutableTagPatterns[${i}]`, pattern, 'an ECR wildcard filter is 1-128 characters of letters, digits, ".", "_", "-" and "*"');
      } else if (patterns.indexOf(pattern) !== i) {
        problems.add(`mutableTagPatterns[${i}]`, pattern, `a pattern not listed before (it is mutableTagPatterns[${patterns.indexOf(pattern)}])`);
      }
    });
  }
  if (props.emptyOnDelete && props.removalPolicy !== RemovalPolicy.DESTROY) {
    problems.add('emptyOnDelete', props.emptyOnDelete, `true only with removalPolicy RemovalPolicy.DESTROY (removalPolicy is ${props.removalPolicy ?? 'RETAIN'})`);
  }
}

/**
 * Creates the repository with the secure defaults: immutable tags (but for the mutable
 * patterns), scan on push, AES256 or the customer key, retained. Validate the props first.
 */
export function createSecureRepository(scope: Construct, props: SecureRepositoryProps): ecr.Repository {
  const patterns = props.mutableTagPatterns ?? [];
  const repository = new ecr.Repository(scope, 'Resource', {
    repositoryName: props.repositoryName,
    encryption: props.encryptionKey ? ecr.RepositoryEncryption.KMS : ecr.RepositoryEncryption.AES_256,
    encryptionKey: props.encryptionKey,
    imageScanOnPush: props.imageScanOnPush ?? true,
    imageTagMutability: patterns.length > 0 ? ecr.TagMutability.IMMUTABLE_WITH_EXCLUSION : ecr.TagMutability.IMMUTABLE,
    imageTagMutabilityExclusionFilters: patterns.length > 0
      ? patterns.map((p) => ecr.ImageTagMutabilityExclusionFilter.wildcard(p))
      : undefined,
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    emptyOnDelete: props.emptyOnDelete,
  });
  if (!props.encryptionKey) {
    // Render the default explicitly, so the template states how the images are encrypted.
    (repository.node.defaultChild as ecr.CfnRepository).encryptionConfiguration = { encryptionType: 'AES256' };
  }
  return repository;
}
