import { trustDocument, trustPolicyLength } from '../../src/private/trust-policy';

const OPTIONS = { sessionTagKeys: ['ReleaseId'] };
const ASSUME = { partition: 'aws', isToken: (s: string) => s.startsWith('${Token'), tokenPrincipalLength: 100, tokenValueLength: 64 };
const ID = 'acme-byoc-7f3c9a1e0b2d';

describe('trustDocument', () => {
  test('groups principals by external id into one AssumeRole and one TagSession statement each', () => {
    const doc = trustDocument([
      { principal: '222222222222', externalId: ID },
      { principal: '333333333333', externalId: 'acme-install-333-5f1e9c' },
      { principal: 'arn:aws:iam::444444444444:role/sync', externalId: ID },
      { principal: '222222222222', externalId: ID },
    ], { ...OPTIONS, principalOrgId: 'o-a1b2c3d4e5' });
    expect(doc.Statement.map((s) => [s.Action, s.Principal.AWS, s.Condition.StringEquals])).toEqual([
      ['sts:AssumeRole', ['222222222222', 'arn:aws:iam::444444444444:role/sync'], { 'sts:ExternalId': ID, 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' }],
      ['sts:TagSession', ['222222222222', 'arn:aws:iam::444444444444:role/sync'], { 'sts:ExternalId': ID, 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' }],
      ['sts:AssumeRole', '333333333333', { 'sts:ExternalId': 'acme-install-333-5f1e9c', 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' }],
      ['sts:TagSession', '333333333333', { 'sts:ExternalId': 'acme-install-333-5f1e9c', 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' }],
    ]);
    expect(doc.Statement[1].Condition['ForAllValues:StringEquals']).toEqual({ 'aws:TagKeys': 'ReleaseId' });
    expect(doc.Statement[0].Condition['ForAllValues:StringEquals']).toBeUndefined();
  });

  test('lists several session tag keys as a list', () => {
    const doc = trustDocument([{ principal: '222222222222', externalId: ID }], { sessionTagKeys: ['ReleaseId', 'Component'] });
    expect(doc.Statement[1].Condition['ForAllValues:StringEquals']).toEqual({ 'aws:TagKeys': ['ReleaseId', 'Component'] });
  });
});

describe('trustPolicyLength', () => {
  test('counts the document without whitespace, account ids as root ARNs of the partition', () => {
    const doc = trustDocument([{ principal: '222222222222', externalId: ID }], OPTIONS);
    const asStored = JSON.stringify(doc).replace(/"222222222222"/g, '"arn:aws:iam::222222222222:root"');
    expect(trustPolicyLength(doc, ASSUME)).toBe(asStored.length);
    expect(trustPolicyLength(doc, { ...ASSUME, partition: 'aws-us-gov' })).toBe(asStored.length + 2 * 'aws-us-gov'.replace('aws', '').length);
  });

  test('counts a token principal and a token value at their stand-in lengths', () => {
    const literal = trustDocument([{ principal: 'p'.repeat(100), externalId: 'e'.repeat(64) }], OPTIONS);
    const tokens = trustDocument([{ principal: '${Token[ROLE.1]}', externalId: '${Token[ID.2]}' }], OPTIONS);
    expect(trustPolicyLength(tokens, ASSUME)).toBe(trustPolicyLength(literal, ASSUME));
  });

  test('grows by two root ARNs per added account of the same external id', () => {
    const one = trustDocument([{ principal: '222222222222', externalId: ID }], OPTIONS);
    const two = trustDocument([{ principal: '222222222222', externalId: ID }, { principal: '333333333333', externalId: ID }], OPTIONS);
    // A second principal turns the scalar into a list: brackets and a comma, plus the ARN, twice.
    expect(trustPolicyLength(two, ASSUME) - trustPolicyLength(one, ASSUME)).toBe(2 * ('["",]'.length + 'arn:aws:iam::333333333333:root'.length));
  });
});
