/** Who is logging: application, machine, address and the key that ties a process to its run. */
import { readFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { basename, extname, join } from 'node:path';

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

export function machineName(): string {
  return hostname();
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
