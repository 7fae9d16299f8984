// The test build's hooks (_testLoadStateDict, _testLoraConv, _testNormalise, _testBnAct, _testFusedBn,
// _testSetFusedBn, _testCpuBlocks): the addon the tests load is
// thtl_native_test.node when one was built (CMake option THTL_TEST_HOOKS=ON, as `npm test`
// and CI build it; see test/global-setup.ts). With a release addon the hook tests are
// skipped, and say so; in CI (CI=true) a missing hook fails instead.
import { native } from '../../binding/index.js';
import type { TestHooksApi } from '../../binding/test-hooks.js';

export const HOOKS_MISSING =
  'this addon is a release build without the test hooks: build it with `npx cmake-js compile --out build --CDTHTL_TEST_HOOKS=ON` (npm test does)';

/** The hooks, or null (after printing why) when the addon has none. */
export function testHooks(): TestHooksApi | null {
  const n = native();
  if (n._testLoadStateDict && n._testLoraConv && n._testNormalise && n._testBnAct && n._testFusedBn && n._testSetFusedBn && n._testCpuBlocks) return n as TestHooksApi;
  if (process.env.CI === 'true') throw new Error(HOOKS_MISSING);
  process.stderr.write(`[skip] ${HOOKS_MISSING}\n`);
  return null;
}
