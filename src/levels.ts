/**
 * Levels, for writing and reading alike: LogWeaver's five names, and how Pino's levels map to them
 * (trace and debug → DEBUG, info → INFO, warn → WARNING, error → ERROR, fatal → CRITICAL; any other
 * level keeps its own label, upper-cased).
 */

/** LogWeaver's levels, lowest first. */
export const LEVELS = ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'] as const;
export type Level = (typeof LEVELS)[number];

/** Pino's default levels by label. */
const PINO_LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/** Pino's labels and LogWeaver's own names (any case), to LogWeaver's names. */
const BY_LABEL: Record<string, Level> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  warning: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL',
  critical: 'CRITICAL',
};

/** The LogWeaver level a label names (`warn`, `WARNING`, `fatal`, …), or undefined for any other. */
export function levelOf(label: string): Level | undefined {
  return BY_LABEL[label.toLowerCase()];
}

/** Maps a record's `level` (a number, or a label when the logger formats levels) to a level name. */
export type LevelNamer = (level: unknown) => string;

/** `levelsByName` holds the logger's levels (pino's config) or custom levels given as options. */
export function createLevelNamer(levelsByName: Record<string, number> = {}): LevelNamer {
  const byNumber = new Map<number, string>();
  for (const [label, number] of Object.entries({ ...PINO_LEVELS, ...levelsByName })) {
    byNumber.set(number, levelName(label));
  }
  return (level) => {
    // An unknown level number keeps its number; one that is no level at all (Infinity, 30.5) is INFO.
    if (typeof level === 'number') return byNumber.get(level) ?? (Number.isInteger(level) ? `LEVEL${level}` : 'INFO');
    if (typeof level === 'string' && level !== '') return levelName(level);
    return 'INFO';
  };
}

function levelName(label: string): string {
  return levelOf(label) ?? label.toUpperCase();
}

/** Whether a Pino level (its number, or its label) is below WARNING; unknown labels count as INFO. */
export function isBelowWarning(level: number | string): boolean {
  if (typeof level === 'number') return level < PINO_LEVELS.warn!;
  const known = levelOf(level);
  return known === undefined || LEVELS.indexOf(known) < LEVELS.indexOf('WARNING');
}
