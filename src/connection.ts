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
import { resolveTls, TLS_PARAMETERS, type TlsPlan } from './tls.js';

export interface ConnectionSettings {
  /** Handed to pg.Client; the password is non-enumerable so it never reaches a log or an error. */
  config: ClientConfig;
  /** Where the settings came from, e.g. `DATABASE_URL`. */
  source: string;
  /** user@host:port/database, with no password: safe for messages. */
  description: string;
  /** sslmode and pg's `ssl` option per attempt (tls.ts); undefined: pg's default, no TLS. */
  tls?: TlsPlan;
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
  if (connectionString !== undefined) return fromUrl(connectionString, label, env);
  for (const name of ['LOGWEAVER_DATABASE_URL', 'DATABASE_URL']) {
    const url = env[name];
    if (url) return fromUrl(url, name, env);
  }
  const tls = resolveTls({}, 'the environment', env);
  if (PG_VARIABLES.some((name) => env[name])) return withTls(fromParts({}, 'PG* environment variables', env), tls);
  if (env.OpenClone_DB_Host || env.OpenClone_LogDB_Name) return withTls(fromOpenClone(env), tls);
  return withTls(fromParts({}, 'libpq defaults', env), tls);
}

/** pg's `ssl` set from the plan, so that pg never reads PGSSLMODE with its own meanings. */
function withTls(settings: ConnectionSettings, tls: TlsPlan | undefined): ConnectionSettings {
  if (!tls) return settings;
  settings.config.ssl = tls.first;
  return { ...settings, tls };
}

/** The URL without its TLS parameters (read by tls.ts), and their values. */
function takeTlsParameters(url: string): { rest: string; parameters: Record<string, string> } {
  const mark = url.indexOf('?');
  if (mark === -1) return { rest: url, parameters: {} };
  const query = new URLSearchParams(url.slice(mark + 1));
  const parameters: Record<string, string> = {};
  for (const name of TLS_PARAMETERS) {
    const value = query.get(name);
    if (value !== null) parameters[name] = value;
    query.delete(name);
  }
  const kept = query.toString();
  return { rest: `${url.slice(0, mark)}${kept === '' ? '' : `?${kept}`}`, parameters };
}

function fromUrl(url: string, source: string, env: Env): ConnectionSettings {
  for (const secret of secretsInConnectionString(url)) rememberSecret(secret);
  refuseUnreadable(url, source);
  const { rest, parameters } = takeTlsParameters(url);
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(rest);
  } catch {
    // No cause: what a parser says about a URL may quote it, and an uncaught error prints its cause.
    throw new OptionError(`${source} is not a valid PostgreSQL URL: ${redactCredentials(url)}`);
  }
  const { password, ...visible } = parsed;
  rememberSecret(password);
  const settings = fromParts({ ...visible, password: password ?? undefined } as ClientConfig, source, {});
  return withTls(settings, resolveTls(parameters, source, env));
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
