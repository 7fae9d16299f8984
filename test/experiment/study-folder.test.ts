// The study folder's guard in the library (runStudy / prepareStudy `folder`): a folder
// whose study has started is refused without resume or force, resume needs the same
// settings (where and how it runs may change), force is let through; a study only
// planned (no runs/) is taken up.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { checkStudyFolder, StudyFolderError } from '../../lib/experiment/study-folder.js';
import { DEFAULT_STUDY, type StudyConfig } from '../../lib/experiment/study-config.js';
import { tempDir } from '../helpers/images.js';

describe('checkStudyFolder', () => {
  it('refuses a started study without resume or force, and a resume with other settings', () => {
    const out = tempDir('guard');
    const cfg: StudyConfig = { ...DEFAULT_STUDY, experiments: [{ protocols: ['1'], models: ['resnet18'] }], target: 't', out };
    const entry = { stage: 'expt1', model: 'resnet18', run: 1, seed: 1, dir: 'runs/resnet18/run-1/expt1' };
    writeFileSync(join(out, 'study.json'), JSON.stringify({ version: 1, name: 'x', config: cfg, modelOrder: ['resnet18'], entries: [entry] }));
    // planned only: taken up
    expect(() => checkStudyFolder(cfg, {})).not.toThrow();
    mkdirSync(join(out, 'runs'));
    const refused = (() => {
      try {
        checkStudyFolder(cfg, {});
      } catch (err) {
        return err as StudyFolderError;
      }
      return null;
    })();
    expect(refused).toBeInstanceOf(StudyFolderError);
    expect(refused!.message).toBe(`${out} holds a study (0 of 1 report rows finished); set resume to go on with it, or force to start over (the old study is moved to ${out}.replaced-<time>)`);
    expect(refused!.flagged).toContain('give --resume to go on with it, or --force to start over');
    expect(() => checkStudyFolder(cfg, { resume: true })).not.toThrow();
    expect(() => checkStudyFolder({ ...cfg, recipe: { ...cfg.recipe, threads: 3, device: 'cuda' } }, { resume: true })).not.toThrow();
    expect(() => checkStudyFolder({ ...cfg, recipe: { ...cfg.recipe, epochs: 2 } }, { resume: true })).toThrow(
      `recipe.epochs: the study has ${cfg.recipe.epochs}, you gave 2 (${out}); drop the change to resume, or start a new study with another out folder or force`,
    );
    expect(() => checkStudyFolder({ ...cfg, folds: 3, runs: 3 }, { resume: true })).toThrow('folds: the study has null, you gave 3');
    expect(() => checkStudyFolder(cfg, { force: true })).not.toThrow();
    expect(() => checkStudyFolder(cfg, { resume: true, force: true })).toThrow('resume and force cannot go together');
  });
});
