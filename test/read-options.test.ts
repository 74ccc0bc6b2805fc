// The reading commands' filters, parsed once for CLI flags and API parameters alike.
import { describe, expect, it } from 'vitest';
import { parseFilters } from '../src/read/options.js';
import { runCli } from './support/spawn.js';
import { formatTimestamp, parseDuration, parseTimeBound } from '../src/read/time.js';

const NOW = new Date('2026-11-28T12:00:00.000Z');

describe('durations and times', () => {
  it.for<[string, number | undefined]>([
    ['30s', 30_000],
    ['15m', 900_000],
    ['2h', 7_200_000],
    ['1h30m', 5_400_000],
    ['7d', 604_800_000],
    ['1w', 604_800_000],
    ['15', undefined],
    ['m15', undefined],
    ['1.5h', undefined],
  ])('%s', ([text, expected]) => {
    expect(parseDuration(text)).toBe(expected);
  });

  it('reads dates and times in the configured zone unless they carry an offset', () => {
    const at = (text: string, zone: string) => parseTimeBound(text, zone, NOW)?.toISOString();
    expect(at('2026-11-28T09:00', 'America/New_York')).toBe('2026-11-28T14:00:00.000Z');
    expect(at('2026-11-28 09:00:05', 'America/New_York')).toBe('2026-11-28T14:00:05.000Z');
    expect(at('2026-11-28', 'UTC')).toBe('2026-11-28T00:00:00.000Z');
    expect(at('2026-11-28T09:00Z', 'America/New_York')).toBe('2026-11-28T09:00:00.000Z');
    expect(at('2026-11-28T09:00+02:00', 'UTC')).toBe('2026-11-28T07:00:00.000Z');
    expect(at('2h', 'UTC')).toBe('2026-11-28T10:00:00.000Z');
    expect(at('yesterday', 'UTC')).toBeUndefined();
  });

  it('prints instants in the zone, with the offset', () => {
    expect(formatTimestamp(NOW, 'America/New_York')).toBe('2026-11-28T07:00:00.000-05:00');
    expect(formatTimestamp(NOW, 'UTC')).toBe('2026-11-28T12:00:00.000Z');
  });
});

describe('parseFilters', () => {
  it('takes repeated and comma-separated values, Pino level names and booleans as text', () => {
    const filters = parseFilters(
      { application: ['a,b', 'c', 'a'], level: 'warn', tag: 'x', run: 'LATEST', thirdParty: 'false', grep: ' 100% ' },
      'UTC',
      'api',
      NOW,
    );
    expect(filters).toEqual({
      applications: ['a', 'b', 'c'],
      machines: [],
      run: 'latest',
      minLevel: 'WARNING',
      tags: ['x'],
      grep: '100%',
      since: undefined,
      until: undefined,
      thirdParty: false,
    });
  });

  it.for<[string, string]>([
    ['since', '99999999999999d'],
    ['until', '-100000-01-01'],
    ['since', '0000-12-31T23:59Z'],
  ])('refuses --%s %s, a time PostgreSQL cannot compare with, naming the flag and the value', ([name, value]) => {
    expect(() => parseFilters({ [name]: value }, 'UTC', 'cli', NOW)).toThrow(
      `--${name} must be a time between the years 1 and 9999, got "${value}"`,
    );
  });

  it('names the parameter as the API does, or the flag as the CLI does', () => {
    expect(() => parseFilters({ thirdParty: 'maybe' }, 'UTC', 'api')).toThrow(
      'thirdParty must be true or false, got "maybe"',
    );
    expect(() => parseFilters({ run: '-1' }, 'UTC', 'cli')).toThrow('--run must be a run number or "latest", got "-1"');
    expect(() => parseFilters({ level: ['INFO', 'ERROR'] }, 'UTC', 'cli')).toThrow(
      '--level may be given once, got an array',
    );
  });
});

describe('logweaver-pino tail', () => {
  it('exits 2 on --since 99999999999999d, naming the flag and the value, before connecting', async () => {
    const result = await runCli([
      'tail',
      '--since',
      '99999999999999d',
      '--database-url',
      'postgres://nobody@127.0.0.1:1/none',
    ]);
    expect(result.stderr).toBe(
      'logweaver-pino: --since must be a time between the years 1 and 9999, got "99999999999999d"\n',
    );
    expect(result.code).toBe(2);
  });
});
