import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { AwsClientStub } from 'aws-sdk-client-mock';
import { IMAGE_SYNC_RESOURCE_TYPE, Props } from '../../src/image-sync-contract';
import { HandlerDependencies } from '../../src/image-sync-handler/dependencies';
import { handleEvent, IsCompleteResponse, OnEventResponse } from '../../src/image-sync-handler/handler';
import { ImageSyncEvent } from '../../src/image-sync-handler/request';
import { createDependencies } from '../../src/image-sync.lambda';

/**
 * The sync function's code path in tests: the dependencies the Lambda entry builds, registry
 * names dialled where the test registries listen, ECR's login answered with a test registry's
 * basic credentials (as ECR's token is), and the provider framework's onEvent/isComplete calls.
 */

/** An install account's ECR registry name, dialled to a loopback registry. */
export const INSTALL_HOST = '444455556666.dkr.ecr.eu-west-1.amazonaws.com';
/** A vendor registry name, dialled to a loopback registry. */
export const VENDOR_HOST = 'registry.vendor.example';
/** The install stack of the events. */
export const INSTALL_STACK_ID = 'arn:aws:cloudformation:eu-west-1:444455556666:stack/Install/1';

/** Credentials of the function's role for the SDK clients; the AWS APIs they would reach are faked. */
export function useFunctionRoleCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID = 'AKIAFUNCTIONROLE0000';
  process.env.AWS_SECRET_ACCESS_KEY = 'function-secret';
}

/** ECR's `GetAuthorizationToken` answered with the registry's basic credentials, valid for `validForMs`. */
export function fakeEcrLogin(ecrMock: AwsClientStub<ECRClient>, registry: { username?: string; password?: string }, validForMs = 3600_000): void {
  ecrMock.on(GetAuthorizationTokenCommand).resolves({
    authorizationData: [{
      authorizationToken: Buffer.from(`${registry.username}:${registry.password}`).toString('base64'),
      expiresAt: new Date(Date.now() + validForMs),
    }],
  });
}

/** The Lambda entry's dependencies in eu-west-1, with `hosts` dialled to the test registries and every log line kept in `log`. */
export function handlerDependencies(
  hosts: { [name: string]: string }, log?: string[], overrides: Partial<HandlerDependencies> = {},
): HandlerDependencies {
  return createDependencies({
    region: 'eu-west-1',
    dial: (registry) => hosts[registry] ?? registry,
    log: (message, fields) => log?.push(JSON.stringify({ message, ...fields })),
    ...overrides,
  });
}

let requests = 0;

/** A Create event of `Custom::ImageSync` with these resource properties. */
export function createEvent(properties: { [key: string]: unknown }, target: { logicalId?: string; stackId?: string } = {}): ImageSyncEvent {
  return {
    RequestType: 'Create',
    RequestId: `req-${++requests}`,
    StackId: target.stackId ?? INSTALL_STACK_ID,
    LogicalResourceId: target.logicalId ?? 'ApiImage',
    ResourceType: IMAGE_SYNC_RESOURCE_TYPE,
    ResourceProperties: properties as ImageSyncEvent['ResourceProperties'],
  };
}

/** The destination properties of a sync into `repository` of the registry `host`, under `tag`. */
export function destinationProps(host: string, repository: string, tag: string): { [key: string]: string } {
  return {
    [Props.DESTINATION_REPOSITORY_URI]: `${host}/${repository}`,
    [Props.DESTINATION_REPOSITORY_NAME]: repository,
    [Props.DESTINATION_TAG]: tag,
  };
}

/**
 * onEvent, then isComplete with onEvent's answer merged in, as the provider framework does: up to
 * `polls` isComplete calls while the sync is incomplete; the last answer is returned.
 */
export async function runProvider(
  event: ImageSyncEvent, deps: HandlerDependencies, options: { polls?: number; remainingMs?: number } = {},
): Promise<IsCompleteResponse> {
  const remaining = () => options.remainingMs ?? 600_000;
  const first = await handleEvent(event, deps, remaining) as OnEventResponse;
  let result: IsCompleteResponse;
  let poll = 0;
  do {
    result = await handleEvent({ ...event, ...first }, deps, remaining) as IsCompleteResponse;
  } while (!result.IsComplete && ++poll < (options.polls ?? 1));
  return result;
}
