/**
 * The execution providers this build knows, by name (main/inference chooses among them; the API
 * contract and the renderer read the names). `kserve` runs the models on a remote server that
 * speaks the KServe v2 protocol (NVIDIA Triton); its URL is a setting of its own (`--ep
 * kserve:URL`), and each result names the server in its notes.
 */
export const PROVIDERS = ['cpu', 'webgpu', 'cuda', 'dml', 'coreml', 'kserve'] as const;
export type Provider = (typeof PROVIDERS)[number];
