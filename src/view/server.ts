/**
 * The log viewer's HTTP server (node:http): the pages' own files, from the package's `viewer/`
 * directory, and the JSON API (api.ts) over a small pool of read connections.
 *
 * It listens on 127.0.0.1 unless told otherwise and has no login, so it refuses requests whose Host
 * is not the address it serves (a web page elsewhere cannot reach it through DNS rebinding), and
 * the page's Content-Security-Policy lets only the package's own script and stylesheet apply — also
 * when the user asks for HTML in messages to be rendered (the page puts it in shadow roots).
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import pg from 'pg';
import { describe, errorText, OptionError } from '../errors.js';
import { openReader, readerConfig } from '../read/connect.js';
import type { ReadTarget } from '../read/options.js';
import { readOnly } from '../read/read-only.js';
import { apiHandler, NotFound, type ViewContext } from './api.js';

export interface ViewerSettings {
  target: ReadTarget;
  host: string;
  port: number;
  /** Let logged <img> tags load from other servers (which then see who reads the logs, and when). */
  remoteImages: boolean;
}

export interface RunningViewer {
  url: string;
  context: ViewContext;
  close(): Promise<void>;
}

/** tsc does not copy these: they live in the package's top-level viewer/ directory. */
const ASSET_DIRECTORY = new URL('../../viewer/', import.meta.url);
const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/viewer.js': { file: 'viewer.js', type: 'text/javascript; charset=utf-8' },
  '/chart.js': { file: 'chart.js', type: 'text/javascript; charset=utf-8' },
  '/address.js': { file: 'address.js', type: 'text/javascript; charset=utf-8' },
  '/common.js': { file: 'common.js', type: 'text/javascript; charset=utf-8' },
  '/reading.js': { file: 'reading.js', type: 'text/javascript; charset=utf-8' },
  '/runs': { file: 'runs.html', type: 'text/html; charset=utf-8' },
  '/runs.js': { file: 'runs.js', type: 'text/javascript; charset=utf-8' },
  '/viewer.css': { file: 'viewer.css', type: 'text/css; charset=utf-8' },
};

/**
 * Scripts and styles only from this server: no inline script, event-handler attribute, <style> or
 * style= (logged HTML can neither run code nor restyle the page). Images from this server and data:
 * URIs, which is how OpenClone's services log <img> tags; from anywhere only with --remote-images,
 * since a remote image is a beacon that tells its server who reads the logs.
 */
function pagePolicy(remoteImages: boolean): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src ${remoteImages ? '*' : "'self'"} data: blob:`,
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const POOL_SIZE = 4;
const MAX_HEADER_BYTES = 16 * 1024;

export async function startViewer(settings: ViewerSettings): Promise<RunningViewer> {
  const assets = loadAssets();
  // The first connection learns the table's shape, and for sslmode allow or prefer whether TLS is used.
  const first = await openReader(settings.target, 'view');
  await first.close();
  const pool = new pg.Pool({ ...readerConfig(settings.target, 'view'), ssl: first.ssl, max: POOL_SIZE });
  pool.on('error', () => undefined); // an idle connection that drops is replaced at the next request
  const context = { ...first.context, remoteImages: settings.remoteImages };
  const served: Served = { pool, context, assets, host: settings.host, policy: pagePolicy(settings.remoteImages) };
  // An explicit header limit, whatever NODE_OPTIONS says: a longer request line or header is a 431.
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (request, response) =>
    answer(request, response, served),
  );
  server.on('connect', refuseConnect);
  await listen(server, settings);
  const url = `http://${urlHost(settings.host)}:${(server.address() as AddressInfo).port}/`;
  return {
    url,
    context,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await pool.end();
    },
  };
}

function loadAssets(): Map<string, { body: Buffer; type: string }> {
  return new Map(
    Object.entries(ASSETS).map(([path, { file, type }]) => [
      path,
      { body: readFileSync(new URL(file, ASSET_DIRECTORY)), type },
    ]),
  );
}

function listen(server: Server, settings: ViewerSettings): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') {
        reject(
          new Error(
            `port ${settings.port} on ${settings.host} is in use; choose another with --port (0 picks a free one)`,
          ),
        );
      } else reject(error);
    });
    server.listen(settings.port, settings.host, () => resolve());
  });
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

interface Served {
  pool: pg.Pool;
  context: ViewContext;
  assets: Map<string, { body: Buffer; type: string }>;
  host: string;
  /** The page's Content-Security-Policy. */
  policy: string;
}

/** What a request asks for. `authority` is the host of an absolute-form target (`GET http://host/path`). */
interface Target {
  authority: string | undefined;
  pathname: string;
  query: URLSearchParams;
}

/**
 * Every request ends in an answer, whatever its shape (FAULTS #30): a throw in a handler is a 500 for
 * that request, never an unhandled rejection, which would end the process.
 */
function answer(request: IncomingMessage, response: ServerResponse, served: Served): void {
  handle(request, response, served).catch((error: unknown) => {
    if (response.headersSent) response.destroy();
    else sendError(response, error);
  });
}

async function handle(request: IncomingMessage, response: ServerResponse, served: Served): Promise<void> {
  response.setHeader('X-Content-Type-Options', 'nosniff');
  response.setHeader('Referrer-Policy', 'no-referrer');
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('Allow', 'GET, HEAD');
    return send(response, 405, { error: 'only GET' });
  }
  const target = requestTarget(request.url ?? '');
  if (!target) return send(response, 400, { error: `not a request target: ${describe(request.url)}` });
  const refused = refusedHost(request, target, served.host);
  if (refused) return send(response, refused.status, { error: refused.error });
  const asset = served.assets.get(target.pathname);
  if (asset) return sendAsset(response, asset, served.policy);
  const handler = apiHandler(target.pathname);
  if (!handler) return send(response, 404, { error: `no such page: ${describe(target.pathname)}` });
  try {
    const client = await served.pool.connect();
    try {
      send(response, 200, await readOnly(client, () => handler(client, served.context, target.query)));
    } finally {
      client.release();
    }
  } catch (error) {
    sendError(response, error);
  }
}

/**
 * `/path?query` as it was sent (no decoding, no dot-segment removal: only exact paths are served), or
 * an absolute-form `http://host/path?query`, which HTTP/1.1 servers must accept. Anything else
 * (`*`, `//host` read as a URL, other schemes) is not a target of this server.
 */
function requestTarget(url: string): Target | undefined {
  if (url.startsWith('/')) {
    const mark = url.indexOf('?');
    const pathname = mark === -1 ? url : url.slice(0, mark);
    return { authority: undefined, pathname, query: new URLSearchParams(mark === -1 ? '' : url.slice(mark + 1)) };
  }
  if (!/^http:\/\//i.test(url) || !URL.canParse(url)) return undefined;
  const parsed = new URL(url);
  return { authority: parsed.host, pathname: parsed.pathname, query: parsed.searchParams };
}

/**
 * Exactly one Host (RFC 9112: a missing, empty or repeated Host is a 400), naming this server: a web
 * page elsewhere that reaches it through DNS rebinding sends its own name, and gets a 421.
 */
function refusedHost(
  request: IncomingMessage,
  target: Target,
  listening: string,
): { status: number; error: string } | undefined {
  const hosts = request.headersDistinct.host ?? [];
  const [host] = hosts;
  if (hosts.length !== 1 || host === undefined || host.trim() === '') {
    return { status: 400, error: 'a request needs exactly one Host header' };
  }
  if (!hostAllowed(target.authority ?? host, listening)) return { status: 421, error: 'unexpected Host header' };
  return undefined;
}

function sendError(response: ServerResponse, error: unknown): void {
  if (error instanceof OptionError) return send(response, 400, { error: error.message });
  if (error instanceof NotFound) return send(response, 404, { error: error.message });
  process.stderr.write(`logweaver-pino: view: ${errorText(error)}\n`);
  send(response, 500, { error: errorText(error) });
}

/** Only the names this server is reached by on this machine (or any, when it listens on all addresses). */
function hostAllowed(header: string, listening: string): boolean {
  if (listening === '0.0.0.0' || listening === '::') return true;
  const name = header.replace(/:\d+$/, '').toLowerCase();
  return ['localhost', '127.0.0.1', '[::1]', urlHost(listening).toLowerCase()].includes(name);
}

/** CONNECT is not served (node:http would drop the connection without an answer). */
function refuseConnect(_request: IncomingMessage, socket: Duplex): void {
  socket.on('error', () => undefined);
  socket.end('HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
}

function sendAsset(response: ServerResponse, asset: { body: Buffer; type: string }, policy: string): void {
  response.writeHead(200, {
    'Content-Type': asset.type,
    'Cache-Control': 'no-cache',
    'Content-Security-Policy': policy,
  });
  response.end(asset.body);
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  response.end(JSON.stringify(body));
}
