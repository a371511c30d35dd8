import { InstallRepository } from '../src/install-repository';
import { LifecyclePolicy } from '../src/lifecycle';

// A release of component `api` as an ImageSync tags it, its cosign signature tag, and an SBOM
// pushed as an OCI 1.1 referrer; the policy is the InstallRepository default for one component.
const rules = () => [InstallRepository.familyLifecycleRule('api'), ...InstallRepository.defaultLifecycleRules()];

function history(releases: number) {
  const digest = (release: number, part: number) => `sha256:${release.toString(16).padStart(8, '0')}${String(part).repeat(56)}`;
  const start = Date.UTC(2026, 0, 1);
  const images = [];
  for (let release = 1; release <= releases; release++) {
    const at = (part: number) => new Date(start + release * 86_400_000 + part * 1000);
    const image = digest(release, 1);
    images.push(
      { imageDigest: image, imageTags: [`api_v${release}`], imagePushedAt: at(1) },
      { imageDigest: digest(release, 2), imageTags: [`${image.replace(':', '-')}.sig`], imagePushedAt: at(2) },
      { imageDigest: digest(release, 3), imagePushedAt: at(3), subjectDigest: image },
    );
  }
  return { images, digest, now: new Date(Date.UTC(2030, 0, 1)) };
}

describe('InstallRepository: referrers in the default lifecycle policy', () => {
  test('keeps the signature tags and referrers of every kept release, and expires OCI referrers with their release', () => {
    const { images, digest, now } = history(100);
    const expired = new Set(LifecyclePolicy.fromRules(rules()).preview(images, now).map((r) => r.imageDigest));

    for (let release = 71; release <= 100; release++) {
      expect([1, 2, 3].filter((part) => expired.has(digest(release, part)))).toEqual([]);
    }
    for (let release = 1; release <= 70; release++) {
      expect(expired.has(digest(release, 1))).toBe(true);
      expect(expired.has(digest(release, 3))).toBe(true);
    }
  });

  test('without the signature tag rule, the catch-all counts signature tags as releases and expires the signatures of kept releases', () => {
    const { images, digest, now } = history(100);
    const withoutSignatureRule = rules().filter((rule) => !rule.tagPatternList?.includes('sha256-*'));
    const expired = new Set(LifecyclePolicy.fromRules(withoutSignatureRule).preview(images, now).map((r) => r.imageDigest));

    expect(expired.has(digest(100, 2))).toBe(false);
    expect(expired.has(digest(80, 2))).toBe(true);
  });
});
