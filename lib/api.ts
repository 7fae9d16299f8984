// The package's programmatic API for other Node tools.
export { native, addonPath } from '../binding/index.js';
export type { NativeSession, SessionOptions, EpochStats, EvalResult, LayerCamResult, LoraReport } from '../binding/session.js';
export type { ModelInfo } from '../binding/models.js';
export { trainRun, buildSplit, type RunResult } from './train/runner.js';
export { DEFAULT_TRAIN_CONFIG, type TrainConfig } from './train/config.js';
export { EarlyStopping } from './train/early-stopping.js';
export { classificationReport, type ClassificationReport } from './metrics.js';
export { stratifiedSplit } from './split.js';
export { readImageFolder } from './data/imagefolder.js';
export { runDemo } from './demo.js';
export { writeSynthDataset, SYNTH_DOMAINS, type SynthDomain, type SynthDatasetOptions } from './synth/write.js';
export { doctor } from './doctor.js';
export { runStudy, planStudy, collectRecords, readStudyFile, writeStudyReport, PROTOCOLS, DEFAULT_RECIPE, type StudyConfig, type Recipe } from './experiment/study.js';
export { readStudyConfig, mergeStudy } from './experiment/config-file.js';
export { fetchWeights, findImagenetWeights, IMAGENET_WEIGHT_FILES } from './experiment/weights.js';
export type { RunRecord, ProtocolId, Stage } from './experiment/types.js';
export { buildReport, writeReport } from './report/index.js';
export { runCam, type CamOptions } from './cam.js';
