// The `thtl-native` command line: one module per command group in lib/commands/.
// Errors are one line, `thtl-native: <what is wrong>`, with at most one more line of hint;
// exit code 2 for a command line that cannot run as given (commander's parse errors and
// UsageError), 1 for a failure of the work. THTL_DEBUG=1 adds the stack trace.
import { Command, CommanderError } from 'commander';

import { registerCamCommand } from './commands/cam.js';
import { registerDataCommands } from './commands/data.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerDoctorCommands } from './commands/doctor.js';
import { registerEvaluateCommands } from './commands/evaluate.js';
import { registerExperimentCommands } from './commands/experiment.js';
import { registerModelsCommand } from './commands/models.js';
import { registerProbeCommand } from './commands/probe.js';
import { registerScaleCommands } from './commands/scale.js';
import { registerSynthCommand } from './commands/synth.js';
import { registerTrainCommand } from './commands/train.js';
import { UsageError } from './commands/usage.js';

/** Commander's "error: option '--epochs <n>' argument 'x' is invalid. --epochs must be ..." as "--epochs must be ...". */
export function commanderMessage(text: string): string {
  // commander's "(Did you mean train?)" goes on the same line
  const body = text.trim().replace(/^error: /, '').replace(/\s*\n\((Did you mean [^)]*)\)$/, (_, hint: string) => ` (${hint.replace(/^D/, 'd')})`);
  const invalid = /^option '([^' ]+)[^']*' argument '(.*)' is invalid\. (.*)$/s.exec(body);
  if (invalid) {
    const [, flag, value, why] = invalid as unknown as [string, string, string, string];
    if (why.startsWith(flag)) return why;
    const choices = /^Allowed choices are (.*)\.$/.exec(why);
    if (choices) return `${flag} must be one of ${choices[1]}, got '${value}'`;
  }
  return body;
}

/** The native layer's call names ("Session.create: ", "ImageSet.build: ") stay in the API; the command line leaves them out. */
export function userMessage(message: string): string {
  return message
    .replace(/^thtl-native: /, '')
    .replace(/^(?:(?:Session|ImageSet)\.\w+|decodeResized|encodeImage|readWeights|writeSafetensors|resolveDevice): /, '');
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Every command prints its parse errors as one line and a hint, and throws instead of exiting. */
function oneLineErrors(cmd: Command): void {
  cmd
    .configureOutput({ outputError: (text, write) => write(`thtl-native: ${commanderMessage(text)}\n`) })
    .showHelpAfterError(`see ${commandPath(cmd)} --help`)
    .exitOverride();
  for (const sub of cmd.commands) oneLineErrors(sub);
}

export function buildCli(): Command {
  const program = new Command('thtl-native').description(
    'Two-step heterogeneous transfer learning on LibTorch: train, evaluate and explain image classifiers',
  );
  // in the order of `thtl-native --help`
  registerTrainCommand(program);
  registerDemoCommand(program);
  registerModelsCommand(program);
  registerExperimentCommands(program);
  registerScaleCommands(program);
  registerProbeCommand(program);
  registerCamCommand(program);
  registerEvaluateCommands(program);
  registerDataCommands(program);
  registerSynthCommand(program);
  registerDoctorCommands(program);
  oneLineErrors(program);
  return program;
}

/** The command the arguments name (for the hint of a usage error). */
function commandOf(program: Command, argv: string[]): Command {
  let cmd = program;
  for (const arg of argv.slice(2)) {
    const sub = cmd.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (!sub) break;
    cmd = sub;
  }
  return cmd;
}

export async function main(argv: string[]): Promise<void> {
  // `thtl-native models | head`: a closed pipe ends the output, not in a stack trace
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  const program = buildCli();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and --version exit 0; a parse error was printed already (outputError)
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    // an error may carry a one-line `summary` for the command line (its message lists every offender, for the API)
    const carried = err instanceof Error ? (err as Error & { summary?: unknown }).summary : undefined;
    const summary = typeof carried === 'string' ? carried : null;
    const message = userMessage(summary ?? (err instanceof Error ? err.message : String(err)));
    process.stderr.write(`thtl-native: ${message}\n`);
    if (err instanceof UsageError) process.stderr.write(`see ${commandPath(commandOf(program, argv))} --help\n`);
    if (process.env.THTL_DEBUG === '1' && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  }
}
