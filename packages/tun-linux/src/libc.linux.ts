import { loadLinuxLibc } from '@ztun/routing-linux';
import koffi from 'koffi';

// The control-plane syscalls of the TUN fd, through koffi. Each returns -1 and leaves errno on failure.

export const O_RDWR = 0o2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
/** fcntl(2): the lowest free fd ≥ arg, close-on-exec (linux/fcntl.h F_DUPFD_CLOEXEC = F_LINUX_SPECIFIC_BASE + 6). */
export const F_DUPFD_CLOEXEC = 1030;

interface Libc {
  open(path: string, flags: number): number;
  ioctl(fd: number, request: number, argType: string, arg: Uint8Array | number): number;
  close(fd: number): number;
  /** fcntl(fd, cmd, int arg). */
  fcntl(fd: number, cmd: number, arg: number): number;
}

let libc: Libc | undefined;

export function getLibc(): Libc {
  if (!libc) {
    const lib = loadLinuxLibc();
    const open = lib.func('int open(const char *path, int flags)');
    const ioctl = lib.func('int ioctl(int fd, unsigned long request, ...)');
    const close = lib.func('int close(int fd)');
    const fcntl = lib.func('int fcntl(int fd, int cmd, ...)');
    libc = {
      open: (path, flags) => open(path, flags) as number,
      ioctl: (fd, request, argType, arg) => ioctl(fd, request, argType, arg) as number,
      close: (fd) => close(fd) as number,
      fcntl: (fd, cmd, arg) => fcntl(fd, cmd, 'int', arg) as number,
    };
  }
  return libc;
}

/** errno of the last koffi call on this thread. */
export function lastErrno(): number {
  return koffi.errno();
}
