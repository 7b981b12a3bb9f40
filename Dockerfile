# The image `clew install` and the injector name (`--proxy-image`, default clew:latest): one image
# for the control plane (`clew control-plane --in-cluster`), the injected init container
# (`clew iptables`, needs iptables) and the sidecar (`clew proxy`, runs as uid 1337).
#
# NOT BUILT OR RUN HERE: the machines this repository is developed and tested on have no
# container daemon and no access to base images, so this file has never been built. It is
# written from what the tests exercise (the same command lines, as processes) and may need
# fixes on first build. See README.md, "Kubernetes".
#
#   docker build -t clew:latest .

FROM node:24-bookworm-slim AS build
# node-gyp builds the optional native/original-dst addon (SO_ORIGINAL_DST, IP_TRANSPARENT for capture)
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# the whole checkout (.dockerignore leaves out .git, node_modules, dist): tsc compiles src, test,
# bench and samples together (tsconfig.json)
COPY . .
# npm ci runs `install` (the native addon, with npm's node-gyp) and `prepare` (tsc + dashboard)
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
# iptables for the init container (clew iptables); nothing else beyond Node
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 1337 istio-proxy \
 && useradd --uid 1337 --gid 1337 --no-create-home --shell /usr/sbin/nologin istio-proxy
WORKDIR /opt/clew
COPY --from=build /src/package.json ./
COPY --from=build /src/bin ./bin
COPY --from=build /src/dist ./dist
COPY --from=build /src/samples ./samples
COPY --from=build /src/native ./native
COPY --from=build /src/node_modules ./node_modules
# the injected containers pass only arguments (`proxy ...`, `iptables ...`)
ENTRYPOINT ["node", "--max-semi-space-size=32", "/opt/clew/bin/clew.js"]
CMD ["--help"]
