// Prints one plain closing line, "Tests: N passed, N failed, N skipped", after the run,
// so anything reading the log (CI included) gets the counts without parsing vitest's table.
import type { Reporter } from 'vitest/reporters';

type Task = { type: string; mode?: string; result?: { state?: string }; tasks?: Task[] };

function count(tasks: Task[], acc: { passed: number; failed: number; skipped: number }): void {
  for (const t of tasks) {
    if (t.tasks) count(t.tasks, acc);
    if (t.type !== 'test') continue;
    const state = t.result?.state;
    if (state === 'pass') acc.passed++;
    else if (state === 'fail') acc.failed++;
    else acc.skipped++;
  }
}

export default class ClosingLineReporter implements Reporter {
  onFinished(files: Task[] = [], errors: unknown[] = []): void {
    const acc = { passed: 0, failed: 0, skipped: 0 };
    count(files, acc);
    for (const f of files) if (f.result?.state === 'fail' && !(f.tasks ?? []).length) acc.failed++;
    acc.failed += errors.length;
    process.stdout.write(`\nTests: ${acc.passed} passed, ${acc.failed} failed, ${acc.skipped} skipped\n`);
  }
}
