/**
 * The execution providers this build knows, by name (main/inference chooses among them; the API
 * contract and the renderer read the names).
 */
export const PROVIDERS = ['cpu', 'webgpu', 'cuda', 'dml', 'coreml'] as const;
export type Provider = (typeof PROVIDERS)[number];
