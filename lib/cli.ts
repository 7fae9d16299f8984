// The `thtl-native` command line: one module per command group in lib/commands/.
import { Command } from 'commander';

import { registerCamCommand } from './commands/cam.js';
import { registerDataCommands } from './commands/data.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerDoctorCommands } from './commands/doctor.js';
import { registerExperimentCommands } from './commands/experiment.js';
import { registerModelsCommand } from './commands/models.js';
import { registerProbeCommand } from './commands/probe.js';
import { registerScaleCommands } from './commands/scale.js';
import { registerSynthCommand } from './commands/synth.js';
import { registerTrainCommand } from './commands/train.js';

export function buildCli(): Command {
  const program = new Command('thtl-native')
    .description('Two-step heterogeneous transfer learning on LibTorch: train, evaluate and explain image classifiers')
    .showHelpAfterError();
  // in the order of `thtl-native --help`
  registerTrainCommand(program);
  registerDemoCommand(program);
  registerModelsCommand(program);
  registerExperimentCommands(program);
  registerScaleCommands(program);
  registerProbeCommand(program);
  registerCamCommand(program);
  registerDataCommands(program);
  registerSynthCommand(program);
  registerDoctorCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    process.stderr.write(`thtl-native: ${(err instanceof Error ? err.message : String(err)).replace(/^thtl-native: /, '')}\n`);
    process.exitCode = 1;
  }
}
