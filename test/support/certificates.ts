/**
 * Certificates for the TLS tests, made with openssl: a CA, a server certificate it signed for the
 * host name `localhost` only (so verify-full passes for `localhost` and fails for `127.0.0.1`), a
 * client certificate, and a second CA that signed nothing the server has.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificates {
  directory: string;
  caCert: string;
  otherCaCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

function openssl(directory: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: directory, stdio: ['ignore', 'ignore', 'pipe'] });
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(directory: string, name: string): void {
  const subject = `/CN=logweaver-pino test ${name}`;
  openssl(directory, [
    'req',
    '-x509',
    ...KEY,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-subj',
    subject,
  ]);
}

/** A key and a certificate for `subject`, signed by ca.crt, with `extensions` (openssl -extfile lines). */
function makeSigned(directory: string, name: string, subject: string, extensions: string): void {
  writeFileSync(join(directory, `${name}.ext`), extensions);
  openssl(directory, ['req', ...KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
  openssl(directory, [
    'x509',
    '-req',
    ...['-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial'],
    ...['-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`],
  ]);
  chmodSync(join(directory, `${name}.key`), 0o600);
}

/** `owner`: the server's OS user (its key must be its own, mode 0600). */
export function makeCertificates(owner?: { uid: number; gid: number }): TestCertificates {
  const directory = mkdtempSync(join(tmpdir(), 'logweaver-tls-'));
  chmodSync(directory, 0o755);
  for (const name of ['ca', 'other-ca']) makeCa(directory, name);
  makeSigned(directory, 'server', '/CN=localhost', 'subjectAltName=DNS:localhost\n');
  makeSigned(directory, 'client', '/CN=certuser', 'extendedKeyUsage=clientAuth\n');
  if (owner) chownSync(join(directory, 'server.key'), owner.uid, owner.gid);
  const path = (name: string) => join(directory, name);
  return {
    directory,
    caCert: path('ca.crt'),
    otherCaCert: path('other-ca.crt'),
    serverCert: path('server.crt'),
    serverKey: path('server.key'),
    clientCert: path('client.crt'),
    clientKey: path('client.key'),
  };
}
