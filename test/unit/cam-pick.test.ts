// Choosing images and labelling rows for `thtl-native cam`.
import { describe, expect, it } from 'vitest';

import { pickImages, runLabel } from '../../lib/cam/cam.js';

describe('cam helpers', () => {
  it('pickImages takes classes in turn, in split order', () => {
    const entries = [
      { file: 'b1', label: 0 }, { file: 'b2', label: 0 }, { file: 'b3', label: 0 },
      { file: 'm1', label: 1 },
    ];
    expect(pickImages(entries, 2).map((e) => e.file)).toEqual(['b1', 'm1']);
    expect(pickImages(entries, 10).map((e) => e.file)).toEqual(['b1', 'm1', 'b2', 'b3']);
    expect(pickImages([], 3)).toEqual([]);
  });

  it("runLabel uses the paper's marks for study run folders", () => {
    expect(runLabel('resnet50', 'expt1')).toBe('resnet50** (expt1)');
    expect(runLabel('resnet50', 'plusplus')).toBe('resnet50++ (plusplus)');
    expect(runLabel('resnet50', 'swft-step-3')).toBe('resnet50++ step 3');
    expect(runLabel('resnet50', 'lora-step-2')).toBe('resnet50++ step 2 (LoRA)');
    expect(runLabel('vgg19', 'my-run')).toBe('vgg19 (my-run)');
  });
});
