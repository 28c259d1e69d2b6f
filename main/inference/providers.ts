/**
 * Execution providers. onnxruntime-node does not fall back by itself (a provider that fails to
 * initialise throws), so `auto` tries the platform's GPU providers one at a time and ends on CPU.
 * `kserve:URL` runs the models on a KServe v2 server (NVIDIA Triton) at URL; `auto` never picks it.
 */
import { PROVIDERS } from '../common/index.js';
import type { Provider } from '../common/index.js';

export type ProviderChoice = Provider | 'auto' | `kserve:${string}`;

const KSERVE = 'kserve:';

/** Every choice as a command's synopsis shows it. */
export const PROVIDER_SYNOPSIS = `auto|${PROVIDERS.filter((p) => p !== 'kserve').join('|')}|kserve:URL`;

/** Every choice in words, for usage messages and help. */
export const PROVIDER_CHOICES = `auto, ${PROVIDERS.filter((p) => p !== 'kserve').join(', ')} or kserve:http://HOST:PORT`;

/**
 * Why a KServe server URL cannot be used, or null: only plain http:// with a host, and without
 * credentials, a query or a fragment (the URL is logged and stored with every result).
 */
export function endpointProblem(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `"${url}" is not a URL; give kserve:http://HOST:PORT`;
  }
  if (parsed.protocol !== 'http:') return `the KServe server's URL must start with http:// (not ${parsed.protocol}//)`;
  if (parsed.hostname === '') return 'the KServe server URL has no host';
  if (parsed.username !== '' || parsed.password !== '')
    return 'the KServe server URL must not carry a user name or password';
  if (parsed.search !== '' || parsed.hash !== '') return 'the KServe server URL must not have a query or fragment';
  return null;
}

/**
 * The base URL of a kserve choice (no trailing slash; a path prefix such as a proxy's is kept),
 * or null for a local provider.
 */
export function kserveEndpoint(choice: string): string | null {
  if (!choice.startsWith(KSERVE)) return null;
  const parsed = new URL(choice.slice(KSERVE.length));
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
}

/** Why a --ep value is not a provider choice (a sentence for a usage error), or null. */
export function providerChoiceProblem(value: string): string | null {
  if (value.startsWith(KSERVE)) {
    const problem = endpointProblem(value.slice(KSERVE.length));
    return problem === null ? null : `--ep ${value}: ${problem}.`;
  }
  if (value === 'kserve') return '--ep kserve needs the server: kserve:http://HOST:PORT.';
  if (value === 'auto' || (PROVIDERS as readonly string[]).includes(value)) return null;
  return `--ep must be ${PROVIDER_CHOICES}, not "${value}".`;
}

export function isProviderChoice(value: string): value is ProviderChoice {
  return providerChoiceProblem(value) === null;
}

/** GPU providers worth trying on a platform, most capable first; CPU always ends the list. */
export function candidates(choice: ProviderChoice, platform: NodeJS.Platform = process.platform): Provider[] {
  if (choice.startsWith(KSERVE)) return ['kserve'];
  if (choice !== 'auto') return [choice as Provider];
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
