import { describe, expect, it } from 'vitest';

import { EarlyStopping } from '../../lib/train/early-stopping.js';

describe('EarlyStopping', () => {
  it('val_loss: improves only on a strictly lower value (min delta 0), stops after patience', () => {
    const es = new EarlyStopping('val_loss', 2, 0);
    expect(es.update(1, 1.0)).toBe(true);
    expect(es.update(2, 1.0)).toBe(false); // equal is no improvement
    expect(es.shouldStop).toBe(false);
    expect(es.update(3, 0.9)).toBe(true);
    expect(es.update(4, 0.95)).toBe(false);
    expect(es.update(5, 0.91)).toBe(false);
    expect(es.shouldStop).toBe(true);
    expect(es.bestEpoch).toBe(3);
    expect(es.best).toBe(0.9);
  });

  it('val_accuracy: higher is better; min delta is respected', () => {
    const es = new EarlyStopping('val_accuracy', 10, 0.01);
    expect(es.update(1, 0.5)).toBe(true);
    expect(es.update(2, 0.505)).toBe(false);
    expect(es.update(3, 0.52)).toBe(true);
    expect(es.bestEpoch).toBe(3);
  });

  it('state can be saved and restored', () => {
    const es = new EarlyStopping('val_loss', 3);
    es.update(1, 2);
    es.update(2, 3);
    const copy = new EarlyStopping('val_loss', 3);
    copy.restore(es.state());
    expect(copy.state()).toEqual({ best: 2, bestEpoch: 1, waited: 1 });
  });

  it('rejects a bad patience', () => {
    expect(() => new EarlyStopping('val_loss', 0)).toThrow(/patience/);
  });
});
