/**
 * Operational log: one JSON object per line on stderr, so that the desktop app and scripts can
 * parse it. It carries events, codes, counts and file paths; the engine never reads patient names
 * or IDs, so they cannot appear here. TRIAGE_LOG sets the level (debug, info, warn, error, silent).
 */
const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
export type LogLevel = Exclude<keyof typeof LEVELS, 'silent'>;

function threshold(): number {
  const configured = (process.env.TRIAGE_LOG ?? 'warn') as keyof typeof LEVELS;
  return LEVELS[configured] ?? LEVELS.warn;
}

export type LogSink = (line: string) => void;
let sink: LogSink = (line) => process.stderr.write(`${line}\n`);

/** Tests and adapters redirect the log (the app forwards it to its window). */
export function setLogSink(next: LogSink): LogSink {
  const previous = sink;
  sink = next;
  return previous;
}

export function log(level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
  if (LEVELS[level] < threshold()) return;
  sink(JSON.stringify({ log: { level, event, time: new Date().toISOString(), ...fields } }));
}
