/**
 * `logweaver-pino view`: the web log viewer on http://127.0.0.1:7070/ (--host, --port; port 0
 * picks a free one). Prints the address, serves until Ctrl-C, then exits 0.
 */
import type { Writable } from 'node:stream';
import { Command } from 'commander';
import { parseHost, parsePort, resolveReadTarget } from '../read/options.js';
import { startViewer, type ViewerSettings } from '../view/server.js';
import { addTargetOptions } from './flags.js';

export function viewCommand(): Command {
  const command = new Command('view')
    .description('serve the web log viewer (http://127.0.0.1:7070/ unless --host or --port say otherwise)')
    .option('--port <port>', 'port to listen on (default 7070; 0 picks a free port)')
    .option('--host <address>', 'address to listen on (default 127.0.0.1; the viewer has no login)')
    .option('--remote-images', 'with "Render HTML" ticked, also load logged images from other servers')
    .action(async (flags: Record<string, unknown>) => {
      await runView(viewSettings(flags, process.env), process.stdout);
    });
  return addTargetOptions(command);
}

function viewSettings(flags: Record<string, unknown>, env: Record<string, string | undefined>): ViewerSettings {
  return {
    target: resolveReadTarget(flags, env),
    host: parseHost(flags.host),
    port: parsePort(flags.port),
    remoteImages: flags.remoteImages === true,
  };
}

async function runView(settings: ViewerSettings, stdout: Writable): Promise<void> {
  const viewer = await startViewer(settings);
  const { schema, table } = viewer.context.shape.name;
  stdout.write(`logweaver-pino: log viewer of ${schema}.${table} at ${viewer.url} (Ctrl-C to stop)\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await viewer.close();
}
