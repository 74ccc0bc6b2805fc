import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../src/options.js';

const URL_WITH_SECRET = 'postgres://app:s3cret-pw@db.example:5433/logs';

describe('resolveOptions', () => {
  it('fills every default', () => {
    const options = resolveOptions({ connectionString: URL_WITH_SECRET, application: 'svc' }, {});
    expect(options).toMatchObject({
      application: 'svc',
      table: 'log',
      schema: 'public',
      flushInterval: 1000,
      batchSize: 2000,
      maxBufferedRows: 200_000,
      maxBufferedBytes: 64 * 1024 * 1024,
      tags: [],
      timezone: 'system',
      customLevels: {},
      createTable: true,
      metaSchema: 'public',
      metaTables: true,
      statsInterval: 0,
    });
    expect(options.connection.description).toBe('app@db.example:5433/logs (from connectionString)');
  });

  it('takes LOGWEAVER_* variables, coercing strings, and lets explicit options win', () => {
    const env = {
      LOGWEAVER_APPLICATION: 'from-env',
      LOGWEAVER_FLUSH_INTERVAL: '250',
      LOGWEAVER_BATCH_SIZE: '500',
      LOGWEAVER_TAGS: 'a, b,,c',
      LOGWEAVER_TIMEZONE: 'America/New_York',
      LOGWEAVER_CUSTOM_LEVELS: 'audit:35,notice:45',
      LOGWEAVER_CREATE_TABLE: 'false',
      LOGWEAVER_RUN_KEY: 'cluster-1',
      LOGWEAVER_META_SCHEMA: 'logweaver',
      LOGWEAVER_META_TABLES: 'no',
    };
    const options = resolveOptions({ batchSize: 10 }, env);
    expect(options).toMatchObject({
      application: 'from-env',
      flushInterval: 250,
      batchSize: 10,
      tags: ['a', 'b', 'c'],
      timezone: 'America/New_York',
      customLevels: { audit: 35, notice: 45 },
      createTable: false,
      runKey: 'cluster-1',
      metaSchema: 'logweaver',
      metaTables: false,
    });
  });

  it.each([
    [{ flushInterval: 0 }, 'flushInterval must be a whole number from 10 to 3600000, got 0'],
    [{ flushInterval: '1s' }, 'flushInterval must be a whole number from 10 to 3600000, got "1s"'],
    [{ batchSize: 2.5 }, 'batchSize must be a whole number from 1 to 100000, got 2.5'],
    [{ maxBufferedRows: -1 }, 'maxBufferedRows must be a whole number from 1 to 100000000, got -1'],
    [{ application: 42 }, 'application must be a string, got 42'],
    [{ table: 'x'.repeat(56) }, 'table must be a PostgreSQL identifier of at most 55 bytes, got "xxxxxxxx'],
    [{ timezone: 'Mars/Olympus' }, 'timezone must be an IANA time zone such as America/New_York, got "Mars/Olympus"'],
    [{ tags: [1, 2] }, 'tags must be a list of strings or a comma-separated string, got an array'],
    [{ customLevels: 'audit=35' }, 'customLevels must look like "audit:35,notice:45", got "audit=35"'],
    [{ createTable: 'maybe' }, 'createTable must be true or false, got "maybe"'],
    [{ metaSchema: 'x'.repeat(64) }, 'metaSchema must be a PostgreSQL identifier of at most 63 bytes, got "xxxxxxxx'],
    [{ metaTables: 'none' }, 'metaTables must be true or false, got "none"'],
    [{ flushIntervall: 5 }, 'unknown option flushIntervall; known options: connectionString, application'],
    ['fast', 'logweaver-pino options must be an object, got "fast"'],
  ])('rejects %j with a message naming the option', (raw, message) => {
    expect(() => resolveOptions(raw, {})).toThrow(message);
  });

  it('names the variable when the bad value came from the environment', () => {
    expect(() => resolveOptions({}, { LOGWEAVER_BATCH_SIZE: 'lots' })).toThrow(
      'LOGWEAVER_BATCH_SIZE must be a whole number from 1 to 100000, got "lots"',
    );
  });

  it('names CLI flags in kebab-case', () => {
    expect(() => resolveOptions({ batchSize: 'x' }, {}, 'cli')).toThrow('--batch-size must be a whole number');
    expect(() => resolveOptions({ metaSchema: 'a\0b' }, {}, 'cli')).toThrow(
      '--meta-schema must be a PostgreSQL identifier of at most 63 bytes, got "a\\u0000b"',
    );
  });

  it("keeps the meta tables in the log table's schema unless told otherwise", () => {
    expect(resolveOptions({ schema: 'logs' }, {}).metaSchema).toBe('logs');
    expect(resolveOptions({ schema: 'logs', metaSchema: 'meta' }, {}).metaSchema).toBe('meta');
  });

  it('never shows the password of a bad URL', () => {
    let message = '';
    try {
      resolveOptions({ connectionString: 'mysql://app:s3cret-pw@db/logs' }, {});
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe('connectionString is not a valid PostgreSQL URL: mysql://app:***@db/logs');
    expect(() => resolveOptions({ connectionString: 'mysql://app:p@ss@db/logs' }, {})).toThrow(
      'connectionString is not a valid PostgreSQL URL: mysql://app:***@db/logs',
    );
    // No scheme, or a mistyped one: nothing says where the password ends, so all before the @ is hidden.
    for (const url of ['app:S3cretPw@db:5432/logs', 'postgres:/app:S3cretPw@db/logs']) {
      expect(() => resolveOptions({ connectionString: url }, {})).toThrow(
        `connectionString is not a valid PostgreSQL URL: ***@db${url.includes('5432') ? ':5432' : ''}/logs`,
      );
    }
  });
});

describe('connection precedence', () => {
  const describeWith = (env: Record<string, string>, explicit?: string) =>
    resolveOptions({ connectionString: explicit, application: 'x' }, env).connection.description;

  it('prefers the option, then LOGWEAVER_DATABASE_URL, then DATABASE_URL, then PG*, then OpenClone_*', () => {
    const all = {
      LOGWEAVER_DATABASE_URL: 'postgres://a@h1/d1',
      DATABASE_URL: 'postgres://b@h2/d2',
      PGHOST: 'h3',
      PGUSER: 'c',
      PGDATABASE: 'd3',
      OpenClone_DB_Host: 'h4',
      OpenClone_LogDB_User: 'd',
      OpenClone_LogDB_Name: 'd4',
      OpenClone_LogDB_Password: 'pw',
    };
    expect(describeWith(all, 'postgres://z@h0/d0')).toBe('z@h0:5432/d0 (from connectionString)');
    expect(describeWith(all)).toBe('a@h1:5432/d1 (from LOGWEAVER_DATABASE_URL)');
    const { LOGWEAVER_DATABASE_URL: _a, ...withoutOwn } = all;
    expect(describeWith(withoutOwn)).toBe('b@h2:5432/d2 (from DATABASE_URL)');
    const { DATABASE_URL: _b, ...withoutUrl } = withoutOwn;
    expect(describeWith(withoutUrl)).toBe('c@h3:5432/d3 (from PG* environment variables)');
    const openClone = {
      OpenClone_DB_Host: 'h4',
      OpenClone_DB_Port: '5433',
      OpenClone_LogDB_User: 'd',
      OpenClone_LogDB_Name: 'd4',
      OpenClone_LogDB_Password: 'pw',
    };
    const settings = resolveOptions({ application: 'x' }, openClone).connection;
    expect(settings.description).toBe('d@h4:5433/d4 (from OpenClone_* environment variables)');
    expect(settings.config.password).toBe('pw');
    expect(JSON.stringify(settings)).not.toContain('pw"');
  });
});

describe('passwords in connection strings (issue 14, item 6)', () => {
  const messageOf = (raw: unknown, env: Record<string, string> = {}) => {
    try {
      resolveOptions(raw, env);
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error('no error');
  };

  it('refuses a libpq keyword/value string, echoing it with the whole quoted password masked', () => {
    const message = messageOf({ connectionString: "host=db port=5433 dbname=logs user=app password='x \\'y\\' z'" });
    expect(message).toBe(
      'connectionString is a libpq keyword/value string, which logweaver-pino does not read: give a ' +
        'postgres://user:password@host:port/database URL, or the PG* variables; ' +
        'got host=db port=5433 dbname=logs user=app password=***',
    );
    expect(messageOf({}, { DATABASE_URL: 'password=a&b host=db' })).toMatch(/got password=\*\*\* host=db$/);
  });

  it('refuses a URL with an @ after the host, where a parser would take part of the password for the host', () => {
    for (const password of ['p/ss?w#rd', 'k3y@hostpart/dbpart', '6543/portdb', 'x#y@z']) {
      const message = messageOf({ connectionString: `postgres://app:${password}@db.example:5433/logs` });
      expect(message).toBe(
        'connectionString is not a valid PostgreSQL URL (an @ after its host: percent-encode / ? # @ in the ' +
          'password or user name as %2F %3F %23 %40): postgres://app:***@db.example:5433/logs',
      );
    }
  });

  it('reads a percent-encoded password whole, and an @ in it unencoded', () => {
    const encoded = resolveOptions({ connectionString: 'postgres://app:p%2Fss%3Fw%23rd@db.example/logs' }, {});
    expect(encoded.connection.config.password).toBe('p/ss?w#rd');
    expect(encoded.connection.description).toBe('app@db.example:5432/logs (from connectionString)');
    const at = resolveOptions({ connectionString: 'postgres://app:a@b@db.example/logs' }, {});
    expect(at.connection.config.password).toBe('a@b');
  });

  it('finds the password by its place, not by a search: one that is also part of the scheme', () => {
    expect(messageOf({ connectionString: 'postgres://app:post@db.example:5x/logs' })).toBe(
      'connectionString is not a valid PostgreSQL URL: postgres://app:***@db.example:5x/logs',
    );
  });

  it('masks a URL given as the value of another option', () => {
    expect(messageOf({ batchSize: 'postgres://app:hunter2@db.example/logs?password=hunter3' })).toBe(
      'batchSize must be a whole number from 1 to 100000, got "postgres://app:***@db.example/logs?password=***"',
    );
  });
});
