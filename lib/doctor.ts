// `thtl-native doctor`: what LibTorch this is, where it came from, and what is missing.
import { addonPath, native } from '../binding/index.js';

export interface DoctorReport {
  ok: boolean;
  lines: string[];
}

export function doctor(): DoctorReport {
  const lines: string[] = [];
  let addon: ReturnType<typeof native>;
  try {
    addon = native();
  } catch (err) {
    return { ok: false, lines: [(err as Error).message] };
  }
  const info = addon.info();
  let ok = true;
  lines.push(`addon          ${addonPath()}`);
  lines.push(`LibTorch       ${info.torchVersion} (${info.torchSource})`);
  lines.push(`CUDA           ${info.cudaAvailable ? `available, ${info.cudaDevices.length} device(s)` : 'not available (CPU only)'}`);
  info.cudaDevices.forEach((d, i) => lines.push(`  cuda:${i}       ${d}`));
  const openblas = info.blas.some((p) => p.includes('openblas'));
  lines.push(`BLAS           ${info.blas.length ? info.blas.join(', ') : 'none found in the process'}`);
  if (!openblas && !info.blas.some((p) => p.includes('mkl'))) {
    lines.push(
      '  ! no optimised BLAS is loaded: Linear and attention layers run 30-60x slower.\n' +
        '    Install OpenBLAS: apt-get install libopenblas0-pthread',
    );
    ok = false;
  }
  lines.push(`threads        ${info.threads} (LibTorch intra-op; --threads changes it)`);
  lines.push(`node           ${process.version} on ${process.platform}-${process.arch}`);
  return { ok, lines };
}
