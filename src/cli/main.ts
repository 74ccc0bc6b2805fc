/**
 * The CLI: gathers options from flags and the environment, then calls the same core the transport
 * uses. No side effects at import: bin.ts runs it.
 */
import { Command, Option } from 'commander';
import { OptionError, errorText } from '../errors.js';
import { resolveOptions, type LogweaverOptions } from '../options.js';
import { maskSecrets } from '../secrets.js';
import { addTargetOptions } from './flags.js';
import { runsCommand } from './runs.js';
import { applySchema, printSchema } from './schema.js';
import { tailCommand } from './tail.js';
import { viewCommand } from './view.js';

/** Exit code for bad options, as for other usage errors. */
const EXIT_USAGE = 2;

/** Flags shared by the commands that write: where the table is, and the application writing. */
function addConnectionOptions(command: Command): Command {
  return addTargetOptions(command).option('--application <name>', 'application name (LOGWEAVER_APPLICATION)');
}

function addWriterOptions(command: Command): Command {
  return command
    .option('--flush-interval <ms>', 'flush a partly filled batch after this many ms (default 1000)')
    .option('--batch-size <rows>', 'rows per COPY statement (default 2000)')
    .option('--max-buffered-rows <rows>', 'lines held in memory before they go to the spool (default 200000)')
    .option('--max-buffered-bytes <bytes>', 'bytes held in memory before lines go to the spool (default 64 MiB)')
    .option('--spool-dir <path>', 'directory of the disk spool (LOGWEAVER_SPOOL_DIR)')
    .option('--max-spool-bytes <bytes>', 'bytes the spool may hold before records are dropped (default 1 GiB)')
    .option('--max-record-bytes <bytes>', 'longer lines are stored truncated, with a marker (default 1 MiB)')
    .option(
      '--machine-name <name>',
      'machine_name column (default: the hostname; with OpenClone_* variables, the reverse DNS name of the IP address)',
    )
    .option('--ip-address <address>', 'ip_address column (default: the outward IPv4 address)')
    .option('--tags <list>', 'comma-separated tags added to every row')
    .option('--message-key <key>', 'key of the message in each JSON line (default msg)')
    .option('--error-key <key>', 'key of a logged error (default err)')
    .option('--custom-levels <list>', 'custom level numbers, e.g. audit:35,notice:45')
    .option('--run-key <key>', 'processes with the same key share one run number (LOGWEAVER_RUN_KEY)')
    .option('--stats-interval <ms>', 'print the counters on stderr every this many ms (default 0: only at the end)')
    .option('--retention <period>', 'delete rows older than this, hourly: 6h, 30d, 12w (LOGWEAVER_RETENTION)')
    .addOption(new Option('--no-create-table', 'never create the table; write to it as it is'))
    .addOption(noMetaTables());
}

function noMetaTables(): Option {
  return new Option(
    '--no-meta-tables',
    'neither create nor use <table>_runs and <table>_batches (LOGWEAVER_META_TABLES)',
  );
}

/** Commander's camelCase flags, mapped onto the option names the transport uses. */
function toOptions(flags: Record<string, unknown>): LogweaverOptions {
  const { databaseUrl, tee: _tee, createTable, metaTables, ...rest } = flags;
  const options: Record<string, unknown> = { ...rest, connectionString: databaseUrl };
  // Commander sets a --no- flag's option to true when it is absent: only its presence is passed on.
  if (createTable === false) options.createTable = false;
  if (metaTables === false) options.metaTables = false;
  return options;
}

function buildProgram(): Command {
  const program = new Command('logweaver-pino')
    .description('Store Pino logs (read from stdin) in a LogWeaver table in PostgreSQL')
    .option('--tee', 'echo every input line to stdout, e.g. for | pino-pretty')
    .showHelpAfterError()
    // Flags after a subcommand belong to it (`schema apply --database-url ...`).
    .enablePositionalOptions()
    .action(async (flags: Record<string, unknown>) => {
      const options = resolveOptions(toOptions(flags), process.env, 'cli');
      // Loaded here: the reading commands start faster without the writing pipeline.
      const { runPipe } = await import('./pipe.js');
      process.exitCode = await runPipe(options, {
        stdin: process.stdin,
        stdout: process.stdout,
        stderr: process.stderr,
        tee: flags.tee === true,
      });
    });
  addWriterOptions(addConnectionOptions(program));

  const schema = program.command('schema').description('print or apply the SQL of the log table');
  addConnectionOptions(schema.command('print').description('print the CREATE statements')).action(
    (flags: Record<string, unknown>) => {
      process.stdout.write(printSchema(resolveOptions(toOptions(flags), process.env, 'cli')));
    },
  );
  addConnectionOptions(schema.command('apply').description('create the tables and indexes when missing')).action(
    async (flags: Record<string, unknown>) => {
      process.stdout.write(`${await applySchema(resolveOptions(toOptions(flags), process.env, 'cli'))}\n`);
    },
  );
  addConnectionOptions(
    program.command('doctor').description('check the connection, table, privileges, indexes and spool'),
  )
    .option('--spool-dir <path>', 'directory of the disk spool (LOGWEAVER_SPOOL_DIR)')
    .addOption(new Option('--no-create-table', 'the writer never creates the table'))
    .addOption(noMetaTables())
    .action(async (flags: Record<string, unknown>) => {
      const options = resolveOptions(toOptions(flags), process.env, 'cli');
      const { runDoctor } = await import('./doctor.js');
      process.exitCode = await runDoctor(options, process.stdout);
    });
  addConnectionOptions(program.command('retention').description('delete rows older than --retention now (for cron)'))
    .option('--retention <period>', 'keep rows this long: 6h, 30d, 12w (LOGWEAVER_RETENTION)')
    .option('--dry-run', 'print what would be deleted, and delete nothing')
    .addOption(noMetaTables())
    .action(async ({ dryRun, ...flags }: Record<string, unknown>) => {
      // Its marker row is from logweaver-pino, unless an application is named.
      const options = resolveOptions(
        {
          ...toOptions(flags),
          application: flags.application ?? process.env.LOGWEAVER_APPLICATION ?? 'logweaver-pino',
        },
        process.env,
        'cli',
      );
      const { runRetention } = await import('./retention.js');
      process.exitCode = await runRetention(options, dryRun === true, process.stdout);
    });
  program.addCommand(tailCommand());
  program.addCommand(runsCommand());
  program.addCommand(viewCommand());
  maskUsageErrors(program);
  return program;
}

/**
 * Commander quotes a mistyped flag whole (`unknown option '--datbase-url=postgres://app:pw@db/logs'`),
 * before any option is read: its messages get the same redaction as ours. Subcommands added with
 * addCommand do not inherit the setting, so each gets it.
 */
function maskUsageErrors(command: Command): void {
  command.configureOutput({ outputError: (text, write) => write(maskSecrets(text)) });
  for (const subcommand of command.commands) maskUsageErrors(subcommand);
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    process.stderr.write(`logweaver-pino: ${errorText(error)}\n`);
    process.exitCode = error instanceof OptionError ? EXIT_USAGE : 1;
  }
}
