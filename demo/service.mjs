// A small service, logging as any Pino application does.
//   node demo/service.mjs transport   logs through pino.transport({ target: 'logweaver-pino' })
//   node demo/service.mjs stdout      logs to stdout, for `node demo/service.mjs stdout | logweaver-pino`
import pino from 'pino';

const mode = process.argv[2] ?? 'transport';
const logger =
  mode === 'transport' ? pino({ transport: { target: 'logweaver-pino', options: { tags: ['demo'] } } }) : pino();

logger.info({ port: 8080, tags: ['startup'] }, 'listening');
for (let request = 1; request <= 5; request++) {
  logger.info({ requestId: `req-${request}`, route: '/render', status: 200, ms: 40 + request }, 'request served');
}
logger.warn({ queue: 'render', depth: 17 }, 'queue is getting long');
logger.error(new Error('face not found in frame 42'), 'render failed');
logger.info({ thirdParty: true }, 'ffmpeg: frame=  120 fps= 30 q=28.0 size=    512kB');
logger.info({ avatar: '<img src="/avatars/7.png">' }, '<img src="/avatars/7.png"> avatar ready');
if (mode === 'stdout') console.log('a line of plain text from a library');
