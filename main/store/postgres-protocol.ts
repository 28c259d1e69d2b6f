/** The requests the store thread sends the PostgreSQL thread, and its answers (postgres.ts). */
export type BridgeRequest =
  { op: 'query'; sql: string; params: unknown[] } | { op: 'exec'; sql: string } | { op: 'end' };

export type BridgeReply =
  { ok: true; rows: Record<string, unknown>[]; changes: number } | { ok: false; message: string; code: string | null };
