// The package's programmatic API for other Node tools.
import { native } from '../binding/index.js';
import type { ImageSet as NativeImageSet, ImageSetBuildOptions } from '../binding/data.js';
import type { NativeSession, SessionOptions } from '../binding/session.js';

export { native, addonPath } from '../binding/index.js';
export type { NativeSession, SessionOptions, SessionInfo, EpochStats, EvalResult, LayerCamResult, LoraReport } from '../binding/session.js';
export type { ImageSet as NativeImageSet, ImageSetBuildOptions, ImageSetStats, DecodeFailure } from '../binding/data.js';

/** A model held natively: `await Session.create({ model, numClasses })` (docs/API.md). */
export const Session = {
  create: (options: SessionOptions): Promise<NativeSession> => native().Session.create(options),
};

/** Decoded, resized images: `await ImageSet.build(files, size, options)` (docs/API.md). */
export const ImageSet = {
  build: (files: string[], size: number, options?: ImageSetBuildOptions): Promise<NativeImageSet> =>
    native().ImageSet.build(files, size, options),
};
export type { ModelInfo } from '../binding/models.js';
export { trainRun, type RunResult, type RunOptions } from './train/runner.js';
export { trainCrossValidation, cvMarkdown, foldValRatio, FoldsError, type CrossValidationOptions, type CrossValidationResult, type CvSummary, type FoldRow } from './train/cv.js';
export { DEFAULT_TRAIN_CONFIG, TRAIN_OPTIONS, checkTrainConfig, type TrainConfig } from './train/config.js';
export { EarlyStopping } from './train/early-stopping.js';
export { classificationReport, oneVsRestAuc, quadraticWeightedKappa, type ClassificationReport } from './stats/metrics.js';
export { calibrationError, binaryCalibrationError, reliabilityBins, binaryReliabilityBins, brierScore, multiclassBrier, fitTemperature, temperatureNll, logitsFromProbs, type CalibrationOptions, type CalibrationNorm, type ReliabilityBin, type TemperatureFit, type TemperatureOptions } from './stats/calibration.js';
export { buildSplit, stratifiedSplit } from './split/index.js';
export { kfoldAssign, kfoldSplits, writeFoldsFile, readFoldsFile, type KFoldAssignment, type KFoldOptions, type KFoldSplitOptions, type FoldsFile, type FoldStats } from './split/index.js';
export { readImageFolder } from './data/imagefolder.js';
export { runDemo } from './experiment/demo.js';
export { writeSynthDataset, SYNTH_DOMAINS, type SynthDomain, type SynthDatasetOptions } from './synth/write.js';
export { doctor } from './install/doctor.js';
export { runStudy, prepareStudy, checkStudyFolder, StudyFolderError, type StudyFolderOptions, planStudy, collectRecords, readStudyFile, writeStudyReport, PROTOCOLS, DEFAULT_RECIPE, type StudyConfig, type Recipe, type StudyRunOptions } from './experiment/study.js';
export { writePlanFile, readPlanFile, type PlanFile, type PlanUnit } from './scale/plan-file.js';
export { runUnit } from './scale/run-unit.js';
export { submitStudy, type SlurmOptions } from './scale/slurm.js';
export { studyStatus, formatStatus, type StudyStatus, type UnitStatus } from './scale/status.js';
export { readStudyConfig, mergeStudy } from './experiment/config-file.js';
export { fetchWeights, findImagenetWeights, imagenetWeightFiles } from './models/index.js';
export type { RunRecord, ProtocolId, Stage } from './experiment/types.js';
export { buildReport, writeReport } from './report/index.js';
export { buildStatistics, type StudyStatistics, type ComparisonRow } from './report/comparisons.js';
export { buildHtmlReport, writeHtmlReport } from './report/html.js';
export { delongTest, mcnemarExact, holm } from './stats/tests.js';
export { bootstrapRun, pairedBootstrap, type ScoredImage, type BootstrapOptions } from './stats/bootstrap.js';
export { readPredictions, type Prediction } from './train/predictions.js';
export { runProbe, type ProbeOptions, type ProbeResult } from './probe/probe.js';
export { frechetDistance, mmd2, meanCosine, logme, emd1d } from './probe/scores.js';
export { runCam, type CamOptions } from './cam/cam.js';
export { evaluateModel, type EvaluateOptions, type EvaluationMetrics } from './evaluate/evaluate.js';
export { predictImages, type PredictOptions, type PredictionRow } from './evaluate/predict.js';
export { TTA_MODES, type Tta } from './evaluate/tta.js';
