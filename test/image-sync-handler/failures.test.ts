import { Props, SourceKinds } from '../../src/image-sync-contract';
import { copyFailure } from '../../src/image-sync-handler/failures';
import { parseSyncRequest } from '../../src/image-sync-handler/request';
import { CopyError } from '../../src/sync';

const TENANT_HOST = '111122223333.dkr.ecr.eu-west-1.amazonaws.com';
const INSTALL_HOST = '444455556666.dkr.ecr.eu-west-1.amazonaws.com';

/** Properties of a tenant release of `tenant/api` into `install/api`. */
function tenantProps(sourceRepo: string, destRepo: string): { [key: string]: unknown } {
  return {
    [Props.SOURCE_KIND]: SourceKinds.TENANT_ECR,
    [Props.SOURCE_IMAGE]: `${TENANT_HOST}/${sourceRepo}:v1`,
    [Props.SOURCE_REPOSITORY_ARN]: `arn:aws:ecr:eu-west-1:111122223333:repository/${sourceRepo}`,
    [Props.ACCESS_ROLE_ARN]: 'arn:aws:iam::111122223333:role/acme-ecr-access',
    [Props.EXTERNAL_ID]: 'install-acme-0042',
    [Props.DESTINATION_REPOSITORY_URI]: `${INSTALL_HOST}/${destRepo}`,
    [Props.DESTINATION_REPOSITORY_NAME]: destRepo,
    [Props.DESTINATION_TAG]: 'v1',
  };
}

describe('image-sync failure reasons', () => {
  const request = parseSyncRequest(tenantProps('tenant/api', 'install/api'));

  test('says to release under a new tag when ECR refuses to overwrite an immutable tag', () => {
    const ecrAnswer = new CopyError('REGISTRY', `PUT ${INSTALL_HOST}/v2/install/api/manifests/v1: 400 TAG_INVALID: The image tag 'v1' already exists `
      + 'in the \'install/api\' repository and cannot be overwritten because the repository is immutable.');

    expect(copyFailure(ecrAnswer, request).message).toMatch(
      /^Copying .* failed: .* The destination tag v1 already holds a different image and the repository's tags are immutable: release under a new tag/,
    );
  });

  test.each([
    ['NETWORK', /in a VPC, add endpoints for ECR \(api, dkr\), S3 and STS, or a NAT gateway/],
    ['UNSUPPORTED', /rebuild or convert it to OCI or Docker schema 2/],
    ['DENIED', /the install repository lets only its writers push/],
  ] as const)('says what to do on a %s failure', (code, advice) => {
    expect(copyFailure(new CopyError(code, 'registry said no'), request).message).toMatch(advice);
  });
});
