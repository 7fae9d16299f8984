// Loads the native addon and declares its typed surface.
// THTL_ADDON=/path/to/thtl_native.node overrides the lookup (development builds);
// otherwise a local build (build/Release, made by `thtl-native build` or the package's
// install step) comes before the prebuilt binary in prebuilds/<platform>-<arch>/.
import { createRequire } from 'node:module';

import type { DataApi } from './data.js';
import type { InfoApi } from './info.js';
import { addonCandidates, describeBuild, packageRoot, platformTag, readBuildInfo } from './locate.js';
import type { ModelsApi } from './models.js';
import type { SessionApi } from './session.js';
import type { TestHooksApi } from './test-hooks.js';
import type { WeightsApi } from './weights.js';

export { packageRoot } from './locate.js';

export type NativeAddon = InfoApi & WeightsApi & DataApi & ModelsApi & SessionApi & Partial<TestHooksApi>;

const require = createRequire(import.meta.url);

let cached: { addon: NativeAddon; path: string } | undefined;

function load(): { addon: NativeAddon; path: string } {
  if (cached) return cached;
  const candidates = addonCandidates();
  if (candidates.length === 0) {
    throw new Error(
      `thtl-native: no native addon is built for ${platformTag()} in ${packageRoot()}.\n` +
        '  Build it against your LibTorch with `npx thtl-native build` (`npm run build` in a checkout);\n' +
        '  `npx thtl-native doctor` shows which LibTorch it would use.',
    );
  }
  const failures: string[] = [];
  for (const c of candidates) {
    try {
      cached = { addon: require(c.path) as NativeAddon, path: c.path };
      return cached;
    } catch (err) {
      const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
      failures.push(`  ${c.path}\n    built against ${describeBuild(readBuildInfo(c.path))}\n    does not load: ${why}`);
    }
  }
  throw new Error(
    'thtl-native: the native addon could not be loaded:\n' +
      failures.join('\n') +
      '\n  Rebuild it against the LibTorch you have with `npx thtl-native build` (`npm run build` in a checkout);\n' +
      '  `npx thtl-native doctor` explains what it finds.',
  );
}

/** The native addon (loaded on first use). */
export function native(): NativeAddon {
  return load().addon;
}

/** Where the loaded addon file is. */
export function addonPath(): string {
  return load().path;
}
