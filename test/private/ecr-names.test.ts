import { isEcrRegistry, parseEcrRegistry } from '../../src/private/ecr-names';

const REGISTRY = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';

describe('isEcrRegistry / parseEcrRegistry', () => {
  test.each([
    [REGISTRY, { account: '123456789012', region: 'eu-west-1', partition: 'aws' }],
    ['123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn', { account: '123456789012', region: 'cn-north-1', partition: 'aws-cn' }],
    ['123456789012.dkr.ecr-fips.us-east-1.amazonaws.com', { account: '123456789012', region: 'us-east-1', partition: 'aws' }],
    ['123456789012.dkr-ecr.us-west-2.on.aws', { account: '123456789012', region: 'us-west-2', partition: 'aws' }],
    [`${REGISTRY}:443`, { account: '123456789012', region: 'eu-west-1', partition: 'aws' }],
  ])('recognizes %s', (host, expected) => {
    expect(isEcrRegistry(host)).toBe(true);
    expect(parseEcrRegistry(host)).toEqual(expected);
  });

  test.each([
    'public.ecr.aws', '12345678901.dkr.ecr.eu-west-1.amazonaws.com', '123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.example',
    'ghcr.io', '127.0.0.1:5000',
  ])('does not take %s for a private ECR registry', host => {
    expect(isEcrRegistry(host)).toBe(false);
    expect(parseEcrRegistry(host)).toBeUndefined();
  });
});
