import { isImmutableTag } from '../../src/image-sync-handler/destination-first';

describe('isImmutableTag', () => {
  test.each([
    ['IMMUTABLE', [], 'v1.2.3', true],
    ['MUTABLE', [], 'v1.2.3', false],
    ['IMMUTABLE_WITH_EXCLUSION', ['latest', 'dev-*'], 'v1.2.3', true],
    ['IMMUTABLE_WITH_EXCLUSION', ['latest', 'dev-*'], 'dev-42', false],
    ['IMMUTABLE_WITH_EXCLUSION', ['latest', 'dev-*'], 'latest', false],
    ['IMMUTABLE_WITH_EXCLUSION', ['latest'], 'latest-2', true],
    ['MUTABLE_WITH_EXCLUSION', ['v*'], 'v1', true],
    ['MUTABLE_WITH_EXCLUSION', ['v*'], 'main', false],
    ['IMMUTABLE_WITH_EXCLUSION', ['a.b*'], 'axb', true],
    ['SOMETHING_NEW', [], 'v1', false],
  ])('%s with exclusions %j keeps %s immutable: %s', (mutability, exclusions, tag, expected) => {
    expect(isImmutableTag(tag, { mutability, exclusions })).toBe(expected);
  });
});
