// `--precision auto`: the one place a run's requested precision becomes the precision and
// memory format it trains with. auto means bf16 autocast + channels_last for a
// convolutional model (every registry model not marked `transformer`) where the
// hardware runs bfloat16 fast, fp32 (NCHW) elsewhere; it is for speed, fp32 reproduces the
// paper. The hardware facts are an argument (tests pass their own); by default:
//   - CPU: /proc/cpuinfo's flags name avx512_bf16 or amx_bf16 (Linux; elsewhere fp32);
//   - CUDA: compute capability >= 8.0 (Ampere and newer), read with `nvidia-smi
//     --query-gpu=name,compute_cap` (the addon knows GPU names only); the capability of
//     the GPUs named as the device is, or of every GPU when all agree; unknown -> fp32;
//   - LibTorch 1.x lacks bfloat16 CPU training kernels some models need (measured on
//     Debian's 1.13 with 1-epoch bf16 + channels_last runs of every convolutional model:
//     only mobilenet_v2 fails, "hardshrink_backward_cpu" not implemented for 'BFloat16'
//     for its ReLU6; of the transformers, which auto keeps fp32 anyway, swin_v2_t and
//     maxvit_t fail in layer_norm); the registry marks such models (bf16NeedsLibTorch2) and they train
//     in fp32 on LibTorch < 2 (on every device: a 1.x CUDA build was not measured).
// A resumed run that auto started keeps what auto chose then (it may resume on another
// machine); trainRun passes that choice in as `recorded`.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { native } from '../../binding/index.js';
import type { Precision } from '../../binding/session.js';
import { bf16NeedsLibTorch2, isConvolutional } from '../models/index.js';
import type { PrecisionRequest } from './config.js';


/** CPU flags (/proc/cpuinfo's names) that run bfloat16 fast, with how a reason names them. */
const CPU_BF16_FLAGS: readonly (readonly [flag: string, name: string])[] = [
  ['amx_bf16', 'AMX-BF16'],
  ['avx512_bf16', 'AVX-512 BF16'],
];

/** What auto decides on, besides the model and the device. */
export interface PrecisionFacts {
  /** LibTorch's version ('1.13.0', '2.5.1+cpu') */
  torchVersion: string;
  /** the CPU's flags (/proc/cpuinfo); null where they cannot be read (not Linux) */
  cpuFlags: readonly string[] | null;
  /** compute capability of the CUDA device (8.0, 9.0); null when unknown or not a CUDA device */
  cudaCapability: number | null;
}

/** A run's precision and memory format, and why, when auto chose them. */
export interface PrecisionChoice {
  precision: Precision;
  channelsLast: boolean;
  /** what auto chose and why ("bf16 + channels_last (CPU has AVX-512 BF16)"); null when the precision was not auto */
  reason: string | null;
}

export interface PrecisionRequestOf {
  precision: PrecisionRequest;
  channelsLast: boolean;
  model: string;
  /** the resolved device: 'cpu' or 'cuda:N' (resolveDevice) */
  device: string;
  /** what auto chose when the run being resumed started (its config.json); it stands */
  recorded?: { precision: Precision; channelsLast: boolean };
}

const shown = (p: Precision, channelsLast: boolean): string => `${p}${channelsLast ? ' + channels_last' : ''}`;

/**
 * The precision and channels_last a run uses. A precision other than auto stands as given.
 * auto: bf16 + channels_last for a convolutional model on fast-bfloat16 hardware, else
 * fp32 with channels_last as given; a resumed auto run keeps its recorded choice.
 * `facts` is read only for auto (default: this machine's, precisionFacts).
 */
export function resolvePrecision(req: PrecisionRequestOf, facts: (device: string) => PrecisionFacts = precisionFacts): PrecisionChoice {
  if (req.precision !== 'auto') return { precision: req.precision, channelsLast: req.channelsLast, reason: null };
  const pick = (precision: Precision, why: string): PrecisionChoice => {
    const channelsLast = precision === 'bf16' || req.channelsLast;
    const given = precision !== 'bf16' && req.channelsLast ? '; channels_last as given' : '';
    return { precision, channelsLast, reason: `${shown(precision, channelsLast)} (${why}${given})` };
  };
  if (req.recorded) {
    const channelsLast = req.recorded.channelsLast || req.channelsLast;
    return { precision: req.recorded.precision, channelsLast, reason: `${shown(req.recorded.precision, channelsLast)} (as when the run started)` };
  }
  if (!isConvolutional(req.model)) return pick('fp32', `${req.model} is a transformer`);
  const f = facts(req.device);
  const fast = fastBf16(req.device, f);
  if (!fast.ok) return pick('fp32', fast.why);
  if (Number.parseInt(f.torchVersion, 10) < 2 && bf16NeedsLibTorch2(req.model))
    return pick('fp32', `${fast.why}, but LibTorch ${f.torchVersion} lacks bfloat16 kernels ${req.model} trains with`);
  return pick('bf16', fast.why);
}

/** Whether `device` runs bfloat16 fast, and why (or why not). */
function fastBf16(device: string, f: PrecisionFacts): { ok: boolean; why: string } {
  if (device === 'cpu') {
    if (!f.cpuFlags) return { ok: false, why: "the CPU's bfloat16 support is unknown (no /proc/cpuinfo)" };
    const found = CPU_BF16_FLAGS.find(([flag]) => f.cpuFlags!.includes(flag));
    return found ? { ok: true, why: `CPU has ${found[1]}` } : { ok: false, why: 'CPU has neither AVX-512 BF16 nor AMX-BF16' };
  }
  if (device.startsWith('cuda')) {
    if (f.cudaCapability === null) return { ok: false, why: `compute capability of ${device} unknown (nvidia-smi)` };
    const cc = f.cudaCapability.toFixed(1);
    return f.cudaCapability >= 8 ? { ok: true, why: `${device} has compute capability ${cc}` } : { ok: false, why: `${device} has compute capability ${cc}; bfloat16 needs 8.0` };
  }
  return { ok: false, why: `no bfloat16 rule for device ${device}` };
}

/** This machine's facts for `device` ('cpu', 'cuda:N'): the loaded LibTorch, the CPU's flags, the GPU's compute capability. */
export function precisionFacts(device: string): PrecisionFacts {
  const info = native().info();
  return {
    torchVersion: info.runtimeTorchVersion || info.torchVersion,
    cpuFlags: device === 'cpu' ? cpuFlags() : null,
    cudaCapability: device.startsWith('cuda') ? cudaCapability(Number(device.split(':')[1] ?? 0), info.cudaDevices) : null,
  };
}

/** The `flags` of /proc/cpuinfo's first processor; null where there is none (not Linux). */
export function cpuFlags(cpuinfo?: string): string[] | null {
  let text = cpuinfo;
  if (text === undefined) {
    if (process.platform !== 'linux') return null;
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return null;
    }
  }
  const line = /^flags\s*:(.*)$/m.exec(text);
  return line ? line[1]!.trim().split(/\s+/) : null;
}

/**
 * The compute capability of CUDA device `index` (named `names[index]` by the addon), from
 * `nvidia-smi --query-gpu=name,compute_cap` (its own GPU order may differ from CUDA's:
 * the GPUs of that name are taken, or all when none has it, and must agree); null when
 * nvidia-smi is missing, fails or is too old to know compute_cap, or when they differ.
 */
export function cudaCapability(index: number, names: readonly string[], smi: () => string = nvidiaSmi): number | null {
  let text: string;
  try {
    text = smi();
  } catch {
    return null;
  }
  const rows = text
    .split('\n')
    .map((line) => line.split(',').map((s) => s.trim()))
    .filter((r) => r.length >= 2 && r[0] !== '')
    .map((r) => ({ name: r.slice(0, -1).join(','), cap: Number(r[r.length - 1]) }));
  const named = rows.filter((r) => r.name === names[index]);
  const caps = new Set((named.length > 0 ? named : rows).map((r) => r.cap));
  const [cap] = caps;
  return caps.size === 1 && Number.isFinite(cap) ? cap! : null;
}

function nvidiaSmi(): string {
  return execFileSync('nvidia-smi', ['--query-gpu=name,compute_cap', '--format=csv,noheader'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
}
