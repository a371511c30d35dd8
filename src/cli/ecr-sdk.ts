/**
 * The part of the AWS SDK the CLI uses, bundled on its own (assets/cli/ecr-sdk.js): the CLI reads
 * it only when a copy involves an ECR host without other credentials, so that every other run
 * starts without parsing the SDK.
 */
export { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
