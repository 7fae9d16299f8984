// Early stopping as in the paper's recipe: patience 10, min delta 0, on validation
// loss (lower is better) or validation accuracy (higher is better).
export type Monitor = 'val_loss' | 'val_accuracy';

export class EarlyStopping {
  best = Number.NaN;
  bestEpoch = 0;
  private waited = 0;

  constructor(
    readonly monitor: Monitor,
    readonly patience: number,
    readonly minDelta = 0,
  ) {
    if (!(patience >= 1)) throw new Error(`patience must be at least 1, got ${patience}`);
    if (!(minDelta >= 0)) throw new Error(`min delta must be >= 0, got ${minDelta}`);
  }

  /** Records an epoch's value; true when it is the best so far (save the weights then). */
  update(epoch: number, value: number): boolean {
    const better =
      Number.isNaN(this.best) ||
      (this.monitor === 'val_loss' ? this.best - value > this.minDelta : value - this.best > this.minDelta);
    if (better) {
      this.best = value;
      this.bestEpoch = epoch;
      this.waited = 0;
    } else {
      this.waited++;
    }
    return better;
  }

  /** True once `patience` epochs in a row brought no improvement. */
  get shouldStop(): boolean {
    return this.waited >= this.patience;
  }

  state(): { best: number; bestEpoch: number; waited: number } {
    return { best: this.best, bestEpoch: this.bestEpoch, waited: this.waited };
  }

  restore(s: { best: number; bestEpoch: number; waited: number }): void {
    this.best = s.best;
    this.bestEpoch = s.bestEpoch;
    this.waited = s.waited;
  }
}
