/**
 * Where the database is: the connection settings and a description of them that is safe to print.
 *
 * Precedence: connectionString option > LOGWEAVER_DATABASE_URL > DATABASE_URL > libpq PG* variables
 * > OpenClone's OpenClone_DB_* / OpenClone_LogDB_* variables > libpq defaults.
 */
import type { ClientConfig } from 'pg';
import { parse } from 'pg-connection-string';
import { OptionError } from './errors.js';
import { redactCredentials, rememberName, rememberSecret, secretsInConnectionString } from './secrets.js';

export interface ConnectionSettings {
  /** Handed to pg.Client; the password is non-enumerable so it never reaches a log or an error. */
  config: ClientConfig;
  /** Where the settings came from, e.g. `DATABASE_URL`. */
  source: string;
  /** user@host:port/database, with no password: safe for messages. */
  description: string;
}

type Env = Record<string, string | undefined>;

/** The source named when OpenClone's own variables say where the database is (identity.ts reads it). */
export const OPENCLONE_SOURCE = 'OpenClone_* environment variables';

const PG_VARIABLES = ['PGHOST', 'PGHOSTADDR', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGPASSWORD', 'PGSERVICE'];

/** `label` names the explicit option in messages: `connectionString` or `--database-url`. */
export function resolveConnection(connectionString: string | undefined, label: string, env: Env): ConnectionSettings {
  // pg falls back to PGPASSWORD itself, whichever source is chosen.
  rememberSecret(env.PGPASSWORD);
  rememberSecret(env.OpenClone_LogDB_Password);
  if (connectionString !== undefined) return fromUrl(connectionString, label);
  for (const name of ['LOGWEAVER_DATABASE_URL', 'DATABASE_URL']) {
    const url = env[name];
    if (url) return fromUrl(url, name);
  }
  if (PG_VARIABLES.some((name) => env[name])) return fromParts({}, 'PG* environment variables', env);
  if (env.OpenClone_DB_Host || env.OpenClone_LogDB_Name) return fromOpenClone(env);
  return fromParts({}, 'libpq defaults', env);
}

function fromUrl(url: string, source: string): ConnectionSettings {
  for (const secret of secretsInConnectionString(url)) rememberSecret(secret);
  refuseUnreadable(url, source);
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(url);
  } catch {
    // No cause: what a parser says about a URL may quote it, and an uncaught error prints its cause.
    throw new OptionError(`${source} is not a valid PostgreSQL URL: ${redactCredentials(url)}`);
  }
  const { password, ...rest } = parsed;
  rememberSecret(password);
  return fromParts({ ...rest, password: password ?? undefined } as ClientConfig, source, {});
}

/**
 * Refuses what pg would misread. A libpq keyword/value string (`host=db password=...`) is not a
 * URL to pg: it would connect to a host named `base`. And a URL parser (pg's, like libpq's) ends
 * the host part at the first / ? or #: an @ after that means a password (or user name) holding one
 * of them unencoded, and the part after it would be taken for the host, port or database, and
 * printed as such (`getaddrinfo ENOTFOUND <part of the password>`).
 */
function refuseUnreadable(url: string, source: string): void {
  const redacted = redactCredentials(url);
  if (!/^[a-z][a-z\d+.-]*:\/\//i.test(url) && !url.startsWith('/') && url.includes('=')) {
    throw new OptionError(
      `${source} is a libpq keyword/value string, which logweaver-pino does not read: ` +
        `give a postgres://user:password@host:port/database URL, or the PG* variables; got ${redacted}`,
    );
  }
  if (!/^postgres(ql)?:\/\//i.test(url) && !url.startsWith('/')) {
    // Without a scheme nothing says where a password ends (`app:pw@db/logs`, `postgres:/app:pw@db`):
    // everything before the last @ is hidden.
    const schemeless = !/^[a-z][a-z\d+.-]*:\/\//i.test(url) && url.includes('@');
    const shown = schemeless ? `***${url.slice(url.lastIndexOf('@'))}` : redacted;
    throw new OptionError(`${source} is not a valid PostgreSQL URL: ${shown}`);
  }
  const afterScheme = url.replace(/^[a-z]+:\/\//i, '');
  const hostEnd = afterScheme.search(/[/?#]/);
  if (hostEnd >= 0 && afterScheme.includes('@', hostEnd)) {
    // The URL last: anything after it on the line would be taken for part of it if redacted again.
    throw new OptionError(
      `${source} is not a valid PostgreSQL URL (an @ after its host: percent-encode / ? # @ in the ` +
        `password or user name as %2F %3F %23 %40): ${redacted}`,
    );
  }
}

function fromOpenClone(env: Env): ConnectionSettings {
  const port = env.OpenClone_DB_Port;
  if (port !== undefined && !/^\d+$/.test(port)) {
    throw new OptionError(`OpenClone_DB_Port must be a port number, got ${JSON.stringify(port)}`);
  }
  return fromParts(
    {
      host: env.OpenClone_DB_Host,
      port: port === undefined ? undefined : Number(port),
      database: env.OpenClone_LogDB_Name,
      user: env.OpenClone_LogDB_User,
      password: env.OpenClone_LogDB_Password,
    },
    OPENCLONE_SOURCE,
    {},
  );
}

function fromParts(config: ClientConfig, source: string, env: Env): ConnectionSettings {
  const { password, ...visible } = config;
  const clean = Object.fromEntries(
    Object.entries(visible).filter(([, value]) => value !== undefined && value !== null && value !== ''),
  ) as ClientConfig;
  // pg reads PG* itself when a field is absent; name what it will use so errors can say where.
  const user = clean.user ?? env.PGUSER ?? 'current user';
  const host = clean.host ?? env.PGHOST ?? 'localhost';
  const port = clean.port ?? env.PGPORT ?? 5432;
  const database = clean.database ?? env.PGDATABASE ?? user;
  if (password !== undefined && password !== null) {
    Object.defineProperty(clean, 'password', { value: password, enumerable: false });
  }
  for (const name of [user, host, port, database]) rememberName(name);
  return { config: clean, source, description: `${user}@${host}:${port}/${database} (from ${source})` };
}
