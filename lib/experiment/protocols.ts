// The paper's protocols, one row each: id, description, how it expands into training
// units (plan.ts), its stages' marks and tables in the report (report/tables.ts, cam.ts)
// and the paired comparisons it argues from (report/comparisons.ts). Adding a protocol is
// adding a row to BUILTIN_PROTOCOLS; nothing else lists protocols or stages.

/** One stage of a protocol: a kind of report row (run record), and how the report marks it. */
export interface StageRow {
  /** the PlanEntry / RunRecord stage; also the run folder of unstepped stages */
  readonly stage: string;
  /** the paper's mark after the model name: `resnet50**` */
  readonly suffix: string;
  /** the experiment as the tables name it: '#1', 'SWFT' */
  readonly expt: string;
  /** the table whose rows it fills (in row order of the protocols, then of their stages) */
  readonly table: TableId;
  /**
   * Stages with one row per step k (SWFT-like; run folders `<stage>-step-<k>`): `tag` is
   * appended to step labels ('' or ' (LoRA)'); step 1 is the run of stage `step1`.
   */
  readonly stepped?: { readonly tag: string; readonly step1: string };
  /** the subtitle of its ROC figure (what the stage trains); a stage without one (no test set) gets no figure */
  readonly roc?: string;
}

/** The paper's result tables a stage can appear in. */
export type TableId = 'table3' | 'table4' | 'table5' | 'table6';

/** What a unit trains: the fields of a plan's Unit beyond its identity (in Unit's key order). */
export interface UnitRecipe {
  domain: 'target' | 'intermediate';
  init: 'imagenet' | 'random' | 'plus';
  /** 'all', or the group names that train */
  trainable: 'all' | string[];
  lora?: string[];
  /** unit dir whose weights.safetensors this one starts from */
  after?: string;
}

/** One (model, run) of an experiment, as a protocol's `expand` sees it. */
export interface Expansion {
  readonly model: string;
  /** the model's trainable groups, head first */
  readonly groups: readonly string[];
  /** the steps of SWFT-like protocols: the experiment's `steps`, by default every group */
  readonly steps: readonly number[];
  /** adds (once) the unit of run folder `runs/<model>/run-<run>/<name>`; returns its dir */
  unit(name: string, recipe: UnitRecipe): string;
  /** adds a report row of `stage`, filled by the unit `dir` */
  entry(stage: string, dir: string, step?: number): void;
}

/** One side of a paired comparison: a stage, and the step of a stepped stage. */
export interface Side {
  stage: string;
  step?: number;
}

export interface ProtocolRow {
  /** the --protocol id */
  readonly id: string;
  /** one line for --help and docs */
  readonly description: string;
  /** the stages its report rows belong to */
  readonly stages: readonly StageRow[];
  /** adds the units and report rows of one (model, run) */
  expand(x: Expansion): void;
  /** the paired comparisons it argues from, given the steps a model has (ascending); a pair is kept where both sides have runs */
  compare?(steps: readonly number[]): [Side, Side][];
}

// units shared by several protocols (deduplicated by run folder)
const plusUnit = (x: Expansion): string => x.unit('plus', { domain: 'intermediate', init: 'imagenet', trainable: 'all' });
const plusplusUnit = (x: Expansion, plus: string): string => x.unit('plusplus', { domain: 'target', init: 'plus', trainable: [x.groups[0]!], after: plus });

/** SWFT ('swft') or LoRA-SWFT ('lora'): step k on the + model; step 1 is the ++ run. */
function expandSteps(x: Expansion, stage: 'swft' | 'lora'): void {
  const p = plusUnit(x);
  const lora = stage === 'lora';
  for (const k of x.steps) {
    const first = x.groups.slice(0, k);
    const dir =
      k === 1
        ? plusplusUnit(x, p)
        : x.unit(`${stage}-step-${k}`, {
            domain: 'target',
            init: 'plus',
            trainable: lora ? [x.groups[0]!] : k === x.groups.length ? 'all' : first,
            ...(lora ? { lora: first.slice(1) } : {}),
            after: p,
          });
    x.entry(stage, dir, k);
  }
}

/** Each step k >= 2 of `stage` against `other`'s step k (or step 1 when `other` is omitted). */
const stepPairs = (steps: readonly number[], stage: string, other?: string): [Side, Side][] =>
  steps.filter((k) => k >= 2).map((k): [Side, Side] => [{ stage, step: k }, { stage: other ?? stage, step: other ? k : 1 }]);

/** The built-in protocols, in the order of the report's tables and comparisons. */
const BUILTIN_PROTOCOLS = [
  {
    id: '1',
    description: 'ImageNet weights, every parameter trained on the target (**)',
    stages: [{ stage: 'expt1', suffix: '**', expt: '#1', table: 'table3', roc: 'ImageNet weights, all layers trained' }],
    expand: (x) => x.entry('expt1', x.unit('expt1', { domain: 'target', init: 'imagenet', trainable: 'all' })),
    compare: () => [[{ stage: 'expt1' }, { stage: 'plusplus' }]],
  },
  {
    id: '2',
    description: 'random initialisation, every parameter trained on the target (^)',
    stages: [{ stage: 'expt2', suffix: '^', expt: '#2', table: 'table3', roc: 'random initialisation, all layers trained' }],
    expand: (x) => x.entry('expt2', x.unit('expt2', { domain: 'target', init: 'random', trainable: 'all' })),
  },
  {
    id: '3',
    description: 'ImageNet weights, 2-class head replaced, only the head trained on the target (*)',
    stages: [{ stage: 'expt3', suffix: '*', expt: '#3', table: 'table4', roc: 'ImageNet weights, only the head trained' }],
    expand: (x) => x.entry('expt3', x.unit('expt3', { domain: 'target', init: 'imagenet', trainable: [x.groups[0]!] })),
    compare: () => [[{ stage: 'expt3' }, { stage: 'plusplus' }]],
  },
  {
    id: '4',
    description: 'ImageNet weights, every parameter trained on the intermediate domain (+), then only a new head on the target (++)',
    stages: [
      { stage: 'plus', suffix: '+', expt: '#4', table: 'table5' }, // intermediate domain, all trained
      {
        stage: 'plusplus', // target, head only, from the + model
        suffix: '++',
        expt: '#4',
        table: 'table4',
        roc: 'the + model (intermediate domain), only the head trained',
      },
    ],
    expand: (x) => {
      const p = plusUnit(x);
      x.entry('plus', p);
      x.entry('plusplus', plusplusUnit(x, p));
    },
  },
  {
    id: 'swft',
    description: 'Step-Wise Fine-Tuning of the + model: step k trains the first k groups (head first) on the target',
    stages: [
      { stage: 'swft', suffix: '++', expt: 'SWFT', table: 'table6', stepped: { tag: '', step1: 'plusplus' }, roc: 'step k trains the first k groups of the + model' },
    ],
    expand: (x) => expandSteps(x, 'swft'),
    compare: (steps) => stepPairs(steps, 'swft'),
  },
  {
    id: 'lora-swft',
    description: 'the SWFT steps with LoRA adapters on the groups of step k instead of unfrozen weights; the head trains fully',
    stages: [
      {
        stage: 'lora',
        suffix: '++',
        expt: 'LoRA',
        table: 'table6',
        stepped: { tag: ' (LoRA)', step1: 'plusplus' },
        roc: 'step k: LoRA adapters on the groups of SWFT step k, base frozen',
      },
    ],
    expand: (x) => expandSteps(x, 'lora'),
    compare: (steps) => [...stepPairs(steps, 'lora'), ...stepPairs(steps, 'lora', 'swft')],
  },
] as const satisfies readonly ProtocolRow[];

/** The paper's protocol ids. */
export type ProtocolId = (typeof BUILTIN_PROTOCOLS)[number]['id'];
/** Which rows of which table a run belongs to ('4' has two stages: `+` and `++`). */
export type Stage = (typeof BUILTIN_PROTOCOLS)[number]['stages'][number]['stage'];

const rows: ProtocolRow[] = [...BUILTIN_PROTOCOLS];
const descriptions: Record<string, string> = Object.fromEntries(rows.map((r) => [r.id, r.description]));

/** Every protocol, one row each, in table order (the built-in ones, then any registered). */
export const PROTOCOL_ROWS: readonly ProtocolRow[] = rows;

/** id -> one-line description of every protocol (a view of PROTOCOL_ROWS). */
export const PROTOCOLS: Readonly<Record<ProtocolId, string>> = descriptions as Record<ProtocolId, string>;

/**
 * Adds a protocol row after the built-in ones. Meant for tests (a row that exists only in a
 * test, to check that one row is all a protocol needs); a real protocol is a row of
 * BUILTIN_PROTOCOLS. Returns a function that removes the row again.
 */
export function registerProtocol(row: ProtocolRow): () => void {
  if (rows.some((r) => r.id === row.id)) throw new Error(`protocol '${row.id}' exists`);
  for (const s of row.stages) if (stageRow(s.stage)) throw new Error(`stage '${s.stage}' exists`);
  rows.push(row);
  descriptions[row.id] = row.description;
  return () => {
    const i = rows.indexOf(row);
    if (i >= 0) rows.splice(i, 1);
    delete descriptions[row.id];
  };
}

export function protocolRow(id: string): ProtocolRow {
  const row = rows.find((r) => r.id === id);
  if (!row) throw new Error(`unknown protocol '${id}' (known: ${rows.map((r) => r.id).join(', ')})`);
  return row;
}

/** Every stage of every protocol, in table row order. */
export function stageRows(): StageRow[] {
  return rows.flatMap((r) => r.stages);
}

/** The row of a stage; undefined for a name that is no stage. */
export function stageRow(stage: string): StageRow | undefined {
  for (const r of rows) for (const s of r.stages) if (s.stage === stage) return s;
  return undefined;
}

/** The stages a table shows, in row order. */
export function tableStages(table: TableId): Stage[] {
  return stageRows()
    .filter((s) => s.table === table)
    .map((s) => s.stage as Stage);
}

export function parseProtocols(list: string): ProtocolId[] {
  const out: ProtocolId[] = [];
  for (const p of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!Object.hasOwn(descriptions, p)) throw new Error(`unknown protocol '${p}' (known: ${Object.keys(descriptions).join(', ')})`);
    if (!out.includes(p as ProtocolId)) out.push(p as ProtocolId);
  }
  if (out.length === 0) throw new Error('no protocol given');
  return out;
}
