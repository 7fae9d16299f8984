// LibTorch's thread count: every place that sets it goes through here.
import { native } from '../../binding/index.js';

/** Sets LibTorch's intra-op threads for this process (0: all cores); returns the count in force. */
export function setTorchThreads(n: number): number {
  return native().setThreads(n);
}
