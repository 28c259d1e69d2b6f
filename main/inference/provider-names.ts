/**
 * The execution providers this build knows, by name. No imports: the desktop app's API contract
 * (which its renderer type-checks) reads this list too.
 */
export const PROVIDERS = ['cpu', 'webgpu', 'cuda', 'dml', 'coreml'] as const;
export type Provider = (typeof PROVIDERS)[number];
