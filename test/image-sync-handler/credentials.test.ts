import { sessionName, sessionTags } from '../../src/image-sync-handler/credentials';

describe('image-sync session names', () => {
  test('builds session names of at most 64 allowed characters', () => {
    expect(sessionName('release 2026/11', 'Api')).toBe('sync-release_2026_11-Api');
    expect(sessionName(undefined, 'x'.repeat(80))).toHaveLength(64);
  });

  test('tags the session with the release id only when there is one', () => {
    expect(sessionTags(undefined)).toBeUndefined();
    expect(sessionTags('r-42 (hotfix)')).toEqual([{ key: 'ReleaseId', value: 'r-42 _hotfix_' }]);
  });
});

