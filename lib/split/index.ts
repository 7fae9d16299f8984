// Every split concern, one entry point: the stratified ratio split (stratified.ts), the
// split that keeps a patient's images together (group.ts), split.json files (file.ts),
// images shared between parts and classes too small to split (leaks.ts),
// patient-grouped stratified k-fold assignments and folds.json (kfold.ts),
// a run's split (run.ts) and a study's shared splits (study.ts). lib/train, which
// study.ts depends on through the study's types, imports the file it needs instead of
// this index, so that there is no import cycle.
export * from './stratified.js';
export * from './group.js';
export * from './file.js';
export * from './leaks.js';
export * from './kfold.js';
export * from './run.js';
export * from './study.js';
