/**
 * Pino levels to LogWeaver's level names: trace and debug → DEBUG, info → INFO, warn → WARNING,
 * error → ERROR, fatal → CRITICAL; any other level keeps its own label, upper-cased.
 */

const PINO_LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

const LOGWEAVER_NAMES: Record<string, string> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL',
};

/** Maps a record's `level` (a number, or a label when the logger formats levels) to a level name. */
export type LevelNamer = (level: unknown) => string;

/** `levelsByName` holds the logger's levels (pino's config) or custom levels given as options. */
export function createLevelNamer(levelsByName: Record<string, number> = {}): LevelNamer {
  const byNumber = new Map<number, string>();
  for (const [label, number] of Object.entries({ ...PINO_LEVELS, ...levelsByName })) {
    byNumber.set(number, logweaverName(label));
  }
  return (level) => {
    // An unknown level number keeps its number; one that is no level at all (Infinity, 30.5) is INFO.
    if (typeof level === 'number') return byNumber.get(level) ?? (Number.isInteger(level) ? `LEVEL${level}` : 'INFO');
    if (typeof level === 'string' && level !== '') return logweaverName(level);
    return 'INFO';
  };
}

function logweaverName(label: string): string {
  return LOGWEAVER_NAMES[label.toLowerCase()] ?? label.toUpperCase();
}
