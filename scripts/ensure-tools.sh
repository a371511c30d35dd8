#!/usr/bin/env bash
# Makes sure the local registry tools that the tests, the demo and the benchmark use are present:
#   docker-registry (CNCF distribution), skopeo (reference client), htpasswd (bcrypt users),
#   GNU time (the benchmark's peak RSS).
# Installs them from Debian's packages when running as root with apt-get; otherwise says how.
set -euo pipefail

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
[ -x /usr/bin/time ] || missing+=(time)

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi

cat >&2 <<MSG
Missing: ${missing[*]}.
The copy-engine tests, the demo and the benchmark run a real OCI registry on 127.0.0.1.
Install the tools, then run the command again:
  sudo apt-get update && sudo apt-get install -y docker-registry skopeo apache2-utils time
MSG
exit 1
