#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh needs on a GPU machine that has CUDA, cmake and Python
# with PyTorch but no Node.js, into the git-ignored .device/ folder (carried there next to
# the working tree, with dist/):
#   node.tar.xz          this machine's node binary
#   node_modules.tar.xz  the npm dependencies (without the TypeScript compiler: dist/ is carried built;
#                        without puppeteer, which only the HTML-report test uses)
#   sysroot.tar.xz       libjpeg, libpng and zlib headers and libraries, for a machine without their -dev packages
# Run `npm run build:ts` first. Prints the sizes; the carry limit is 64 MiB in all.
# Usage: bash scripts/device-pack.sh [FOLDER]   (default .device; the CI rehearsal packs
# into its copy of the tree, faster, with XZ_OPT=-0)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/lib/cli.js ] || { echo "device-pack: dist/ is missing; run npm run build:ts" >&2; exit 1; }
dev=${1:-.device}
rm -rf "$dev" && mkdir -p "$dev"
node_bin=$(command -v node)
XZ_OPT=${XZ_OPT:--6 -T0} tar -C "$(dirname "$node_bin")" -cJf "$dev/node.tar.xz" "$(basename "$node_bin")"
# (not the TypeScript compiler, as dist/ is carried built, nor the headless-browser driver of the HTML-report test)
XZ_OPT=${XZ_OPT:--6 -T0} tar -cJf "$dev/node_modules.tar.xz" --exclude='node_modules/typescript' --exclude='node_modules/.cache' \
  --exclude='node_modules/puppeteer-core' --exclude='node_modules/chromium-bidi' --exclude='node_modules/devtools-protocol' node_modules

sys=$(mktemp -d)
trap 'rm -rf "$sys"' EXIT
mkdir -p "$sys/sysroot/include" "$sys/sysroot/lib"
triplet=$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)
for h in jpeglib.h jerror.h jmorecfg.h png.h pngconf.h pnglibconf.h zlib.h zconf.h; do
  src=$(ls /usr/include/"$h" /usr/include/"$triplet"/"$h" /usr/include/libpng16/"$h" 2>/dev/null | head -1 || true)
  [ -n "$src" ] || { echo "device-pack: header $h not found (apt-get install libjpeg62-turbo-dev libpng-dev zlib1g-dev)" >&2; exit 1; }
  cp -L "$src" "$sys/sysroot/include/"
done
cp -L /usr/include/"$triplet"/jconfig.h "$sys/sysroot/include/"
for lib in libjpeg.so.62 libpng16.so.16 libz.so.1; do
  cp -L "/usr/lib/$triplet/$lib" "$sys/sysroot/lib/" 2>/dev/null || cp -L "/lib/$triplet/$lib" "$sys/sysroot/lib/"
done
ln -s libjpeg.so.62 "$sys/sysroot/lib/libjpeg.so"
ln -s libpng16.so.16 "$sys/sysroot/lib/libpng.so"
ln -s libpng16.so.16 "$sys/sysroot/lib/libpng16.so"
ln -s libz.so.1 "$sys/sysroot/lib/libz.so"
tar -C "$sys" -cJf "$dev/sysroot.tar.xz" sysroot
du -sb "$dev"/* dist | awk '{ printf "%8.1f MiB  %s\n", $1 / 1048576, $2; t += $1 } END { printf "%8.1f MiB  in all (carry limit 64 MiB)\n", t / 1048576 }'
