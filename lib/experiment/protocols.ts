// The paper's protocols: their ids, one-line descriptions, and parsing a --protocol list.
import type { ProtocolId } from './types.js';

export const PROTOCOLS: Readonly<Record<ProtocolId, string>> = {
  '1': 'ImageNet weights, every parameter trained on the target (**)',
  '2': 'random initialisation, every parameter trained on the target (^)',
  '3': 'ImageNet weights, 2-class head replaced, only the head trained on the target (*)',
  '4': 'ImageNet weights, every parameter trained on the intermediate domain (+), then only a new head on the target (++)',
  swft: 'Step-Wise Fine-Tuning of the + model: step k trains the first k groups (head first) on the target',
  'lora-swft': 'the SWFT steps with LoRA adapters on the groups of step k instead of unfrozen weights; the head trains fully',
};

export function parseProtocols(list: string): ProtocolId[] {
  const out: ProtocolId[] = [];
  for (const p of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(p in PROTOCOLS)) throw new Error(`unknown protocol '${p}' (known: ${Object.keys(PROTOCOLS).join(', ')})`);
    if (!out.includes(p as ProtocolId)) out.push(p as ProtocolId);
  }
  if (out.length === 0) throw new Error('no protocol given');
  return out;
}
