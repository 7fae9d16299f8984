// `thtl-native cam`: LayerCAM figures and raw maps of a trained model. See lib/cam/cam.ts.
import { Command, Option } from 'commander';

import { runCam, type CamOptions } from '../cam/cam.js';
import { modelSourceProblem } from '../train/trained-model.js';
import { addTrainingFlags, list, positiveInt } from './options.js';
import { UsageError } from './usage.js';

/**
 * The one-line refusal for flags that cannot go together, or null. `given(name)` says
 * whether the user gave a flag (not its default). Checked before any file is read.
 */
export function camFlagConflict(o: Record<string, unknown>, given: (name: string) => boolean): string | null {
  const source = modelSourceProblem(o, 'exclusive');
  if (source) return source;
  if (o.images !== undefined && given('split'))
    return "--images and --split cannot go together: --images explains the files given, --split picks images of the run's split";
  if (o.images !== undefined && given('limit'))
    return '--images and --limit cannot go together: --images explains every file given, --limit caps the images picked by --split';
  return null;
}

export function registerCamCommand(program: Command): void {
  const cmd = program
    .command('cam')
    .description("LayerCAM: what each layer of a trained model looks at (figures, raw .npy maps, cam.json)")
    .option('--run <dir>', 'run folder (uses its weights.safetensors or best.ckpt, config.json and split.json)')
    .option('--checkpoint <file>', 'weights (.safetensors/.pth) or checkpoint (.ckpt); model/classes from a config.json beside it, or --model/--classes')
    .option('--model <name>', 'model name (with --checkpoint outside a run folder)')
    .option('--classes <list>', 'class names in label order (with --checkpoint outside a run folder)', list)
    .option('--input-size <px>', 'input size (default: the run\'s)', positiveInt('--input-size'))
    .option('--images <files...>', 'image files to explain (every one)')
    .addOption(new Option('--split <name>', "images of the run's split (classes in turn), less those the run skipped").choices(['train', 'val', 'test']).default('test'))
    .option('--limit <n>', 'at most this many images of --split', positiveInt('--limit'), 4)
    .option('--layers <list>', "layers (group names; default the model's camLayers, e.g. layer1..layer4 for ResNet)", list)
    .option('--class <c>', "class explained: 'pred' (predicted), a class name or an index", 'pred')
    .addOption(new Option('--fusion <mode>', 'also fuse the layer maps per pixel').choices(['none', 'max', 'mean']).default('none'))
    .option('--compare <dir>', "a second run folder: its maps in a row under the first model's");
  addTrainingFlags(cmd, ['device', 'threads'], 'fill');
  cmd
    .requiredOption('--out <dir>', 'folder for <image>.png, <image>.npy and cam.json')
    .action(async (o: Record<string, unknown>) => {
      const conflict = camFlagConflict(o, (name) => cmd.getOptionValueSource(name) === 'cli');
      if (conflict) throw new UsageError(conflict);
      const summary = await runCam({ ...(o as unknown as CamOptions), cls: o.class as string });
      for (const s of summary)
        process.stdout.write(`${s.figure}: ${s.models.map((m) => `${m.label} -> ${m.class} ${m.probability.toFixed(3)}`).join('; ')}\n`);
    });
}
