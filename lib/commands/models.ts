// `thtl-native models`: the registry's models.
import type { Command } from 'commander';

import { native } from '../../binding/index.js';

export function registerModelsCommand(program: Command): void {
  program
    .command('models')
    .description('list the models in the registry with their input size, learning rate and groups')
    .action(() => {
      const rows = native().models();
      process.stdout.write(`${'model'.padEnd(20)}${'input'.padStart(6)}${'lr'.padStart(8)}${'params'.padStart(14)}  groups (head first)\n`);
      for (const m of rows)
        process.stdout.write(
          `${m.name.padEnd(20)}${String(m.inputSize).padStart(6)}${String(m.defaultLr).padStart(8)}${m.params.toLocaleString('en-US').padStart(14)}  ${m.groups.map((g) => g.name).join(', ')}\n`,
        );
    });
}
