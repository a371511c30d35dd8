#!/usr/bin/env bash
# The next release's version: the newest entry of the hand-written CHANGELOG.md ("## [X.Y.Z] ...").
# Fails when that version is already tagged: write the next entry before releasing.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(grep -m1 -oE '^## \[[0-9]+\.[0-9]+\.[0-9]+\]' CHANGELOG.md | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' || true)
if [ -z "$version" ]; then
  echo "CHANGELOG.md has no '## [X.Y.Z]' entry: add one for the release" >&2
  exit 1
fi
if git rev-parse -q --verify "refs/tags/v$version" >/dev/null; then
  echo "v$version is already released: add a '## [X.Y.Z]' entry for the next version at the top of CHANGELOG.md" >&2
  exit 1
fi
echo "$version"
