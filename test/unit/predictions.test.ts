// predictions.csv: written and read back (RFC 4180 quoting of odd file names and groups),
// and a damaged file is refused naming the file and the line.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { predictionsCsv, readPredictions, type Prediction } from '../../lib/train/predictions.js';
import { tempDir } from '../helpers/images.js';

const classes = ['benign', 'malignant'];
const rows: Prediction[] = [
  { split: 'val', file: '/data/a,b "quoted".jpg', group: 'Patient 1, left', label: 0, probs: [0.75, 0.25], predicted: 0 },
  { split: 'test', file: '/data/c.jpg', group: '', label: 1, probs: [0.600000024, 0.399999976], predicted: 0 },
];

describe('predictions.csv', () => {
  it('round-trips rows with commas and quotes in names', () => {
    const path = join(tempDir('pred'), 'predictions.csv');
    writeFileSync(path, predictionsCsv(classes, rows));
    expect(readPredictions(path, classes)).toEqual(rows);
  });

  it('refuses a file of other classes, a damaged line, or none', () => {
    const dir = tempDir('pred-bad');
    const path = join(dir, 'predictions.csv');
    writeFileSync(path, predictionsCsv(classes, rows));
    expect(() => readPredictions(path, ['a', 'b'])).toThrow(`${path}: the header is split,file,group,label,prob_benign,prob_malignant,predicted, expected split,file,group,label,prob_a,prob_b,predicted`);
    writeFileSync(path, `${predictionsCsv(classes, rows)}test,/x.jpg,,benign,0.5,abc,benign\n`);
    expect(() => readPredictions(path, classes)).toThrow(`${path}: line 4 is not a prediction row`);
    expect(() => readPredictions(join(dir, 'none.csv'), classes)).toThrow(/does not exist: the run was made before predictions were kept/);
  });
});
