// Expected wall time of the paper's grid (configs/paper.json: 11 models x protocols 1-4,
// ResNet50 SWFT and LoRA-SWFT, 3 runs: the plan `thtl-native plan` writes) on N GPUs,
// from the paper's own measurements: the epochs each stage ran (Tables 3, 4 and 6) and
// the seconds per epoch of the + models on the intermediate domain (Table 5, on an RTX
// A6000 / RTX 2080 Ti). A target-domain epoch is taken as the same model's Table 5 epoch
// scaled by the images per epoch (CE-NBI train + val: 0.9 x 11,144; DR train + val:
// 35,126), for head-only units too, which makes them an upper bound. The units go to
// the GPUs as the local executor sends them: the first ready unit in plan order (the +
// models come first), each once the unit it starts from has finished.
//
//   npm run build:ts && node benchmarks/grid-walltime.mjs [--gpus 1,2,4,8,16,32]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const { planStudy } = await import(join(root, 'dist', 'lib', 'experiment', 'plan.js'));
const { planUnits } = await import(join(root, 'dist', 'lib', 'scale', 'plan-file.js'));
const { native } = await import(join(root, 'dist', 'binding', 'index.js'));

const arg = process.argv.indexOf('--gpus');
const gpuCounts = arg > 0 ? process.argv[arg + 1].split(',').map(Number) : [1, 2, 4, 8, 16, 32];

// the paper: Table 5 (+ model: epochs, s/epoch), Tables 3-4 (epochs of **, ^, *, ++)
const PAPER = {
  densenet121: { plus: [26, 136], expt1: 32, expt2: 68, expt3: 42, plusplus: 26 },
  densenet169: { plus: [26, 156], expt1: 30, expt2: 58, expt3: 35, plusplus: 31 },
  inception_v3: { plus: [20, 142], expt1: 27, expt2: 48, expt3: 32, plusplus: 25 },
  mobilenet_v2: { plus: [17, 120], expt1: 32, expt2: 42, expt3: 44, plusplus: 23 },
  resnet18: { plus: [19, 121], expt1: 28, expt2: 51, expt3: 42, plusplus: 52 },
  resnet50: { plus: [38, 106], expt1: 35, expt2: 56, expt3: 55, plusplus: 44 },
  vgg19: { plus: [32, 150], expt1: 25, expt2: 26, expt3: 43, plusplus: 70 },
  vit_b_16: { plus: [15, 237], expt1: 26, expt2: 37, expt3: 50, plusplus: 70 },
  efficientnet_v2_s: { plus: [13, 251], expt1: 21, expt2: 53, expt3: 37, plusplus: 45 },
  swin_v2_t: { plus: [16, 543], expt1: 20, expt2: 43, expt3: 70, plusplus: 70 },
  maxvit_t: { plus: [13, 548], expt1: 18, expt2: 54, expt3: 46, plusplus: 33 },
};
// Table 6: ResNet50 SWFT and LoRA steps 2-6 (step 1 is the ++ run)
const SWFT = { 2: 29, 3: 34, 4: 29, 5: 32, 6: 30 };
const LORA = { 2: 51, 3: 41, 4: 32, 5: 41, 6: 32 };
const TARGET_SCALE = (0.9 * 11144) / 35126;

const cfg = JSON.parse(readFileSync(join(root, 'configs', 'paper.json'), 'utf8'));
const groups = new Map(native().models().map((m) => [m.name, m.groups.map((g) => g.name)]));
const units = planUnits(planStudy(cfg, (m) => groups.get(m)).units, '/study');

function seconds(u) {
  const p = PAPER[u.model];
  const stage = u.id.split('.').pop();
  const perEpoch = p.plus[1] * (stage === 'plus' ? 1 : TARGET_SCALE);
  const step = /-step-(\d)$/.exec(stage);
  const epochs = stage === 'plus' ? p.plus[0] : step ? (stage.startsWith('lora') ? LORA : SWFT)[step[1]] : p[stage];
  if (epochs === undefined) throw new Error(`no epoch count for ${u.id}`);
  return epochs * perEpoch;
}

function simulate(gpus) {
  const cost = new Map(units.map((u) => [u.id, seconds(u)]));
  const done = new Map(); // id -> finish time
  const free = Array(gpus).fill(0);
  const pending = [...units];
  let now = 0;
  const running = []; // {id, end}
  while (pending.length > 0 || running.length > 0) {
    const ready = pending.filter((u) => u.dependsOn.every((d) => done.has(d)));
    for (const u of ready) {
      const g = free.findIndex((t) => t <= now);
      if (g < 0) break;
      free[g] = now + cost.get(u.id);
      running.push({ id: u.id, end: free[g] });
      pending.splice(pending.indexOf(u), 1);
    }
    running.sort((a, b) => a.end - b.end);
    const next = running.shift();
    now = next.end;
    done.set(next.id, now);
  }
  return now;
}

const total = units.reduce((s, u) => s + seconds(u), 0);
const hours = (s) => (s / 3600).toFixed(1);
const byId = new Map(units.map((u) => [u.id, u]));
const chain = (u) => seconds(u) + (u.dependsOn.length ? chain(byId.get(u.dependsOn[0])) : 0);
const critical = Math.max(...units.map(chain));
console.log(`${units.length} units; ${hours(total)} GPU-hours in all; the longest chain (a + model and a unit after it): ${hours(critical)} h`);
console.log('| GPUs | wall time (h) | speed-up |');
console.log('|---:|---:|---:|');
const one = simulate(1);
for (const n of gpuCounts) {
  const t = simulate(n);
  console.log(`| ${n} | ${hours(t)} | ${(one / t).toFixed(1)}x |`);
}
