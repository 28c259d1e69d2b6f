/** Validation issues (zod's) as one line a user can act on: where, and what is wrong. */
import type { z } from 'zod';

/** "labels[3].operatingPoint: a trained label needs an operating point" */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path
        .map((part, index) => (typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`))
        .join('');
      return `${path || '(top level)'}: ${issue.message}`;
    })
    .join('; ');
}
