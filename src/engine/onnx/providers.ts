/**
 * Execution-provider choice. onnxruntime-node registers providers in the order
 * given and lets nodes an earlier provider cannot run fall to later ones, so
 * CPU always comes last. We try the platform's accelerator first and, if the
 * session cannot be created with it (missing CUDA libraries, no adapter), fall
 * back to CPU and remember why, so the UI can show what really runs.
 */
import * as ort from 'onnxruntime-node';
import { TwinLensError } from '../../shared/errors.js';

export type ProviderName = 'cpu' | 'cuda' | 'dml' | 'coreml' | 'webgpu';
export type ProviderChoice = 'auto' | ProviderName;

export const PROVIDER_NAMES: readonly ProviderName[] = ['cpu', 'cuda', 'dml', 'coreml', 'webgpu'];

/** Providers this build of onnxruntime-node can load at all (cuda needs its .so files installed). */
export function bundledProviders(): ProviderName[] {
  const out: ProviderName[] = [];
  const listed = ort.listSupportedBackends?.() ?? [{ name: 'cpu', bundled: true }];
  for (const b of listed) {
    if (!b.bundled && b.name !== 'cuda') continue;
    if ((PROVIDER_NAMES as readonly string[]).includes(b.name)) out.push(b.name as ProviderName);
  }
  // DirectML and CoreML are not listed by listSupportedBackends but are compiled in on their platforms.
  if (process.platform === 'win32' && !out.includes('dml')) out.push('dml');
  if (process.platform === 'darwin' && !out.includes('coreml')) out.push('coreml');
  return out;
}

/**
 * The ordered list of providers to try for one session. 'auto' prefers the
 * platform accelerator; WebGPU is opt-in only (experimental in Node).
 */
export function providerCandidates(choice: ProviderChoice, platform: NodeJS.Platform = process.platform): ProviderName[] {
  if (choice !== 'auto') {
    if (!PROVIDER_NAMES.includes(choice)) {
      throw new TwinLensError('PROVIDER_UNAVAILABLE', `Unknown execution provider "${choice}": use one of auto, ${PROVIDER_NAMES.join(', ')}`);
    }
    return choice === 'cpu' ? ['cpu'] : [choice, 'cpu'];
  }
  const available = bundledProviders();
  const preferred: ProviderName[] =
    platform === 'win32' ? ['dml'] : platform === 'darwin' ? ['coreml'] : platform === 'linux' && process.env.TWINLENS_TRY_CUDA === '1' ? ['cuda'] : [];
  return [...preferred.filter((p) => available.includes(p)), 'cpu'];
}
