/**
 * Where the database is: the connection settings and a description of them that is safe to print.
 *
 * Precedence: connectionString option > LOGWEAVER_DATABASE_URL > DATABASE_URL > libpq PG* variables
 * > OpenClone's OpenClone_DB_* / OpenClone_LogDB_* variables > libpq defaults.
 */
import type { ClientConfig } from 'pg';
import { parse } from 'pg-connection-string';
import { OptionError } from './errors.js';

export interface ConnectionSettings {
  /** Handed to pg.Client; the password is non-enumerable so it never reaches a log or an error. */
  config: ClientConfig;
  /** Where the settings came from, e.g. `DATABASE_URL`. */
  source: string;
  /** user@host:port/database, with no password: safe for messages. */
  description: string;
}

type Env = Record<string, string | undefined>;

const PG_VARIABLES = ['PGHOST', 'PGHOSTADDR', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGPASSWORD', 'PGSERVICE'];

/** `label` names the explicit option in messages: `connectionString` or `--database-url`. */
export function resolveConnection(connectionString: string | undefined, label: string, env: Env): ConnectionSettings {
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
  let parsed: ReturnType<typeof parse>;
  try {
    if (!/^postgres(ql)?:\/\//i.test(url) && !url.startsWith('/')) throw new Error('not a postgres:// URL');
    parsed = parse(url);
  } catch (error) {
    throw new OptionError(`${source} is not a valid PostgreSQL URL: ${redactUrl(url)}`, { cause: error });
  }
  const { password, ...rest } = parsed;
  return fromParts({ ...rest, password: password ?? undefined } as ClientConfig, source, {});
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
    'OpenClone_* environment variables',
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
  return { config: clean, source, description: `${user}@${host}:${port}/${database} (from ${source})` };
}

/** The URL with its password replaced by ***, or a placeholder when it cannot be parsed. */
export function redactUrl(url: string): string {
  // Up to the last @ before the host: a password may itself contain @.
  return url.replace(/^([a-z]+:\/\/[^:/@]*:)[^/?#]*@/i, '$1***@').replace(/(password=)[^&\s]*/gi, '$1***');
}
