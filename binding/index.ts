// Loads the native addon and declares its typed surface.
// THTL_ADDON=/path/to/thtl_native.node overrides the lookup (development builds);
// otherwise node-gyp-build looks in build/Release and prebuilds/<platform>-<arch>/.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { DataApi } from './data.js';
import type { InfoApi } from './info.js';
import type { ModelsApi } from './models.js';
import type { SessionApi } from './session.js';
import type { WeightsApi } from './weights.js';

export type NativeAddon = InfoApi & WeightsApi & DataApi & ModelsApi & SessionApi;

const require = createRequire(import.meta.url);

/** The package root: the folder holding package.json (works from source and from dist/). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('thtl-native: cannot find the package root');
    dir = up;
  }
  return dir;
}

let cached: { addon: NativeAddon; path: string } | undefined;

function load(): { addon: NativeAddon; path: string } {
  if (cached) return cached;
  const override = process.env.THTL_ADDON;
  try {
    if (override) {
      cached = { addon: require(override) as NativeAddon, path: override };
    } else {
      const nodeGypBuild = require('node-gyp-build') as { (dir: string): unknown; resolve(dir: string): string };
      const root = packageRoot();
      const path = nodeGypBuild.resolve(root);
      cached = { addon: require(path) as NativeAddon, path };
    }
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(
      `thtl-native: the native addon could not be loaded (${why}).\n` +
        '  Build it with `npm run build` (needs LibTorch: apt-get install libtorch-dev, or pip torch), ' +
        'or run `thtl-native doctor` for a diagnosis.',
    );
  }
  return cached;
}

/** The native addon (loaded on first use). */
export function native(): NativeAddon {
  return load().addon;
}

/** Where the loaded addon file is. */
export function addonPath(): string {
  return load().path;
}
