// `thtl-native doctor` (what LibTorch/CUDA/BLAS setup was found) and `build` (get the native addon).
import type { Command } from 'commander';

import { packageRoot } from '../../binding/locate.js';
import { doctor } from '../install/doctor.js';
import { installAddon } from '../install/addon.js';

export function registerDoctorCommands(program: Command): void {
  program
    .command('doctor')
    .description('check LibTorch, CUDA, BLAS and threads, and explain what is missing')
    .action(() => {
      const r = doctor();
      process.stdout.write(`${r.lines.join('\n')}\n`);
      if (!r.ok) process.exitCode = 1;
    });

  program
    .command('build')
    .description('get a native addon for the LibTorch found (prebuilt binary when it fits, else a cmake-js build), as the install step does')
    .option('--from-source', 'always build from source', false)
    .option('--clean', 'drop the object files afterwards, keeping only the addon', false)
    .action(async (o: { fromSource: boolean; clean: boolean }) => {
      const r = await installAddon({ root: packageRoot(), fromSource: o.fromSource, clean: o.clean });
      process.stdout.write(`${r.method === 'prebuild' ? 'prebuilt binary' : 'built'}: ${r.addon}\n`);
    });
}
