// Realistic Pino records of about 300 bytes: request ids, routes, status codes, durations, tags,
// user agents, and some messages with quotes.
const ROUTES = ['/api/render', '/api/avatars/:id', '/health', '/api/sessions', '/api/upload'];
const AGENTS = ['Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0', 'curl/8.5.0', 'okhttp/4.12.0'];

export function recordFields(seq) {
  return {
    seq,
    requestId: `req-${(seq * 2654435761) % 4294967296}`,
    method: seq % 5 === 0 ? 'POST' : 'GET',
    route: ROUTES[seq % ROUTES.length],
    status: seq % 50 === 0 ? 500 : 200,
    durationMs: (seq % 997) / 10,
    userAgent: AGENTS[seq % AGENTS.length],
    tags: seq % 3 === 0 ? ['http', 'render'] : ['http'],
  };
}

export function recordMessage(seq) {
  return seq % 7 === 0 ? `user said "render my \\"avatar\\"" at step ${seq}` : `request completed in ${seq % 997} ms`;
}
