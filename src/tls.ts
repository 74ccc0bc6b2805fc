/**
 * TLS with libpq's meanings of `sslmode` (https://www.postgresql.org/docs/current/libpq-ssl.html),
 * from the URL's parameters or else the PGSSLMODE, PGSSLROOTCERT, PGSSLCERT and PGSSLKEY variables.
 *
 * node-postgres 8 reads `sslmode=require` (and prefer, verify-ca) as verify-full, and with PGSSLMODE
 * set and no `ssl` option it does the same. Its libpq-compatible mode (pg-connection-string's
 * `useLibpqCompat`) reads only the URL, never falls back to plain for `prefer`, and fails inside
 * the URL parser when a file is missing; so the parameters are taken out of the URL and read here.
 *
 * | sslmode     | encrypted        | server certificate checked                                   |
 * | disable     | no               | -                                                            |
 * | allow       | if plain fails   | against sslrootcert when one is given                        |
 * | prefer      | unless refused   | against sslrootcert when one is given                        |
 * | require     | yes              | against sslrootcert when one is given (then as verify-ca)    |
 * | verify-ca   | yes              | chain against sslrootcert (required)                         |
 * | verify-full | yes              | chain against sslrootcert (required), and the host name      |
 */
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { OptionError, describe } from './errors.js';

const MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof MODES)[number];

/** URL parameters read here, not by pg (which would give them its own meanings). */
export const TLS_PARAMETERS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey'] as const;
type TlsParameter = (typeof TLS_PARAMETERS)[number];
const VARIABLES: Record<TlsParameter, string> = {
  sslmode: 'PGSSLMODE',
  sslrootcert: 'PGSSLROOTCERT',
  sslcert: 'PGSSLCERT',
  sslkey: 'PGSSLKEY',
};

/** pg's `ssl` option for each attempt: the first, and for allow and prefer the one after it fails. */
export interface TlsPlan {
  mode: SslMode;
  first: false | ConnectionOptions;
  fallback?: false | ConnectionOptions;
}

type Env = Record<string, string | undefined>;

/** A parameter's value and where it came from (`sslrootcert in DATABASE_URL`, `PGSSLROOTCERT`). */
interface Picked {
  value: string;
  label: string;
}

/**
 * The plan from the URL's parameters (`from` names the URL's source) and the environment; undefined
 * when neither names an sslmode or a file (pg's own default then: no TLS).
 */
export function resolveTls(
  parameters: Partial<Record<TlsParameter, string>>,
  from: string,
  env: Env,
): TlsPlan | undefined {
  const pick = (name: TlsParameter): Picked | undefined =>
    parameters[name] !== undefined
      ? { value: parameters[name], label: `${name} in ${from}` }
      : env[VARIABLES[name]]
        ? { value: env[VARIABLES[name]] as string, label: VARIABLES[name] }
        : undefined;
  const mode = pick('sslmode');
  if (!mode && !TLS_PARAMETERS.some((name) => pick(name))) return undefined;
  const sslmode = parseMode(mode);
  const files = { rootCert: pick('sslrootcert'), cert: pick('sslcert'), key: pick('sslkey') };
  return plan(sslmode, files);
}

function parseMode(picked: Picked | undefined): SslMode {
  if (!picked) return 'prefer'; // libpq's default, when only certificate files are named
  // node-postgres's name for "encrypt, verify nothing": libpq's require without a root certificate.
  if (picked.value === 'no-verify') return 'require';
  if ((MODES as readonly string[]).includes(picked.value)) return picked.value as SslMode;
  throw new OptionError(`${picked.label} must be one of ${MODES.join(', ')}; got ${describe(picked.value)}`);
}

function plan(mode: SslMode, files: { rootCert?: Picked; cert?: Picked; key?: Picked }): TlsPlan {
  if (mode === 'disable') return { mode, first: false };
  const tls: ConnectionOptions = rootCertificates(mode, files.rootCert);
  addClientCertificate(tls, files);
  // Only verify-full checks the host name; the others check the chain, when they check at all.
  if (mode !== 'verify-full') tls.checkServerIdentity = () => undefined;
  if (mode === 'allow') return { mode, first: false, fallback: tls };
  if (mode === 'prefer') return { mode, first: tls, fallback: false };
  return { mode, first: tls };
}

/**
 * libpq verifies the server's chain whenever a root certificate file is there (for require too);
 * without one, verify-ca and verify-full refuse to start and the other modes verify nothing.
 * `sslrootcert=system` trusts the system's CAs (Node's bundled ones here).
 */
function rootCertificates(mode: SslMode, picked: Picked | undefined): ConnectionOptions {
  if (picked?.value === 'system') return {};
  const file = picked ?? defaultFile('root.crt', 'sslrootcert');
  if (file) return { ca: readPem(file) };
  if (mode === 'verify-ca' || mode === 'verify-full') {
    throw new OptionError(
      `sslmode=${mode} checks the server's certificate, so it needs sslrootcert (a file of trusted CA ` +
        `certificates, PGSSLROOTCERT, or ~/.postgresql/root.crt), or sslrootcert=system`,
    );
  }
  return { rejectUnauthorized: false };
}

/** A client certificate (sslcert and sslkey, or libpq's default files when both exist). */
function addClientCertificate(tls: ConnectionOptions, files: { cert?: Picked; key?: Picked }): void {
  const cert = files.cert ?? (files.key ? undefined : defaultFile('postgresql.crt', 'sslcert'));
  const key = files.key ?? (files.cert ? undefined : defaultFile('postgresql.key', 'sslkey'));
  if (!cert && !key) return;
  if (!cert || !key) {
    const [given, missing] = cert ? [cert.label, 'sslkey'] : [(key as Picked).label, 'sslcert'];
    throw new OptionError(`${given} is set but ${missing} is not: a client certificate needs both`);
  }
  refuseOpenKey(key);
  tls.cert = readPem(cert);
  // Not enumerable, as pg makes it: the key never reaches a log line or an inspected error.
  Object.defineProperty(tls, 'key', { value: readPem(key), enumerable: false });
}

/** libpq's default location of a file, when it exists (~/.postgresql/NAME). */
function defaultFile(name: string, option: string): Picked | undefined {
  const path = join(homedir(), '.postgresql', name);
  return isFile(path) ? { value: path, label: `${option} (default ${path})` } : undefined;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function readPem(file: Picked): string {
  try {
    return readFileSync(file.value, 'utf8');
  } catch (error) {
    throw unreadable(file, error);
  }
}

function unreadable(file: Picked, error: unknown): OptionError {
  const code = (error as { code?: string }).code ?? 'unreadable';
  return new OptionError(`${file.label}: cannot read ${describe(file.value)} (${code})`, { cause: error });
}

/** As libpq: a private key others may read is refused (root-owned keys may be group-readable). */
function refuseOpenKey(key: Picked): void {
  let mode: number;
  let uid: number;
  try {
    ({ mode, uid } = statSync(key.value));
  } catch (error) {
    throw unreadable(key, error);
  }
  const open = uid === 0 ? mode & 0o037 : mode & 0o077;
  if (open !== 0) {
    throw new OptionError(
      `${key.label}: ${describe(key.value)} may be read by other users; make it 0600 (chmod 600), as libpq requires`,
    );
  }
}

/**
 * Connects as the plan says: for allow and prefer, a failed first attempt is followed by the other
 * (libpq does the same). A failure names the sslmode. `setup` runs on each client before it connects
 * (an 'error' listener).
 */
export async function connectClient(
  config: pg.ClientConfig,
  tls: TlsPlan | undefined,
  setup: (client: pg.Client) => void = () => undefined,
): Promise<{ client: pg.Client; ssl: pg.ClientConfig['ssl'] }> {
  const attempts = tls ? [tls.first, ...(tls.fallback === undefined ? [] : [tls.fallback])] : [config.ssl];
  let failure: unknown;
  for (const ssl of attempts) {
    const client = new pg.Client({ ...config, password: config.password, ssl });
    setup(client);
    try {
      await client.connect();
      return { client, ssl };
    } catch (error) {
      client.end().catch(() => undefined);
      failure = error;
    }
  }
  throw tls ? namingMode(failure, tls.mode) : failure;
}

/** Node's words for a chain that does not lead to a trusted CA, and what they mean here. */
const UNTRUSTED_CHAIN = [
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
];

/** `sslmode=verify-full: <cause>`, keeping the SQLSTATE or Node code the cause has. */
function namingMode(error: unknown, mode: SslMode): Error {
  const code = (error as { code?: unknown } | undefined)?.code;
  const hint = UNTRUSTED_CHAIN.includes(code as string)
    ? " (no CA in sslrootcert signed the server's certificate)"
    : '';
  const message = `${error instanceof Error ? error.message : String(error)}${hint}`;
  const named = new Error(`sslmode=${mode}: ${message}`, { cause: error });
  if (typeof code === 'string') Object.assign(named, { code });
  return named;
}
