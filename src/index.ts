/**
 * logweaver-pino: the Pino transport that stores logs in OpenClone's LogWeaver table in PostgreSQL.
 *
 *   pino({ transport: { target: 'logweaver-pino', options: { application: 'my-service' } } })
 */
export { default } from './transport.js';
export type { LogweaverOptions } from './options.js';
export type { PipelineStats } from './ingest/pipeline.js';
