/**
 * Execution providers. onnxruntime-node does not fall back by itself (a provider that fails to
 * initialise throws), so `auto` tries the platform's GPU providers one at a time and ends on CPU.
 */
import { PROVIDERS } from '../common/index.js';
import type { Provider } from '../common/index.js';

export type ProviderChoice = Provider | 'auto';

export function isProviderChoice(value: string): value is ProviderChoice {
  return value === 'auto' || (PROVIDERS as readonly string[]).includes(value);
}

/** GPU providers worth trying on a platform, most capable first; CPU always ends the list. */
export function candidates(choice: ProviderChoice, platform: NodeJS.Platform = process.platform): Provider[] {
  if (choice !== 'auto') return [choice];
  const gpu: Record<string, Provider[]> = {
    linux: ['cuda', 'webgpu'],
    win32: ['cuda', 'dml', 'webgpu'],
    darwin: ['coreml', 'webgpu'],
  };
  return [...(gpu[platform] ?? []), 'cpu'];
}

/** Providers this onnxruntime-node build cannot have at all, with what to do about it. */
export function unavailableReason(provider: Provider, platform: NodeJS.Platform = process.platform): string | null {
  if (provider === 'dml' && platform !== 'win32') return 'DirectML exists only on Windows';
  if (provider === 'coreml' && platform !== 'darwin') return 'CoreML exists only on macOS';
  return null;
}
