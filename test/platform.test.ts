import { parsePlatform, platformMatches } from '../src/platform';

describe('platforms', () => {
  test.each([
    ['linux/amd64', 'linux/amd64', true],
    ['linux/arm64', 'linux/arm64/v8', true],
    ['linux/arm64/v8', 'linux/arm64', true],
    ['linux/arm/v7', 'linux/arm/v6', false],
    ['linux/arm', 'linux/arm/v6', true],
    ['linux/amd64', 'windows/amd64', false],
  ])('%s matches %s: %s', (wanted, candidate, expected) => {
    expect(platformMatches(parsePlatform(wanted), parsePlatform(candidate))).toBe(expected);
  });

  test('fails on a platform that is not os/arch[/variant]', () => {
    expect(() => parsePlatform('linux/amd64/v2/extra')).toThrow(/expected os\/architecture\[\/variant\]/);
  });
});
