#!/bin/sh
set -eu
echo "component ${COMPONENT_VERSION} on $(uname -m)"
exec "$@"
