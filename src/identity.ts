/** Who is logging: application, machine, address and the key that ties a process to its run. */
import { lookupService } from 'node:dns';
import { readFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { basename, extname, join } from 'node:path';
import { OPENCLONE_SOURCE } from './connection.js';
import type { ResolvedOptions } from './options.js';
import type { RunIdentity } from './write/run.js';

/** The name in ./package.json, else the entry script's name, else `node-app`. */
export function defaultApplicationName(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { name?: unknown };
    if (typeof pkg.name === 'string' && pkg.name !== '') return pkg.name;
  } catch {
    // no readable package.json: fall through to the script name
  }
  const script = process.argv[1];
  return script ? basename(script, extname(script)) : 'node-app';
}

/**
 * The identity of this process's run. The machine name is the option, else, where OpenClone's own
 * variables say where the database is, what LogWeaver stores (the reverse DNS name of the address),
 * so that a Node service continues the run numbers of the Python services on its host; else the
 * hostname. The look-up is awaited only before the first run number is taken.
 */
export function runIdentity(options: ResolvedOptions): RunIdentity | Promise<RunIdentity> {
  const ipAddress = options.ipAddress ?? outwardIpv4();
  const run = {
    application: options.application,
    machineName: options.machineName ?? hostname(),
    ipAddress,
    runKey: options.runKey ?? processRunKey(),
    startedAt: processStartedAt(),
  };
  if (options.machineName !== undefined || options.connection.source !== OPENCLONE_SOURCE) return run;
  return reverseDnsName(ipAddress).then((machineName) => ({ ...run, machineName }));
}

/** Start-up never waits longer than this for a reverse look-up. */
const REVERSE_DNS_TIMEOUT_MS = 2_000;

type LookupService = (address: string, port: number, callback: (error: Error | null, name: string) => void) => void;

/**
 * The name LogWeaver's gethostbyaddr gives an address: getnameinfo (so /etc/hosts, then DNS).
 * LogWeaver died when the look-up failed; here no name, an address that is not one, or no answer
 * within the timeout gives the hostname. Never rejects.
 */
export function reverseDnsName(
  address: string,
  timeoutMs = REVERSE_DNS_TIMEOUT_MS,
  lookup: LookupService = lookupService,
): Promise<string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(hostname()), timeoutMs);
    const answer = (name: string | undefined) => {
      clearTimeout(timer);
      resolve(name || hostname());
    };
    try {
      lookup(address, 0, (error, name) => answer(error ? undefined : name));
    } catch {
      answer(undefined); // not an IP address: lookupService throws at once
    }
  });
}

/**
 * The first non-internal IPv4 address. LogWeaver resolved its own hostname through DNS and died when
 * that failed; reading the interfaces never fails and needs no network.
 */
export function outwardIpv4(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return address.address;
    }
  }
  return '127.0.0.1';
}

/**
 * Identifies this process for the lifetime of the process, in every worker thread of it, so that
 * two transports of one process share one run. The process start time guards against pid reuse.
 */
/** When this process started, by its own clock: no record it logs is older. */
export function processStartedAt(): Date {
  return new Date(Date.now() - process.uptime() * 1000);
}

export function processRunKey(): string {
  return `pid:${process.pid}:${processStartTime()}`;
}

/** A process's start time (clock ticks since boot on Linux): with the pid, it names one process. */
export function processStartTime(pid: number = process.pid): string {
  try {
    // Field 22 of /proc/<pid>/stat is the start time in clock ticks; the command name (field 2) may
    // contain spaces, so count from the closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = fields[19];
    if (ticks) return ticks;
  } catch {
    // not Linux, or no such process
  }
  // Elsewhere: this process's own start, rounded so every thread computes the same value.
  return pid === process.pid ? String(Math.round(Date.now() / 1000 - process.uptime())) : 'unknown';
}
