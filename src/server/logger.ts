/**
 * Structured logs: one JSON object per line on stderr (stdout stays free for machine-readable
 * lines such as `liubai listening on …`). Never pass request bodies or API keys to a logger.
 */

/** Fields of one log line (JSON-serializable). */
export type LogFields = Readonly<Record<string, unknown>>;

/** Where the server writes its logs. */
export interface Logger {
  info(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/**
 * A logger writing `{"time","level","msg",...fields}` lines to a stream (default stderr).
 * @param write sink of one complete line (newline included)
 */
export function jsonLogger(write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const emit = (level: 'info' | 'error', msg: string, fields?: LogFields) => {
    let line: string;
    try {
      line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields });
    } catch {
      // A field that cannot be serialized must not take the process down with it.
      line = JSON.stringify({ time: new Date().toISOString(), level, msg, note: 'unserializable fields dropped' });
    }
    write(`${line}\n`);
  };
  return {
    info: (msg, fields) => emit('info', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
  };
}

/** A logger that drops everything (benchmarks). */
export const silentLogger: Logger = { info: () => undefined, error: () => undefined };

/** A logger that keeps every line in memory (tests read `lines`). */
export function memoryLogger(): Logger & { readonly lines: Array<{ level: string; msg: string } & Record<string, unknown>> } {
  const lines: Array<{ level: string; msg: string } & Record<string, unknown>> = [];
  return {
    lines,
    info: (msg, fields) => void lines.push({ level: 'info', msg, ...fields }),
    error: (msg, fields) => void lines.push({ level: 'error', msg, ...fields }),
  };
}
