/**
 * The domain's values as zod schemas, each declared once; their TypeScript types are derived from
 * them. The engine reports them, the results store keeps them, the API contract sends them to the
 * window (validated in both processes). Only zod and main/common here: the Electron main process
 * loads this module too.
 */
export * from './schemas.js';
export * from './evaluation.js';
