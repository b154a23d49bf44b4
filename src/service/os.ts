import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

/** What the kernel says of the process at the other end of a Unix socket (SO_PEERCRED). */
export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

/** The operating system's part of hms's addon (native/os.c), built by npm ci beside the RSA one. */
interface OsAddon {
  peerCredentials(fd: number): PeerCredentials;
  lockExclusive(fd: number): boolean;
}

let addon: OsAddon | undefined;

function os(): OsAddon {
  addon ??= createRequire(import.meta.url)('hms-native/os.cjs') as OsAddon;
  return addon;
}

/**
 * The credentials the kernel recorded when the peer connected to this Unix socket: its pid,
 * uid and gid, whatever the peer writes into the connection.
 */
export function peerCredentials(socket: Socket): PeerCredentials {
  // a connected Unix socket's libuv handle (Pipe) carries its descriptor
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the connection has no descriptor to ask the kernel about');
  return os().peerCredentials(fd);
}

/** An exclusive flock(2) on the open file, without waiting: true when taken. */
export function lockExclusive(fd: number): boolean {
  return os().lockExclusive(fd);
}
