#!/bin/sh
# Builds the image from the project's Dockerfile with Debian's podman (4.3), as root:
#   scripts/image/build.sh [TAG]      (default localhost/nodelocaldns:dev)
# No container registry is needed: the base image is a minimal Debian that mmdebstrap makes from
# this machine's own apt sources, built once and kept (podman rmi it to rebuild); Node.js and npm
# come from the npm registry (see Dockerfile). podman-flags.sh: runc, limits pinned.
set -eu
cd "$(dirname "$0")/../.."
tag=${1:-localhost/nodelocaldns:dev}
base=${NODELOCALDNS_BASE_IMAGE:-localhost/nodelocaldns-base:bookworm}
suite=bookworm

if ! podman image exists "$base"; then
  sources=/etc/apt/sources.list.d/debian.sources
  [ -f "$sources" ] || sources=/etc/apt/sources.list
  echo "image: making $base with mmdebstrap ($suite, minbase, from $sources)"
  # The same trimming as Debian's -slim images: no manuals, info pages or translations; copyright
  # files stay. The rules stay in the image, so later apt-get installs are trimmed too.
  mmdebstrap --variant=minbase --format=tar --quiet \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    "$suite" - "$sources" | podman import --change 'CMD ["/bin/bash"]' - "$base" >/dev/null
fi

# npm in the build stage trusts what this machine trusts (a TLS-inspecting proxy's CA, if any).
ca=${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}
secret=
[ -s "$ca" ] && secret="--secret id=npm_ca,src=$ca"
# shellcheck disable=SC2046,SC2086 # word splitting of the flag lists is meant
podman build $(sh scripts/image/podman-flags.sh) --network host $secret \
  --build-arg BASE_IMAGE="$base" -t "$tag" -f Dockerfile .
