// `thtl-native doctor`: which addon loads, which LibTorch it was built against and which
// one it runs, what a build would use now, and what is missing or mismatched.
import { addonCandidates, describeBuild, packageRoot, platformTag, probeAddon, readBuildInfo } from '../../binding/locate.js';
import type { NativeInfo } from '../../binding/info.js';
import { describeLibTorch, findLibTorch, LIBTORCH_HELP, sameMinor } from '../install/libtorch.js';

export interface DoctorReport {
  ok: boolean;
  lines: string[];
}

const ORIGIN = { THTL_ADDON: 'THTL_ADDON', build: 'local build', prebuild: 'prebuilt binary' } as const;

const REBUILD = '    Rebuild against the LibTorch you have: npx thtl-native build (npm run build in a checkout)';

export function doctor(): DoctorReport {
  const lines: string[] = [];
  let ok = true;
  const search = findLibTorch();
  const now = search.found;

  // Every binary is loaded in a child process first: one built against another LibTorch
  // can abort the process that loads it.
  const candidates = addonCandidates();
  if (candidates.length === 0) {
    lines.push(`addon          none built for ${platformTag()} in ${packageRoot()}`, `  !${REBUILD.slice(3)}`);
    ok = false;
  }
  let info: NativeInfo | undefined;
  for (const c of candidates) {
    const built = readBuildInfo(c.path);
    lines.push(`addon          ${c.path} (${ORIGIN[c.origin]})`);
    lines.push(`  built against ${describeBuild(built)}`);
    const probe = probeAddon(c.path);
    if ('error' in probe) {
      lines.push(`  ! does not load: ${probe.error}`);
      if (built && now && !sameMinor(built.torchVersion, now.version)) {
        lines.push(`    It was built against LibTorch ${built.torchVersion}; the LibTorch found now is ${now.version}.`);
      } else if (built?.torchLibDir) {
        lines.push(`    It looks for LibTorch in ${built.torchLibDir}; is that install still there?`);
      }
      lines.push(REBUILD);
      ok = false;
      continue;
    }
    info = probe.info;
    const compiled = info.torchVersion;
    lines.push(`  runs         LibTorch ${info.runtimeTorchVersion || '(version not reported)'} from ${info.torchLibrary || '?'}`);
    if (info.runtimeTorchVersion && !sameMinor(compiled, info.runtimeTorchVersion)) {
      lines.push(
        `  ! compiled against LibTorch ${compiled} but runs ${info.runtimeTorchVersion}: LibTorch's C++ ABI changes between minor releases,`,
        '    so this can crash or compute wrongly.',
        REBUILD,
      );
      ok = false;
    }
    if (now && !sameMinor(now.version, info.runtimeTorchVersion || compiled)) {
      lines.push(`  note: a build now would use LibTorch ${now.version} (${now.kind}); \`npx thtl-native build\` switches to it.`);
    } else if (now && now.cuda && !info.cudaBuilt) {
      lines.push('  note: the LibTorch found has CUDA but this binary is a CPU build; `npx thtl-native build` builds with CUDA.');
    }
    break;
  }
  // What `thtl-native build` would build against now.
  lines.push(`build would use ${now ? describeLibTorch(now) : 'no LibTorch'}`);
  if (!now) {
    lines.push(`  looked at: ${search.tried.join('; ')}`, `  ${info ? 'note' : '!'}: a build needs one:\n${LIBTORCH_HELP}`);
  }
  if (!info) return { ok: false, lines };

  const builtWith = info.cudaBuilt ? `built with CUDA ${info.cudaVersion || '(version not reported)'}` : 'a CPU build';
  lines.push(
    `CUDA           ${info.cudaAvailable ? `${builtWith}, ${info.cudaDevices.length} GPU(s) visible` : `${builtWith}, no GPU visible${info.cudaBuilt ? ' (training runs on the CPU; --device auto picks it)' : ''}`}`,
  );
  info.cudaDevices.forEach((d, i) => lines.push(`  cuda:${i}       ${d}`));
  const optimised = info.blas.some((p) => p.includes('openblas') || p.includes('mkl')) || info.blasInfo === 'mkl';
  const blasLibs = info.blas.length ? info.blas.join(', ') : 'no BLAS library mapped';
  lines.push(`BLAS           ${blasLibs}${info.blasInfo ? ` (LibTorch BLAS_INFO=${info.blasInfo})` : ''}`);
  if (!optimised) {
    lines.push(
      '  ! no optimised BLAS is loaded: Linear and attention layers run 30-60x slower.\n' +
        '    Install OpenBLAS: apt-get install libopenblas0-pthread',
    );
    ok = false;
  }
  lines.push(`threads        ${info.threads} (LibTorch intra-op; --threads changes it)`);
  lines.push(
    `CPU allocator  ${info.cpuAllocator.kind === 'caching' ? "caching (freed large blocks reused by the next step; THTL_CPU_ALLOCATOR=default turns it off)" : "LibTorch's default (THTL_CPU_ALLOCATOR=default)"}`,
  );
  const fb = info.fusedBatchNorm;
  const fusedState = fb.on
    ? `on (${fb.isa} loops, ${fb.threaded ? "on LibTorch's threads" : 'on one thread'}; THTL_FUSED_BN=0 turns it off)`
    : `off (${fb.threaded ? 'THTL_FUSED_BN=0' : 'this build cannot thread its loops: built without OpenMP'}; THTL_FUSED_BN=1 turns it on)`;
  lines.push(`fused BN       ${fusedState}`);
  lines.push(
    `CPU training   ${info.cpuChannelsLast ? 'channels_last for convolutional models (THTL_CHANNELS_LAST=0: NCHW)' : 'NCHW (THTL_CHANNELS_LAST=1: channels_last)'}; evaluation NCHW; --channels-last: channels_last everywhere`,
  );
  lines.push(`node           ${process.version} on ${platformTag()}`);
  return { ok, lines };
}
