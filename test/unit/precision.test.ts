// `--precision auto` (lib/train/precision.ts): what it resolves to for each kind of model,
// device and LibTorch, with the hardware facts passed in; how those facts are read
// (/proc/cpuinfo's flags, nvidia-smi's compute capability); the option accepts it.
import { describe, expect, it } from 'vitest';

import { native } from '../../binding/index.js';
import { bf16NeedsLibTorch2, isConvolutional } from '../../lib/models/index.js';
import { checkTrainConfig, DEFAULT_TRAIN_CONFIG } from '../../lib/train/config.js';
import { cpuFlags, cudaCapability, precisionFacts, resolvePrecision, type PrecisionFacts } from '../../lib/train/precision.js';

const AVX512 = ['fpu', 'sse2', 'avx512f', 'avx512_bf16', 'avx512_vnni'];
const facts = (f: Partial<PrecisionFacts>) => (): PrecisionFacts => ({ torchVersion: '2.5.1', cpuFlags: AVX512, cudaCapability: null, ...f });
const notRead = (): PrecisionFacts => {
  throw new Error('the hardware facts were read');
};
const auto = { precision: 'auto' as const, channelsLast: false, model: 'resnet18', device: 'cpu' };

describe('resolvePrecision', () => {
  it('a precision other than auto stands as given, without reading the hardware', () => {
    for (const precision of ['fp32', 'bf16', 'fp16'] as const)
      for (const channelsLast of [false, true])
        expect(resolvePrecision({ ...auto, precision, channelsLast }, notRead)).toEqual({ precision, channelsLast, reason: null });
  });

  it('CPU: bf16 + channels_last where the CPU has AVX-512 BF16 or AMX-BF16, fp32 elsewhere', () => {
    expect(resolvePrecision(auto, facts({}))).toEqual({ precision: 'bf16', channelsLast: true, reason: 'bf16 + channels_last (CPU has AVX-512 BF16)' });
    expect(resolvePrecision(auto, facts({ cpuFlags: ['avx512f', 'amx_bf16', 'amx_tile'] })).reason).toBe('bf16 + channels_last (CPU has AMX-BF16)');
    expect(resolvePrecision(auto, facts({ cpuFlags: ['avx2', 'avx512f'] }))).toEqual({
      precision: 'fp32',
      channelsLast: false,
      reason: 'fp32 (CPU has neither AVX-512 BF16 nor AMX-BF16)',
    });
    // not Linux: unknown, so fp32
    expect(resolvePrecision(auto, facts({ cpuFlags: null }))).toMatchObject({ precision: 'fp32', channelsLast: false, reason: expect.stringMatching(/unknown/) });
    // an explicit channels_last stays on with fp32
    expect(resolvePrecision({ ...auto, channelsLast: true }, facts({ cpuFlags: [] }))).toEqual({
      precision: 'fp32',
      channelsLast: true,
      reason: 'fp32 + channels_last (CPU has neither AVX-512 BF16 nor AMX-BF16; channels_last as given)',
    });
  });

  it('CUDA: bf16 + channels_last from compute capability 8.0, fp32 below or when unknown', () => {
    const cuda = { ...auto, device: 'cuda:1' };
    expect(resolvePrecision(cuda, facts({ cudaCapability: 8, cpuFlags: null }))).toEqual({ precision: 'bf16', channelsLast: true, reason: 'bf16 + channels_last (cuda:1 has compute capability 8.0)' });
    expect(resolvePrecision(cuda, facts({ cudaCapability: 9 })).precision).toBe('bf16');
    expect(resolvePrecision(cuda, facts({ cudaCapability: 7.5 }))).toEqual({ precision: 'fp32', channelsLast: false, reason: 'fp32 (cuda:1 has compute capability 7.5; bfloat16 needs 8.0)' });
    expect(resolvePrecision(cuda, facts({ cudaCapability: null }))).toMatchObject({ precision: 'fp32', reason: expect.stringMatching(/compute capability of cuda:1 unknown/) });
  });

  it('transformers take fp32 on any hardware (the facts are not read); every other registry model is convolutional', () => {
    for (const model of ['vit_b_16', 'swin_v2_t', 'maxvit_t'])
      expect(resolvePrecision({ ...auto, model }, notRead)).toEqual({ precision: 'fp32', channelsLast: false, reason: `fp32 (${model} is a transformer)` });
    const names = native().models().map((m) => m.name);
    expect(names.filter((m) => !isConvolutional(m))).toEqual(['vit_b_16', 'swin_v2_t', 'maxvit_t']);
    expect(names.filter(isConvolutional)).toEqual(['resnet18', 'resnet50', 'mobilenet_v2', 'inception_v3', 'densenet121', 'densenet169', 'vgg19', 'efficientnet_v2_s']);
  });

  it('LibTorch 1.x: the models whose bfloat16 kernels it lacks take fp32; 2.x trains them in bf16', () => {
    expect(native().models().map((m) => m.name).filter(bf16NeedsLibTorch2)).toEqual(['mobilenet_v2', 'swin_v2_t', 'maxvit_t']);
    const mobilenet = { ...auto, model: 'mobilenet_v2' };
    expect(resolvePrecision(mobilenet, facts({ torchVersion: '1.13.0' }))).toEqual({
      precision: 'fp32',
      channelsLast: false,
      reason: 'fp32 (CPU has AVX-512 BF16, but LibTorch 1.13.0 lacks bfloat16 kernels mobilenet_v2 trains with)',
    });
    expect(resolvePrecision(mobilenet, facts({ torchVersion: '2.13.0+cpu' })).precision).toBe('bf16');
    expect(resolvePrecision(auto, facts({ torchVersion: '1.13.0' })).precision).toBe('bf16');
  });

  it('a resumed run that auto started keeps what auto chose then, whatever this machine has', () => {
    const recorded = { precision: 'bf16' as const, channelsLast: true };
    expect(resolvePrecision({ ...auto, recorded }, notRead)).toEqual({ precision: 'bf16', channelsLast: true, reason: 'bf16 + channels_last (as when the run started)' });
    // an fp32 choice with channels_last given now: the run's identity check refuses the change
    expect(resolvePrecision({ ...auto, channelsLast: true, recorded: { precision: 'fp32', channelsLast: false } }, notRead)).toMatchObject({ precision: 'fp32', channelsLast: true });
  });
});

describe('the hardware facts', () => {
  it("/proc/cpuinfo's flags: the first processor's", () => {
    expect(cpuFlags('processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu avx512f avx512_bf16\nbugs\t\t: none\n\nprocessor\t: 1\nflags\t\t: fpu\n')).toEqual(['fpu', 'avx512f', 'avx512_bf16']);
    expect(cpuFlags('Processor\t: ARMv7\nFeatures\t: neon\n')).toBeNull();
  });

  it("nvidia-smi's compute capability of the device's GPU: by its name, else all GPUs when they agree; unknown otherwise", () => {
    const two = 'NVIDIA A100-SXM4-80GB, 8.0\nTesla T4, 7.5\n';
    expect(cudaCapability(0, ['NVIDIA A100-SXM4-80GB', 'Tesla T4'], () => two)).toBe(8);
    expect(cudaCapability(1, ['NVIDIA A100-SXM4-80GB', 'Tesla T4'], () => two)).toBe(7.5);
    // CUDA_VISIBLE_DEVICES hides one: the name still finds it
    expect(cudaCapability(0, ['Tesla T4'], () => two)).toBe(7.5);
    expect(cudaCapability(0, ['some other name'], () => 'NVIDIA H100 80GB HBM3, 9.0\nNVIDIA H100 80GB HBM3, 9.0\n')).toBe(9);
    expect(cudaCapability(0, ['some other name'], () => two)).toBeNull();
    expect(cudaCapability(0, ['GPU'], () => 'GPU, [N/A]\n')).toBeNull();
    expect(
      cudaCapability(0, ['GPU'], () => {
        throw new Error('nvidia-smi: not found');
      }),
    ).toBeNull();
  });

  it("this machine's: the loaded LibTorch, the CPU's flags for the CPU, no capability off CUDA", () => {
    const info = native().info();
    const f = precisionFacts('cpu');
    expect(f.torchVersion).toBe(info.runtimeTorchVersion || info.torchVersion);
    expect(f.cudaCapability).toBeNull();
    if (process.platform === 'linux') expect(f.cpuFlags?.length).toBeGreaterThan(0);
  });
});

describe('the precision option', () => {
  it("takes auto; the default stays fp32 (the paper's numbers)", () => {
    expect(DEFAULT_TRAIN_CONFIG.precision).toBe('fp32');
    expect(() => checkTrainConfig({ ...DEFAULT_TRAIN_CONFIG, model: 'resnet18', data: 'd', out: 'o', precision: 'auto' })).not.toThrow();
    expect(() => checkTrainConfig({ ...DEFAULT_TRAIN_CONFIG, model: 'resnet18', data: 'd', out: 'o', precision: 'fp64' as 'fp32' })).toThrow(
      /^precision must be one of fp32, bf16, fp16, auto, got 'fp64'$/,
    );
  });
});
