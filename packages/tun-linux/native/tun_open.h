// Opens a TUN device: the fd the addon then polls and closes, so one owner holds it from open to close
// (open(2) of the clone device, TUNSETIFF; with IFF_VNET_HDR also TUNSETVNETHDRSZ and TUNSETOFFLOAD —
// linux/if_tun.h, Documentation/networking/tuntap.rst).
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace ztun {

struct TunOpenError {
  const char* operation;  // "open", "TUNSETIFF", "TUNSETVNETHDRSZ", "TUNSETOFFLOAD"; nullptr when none
  int err;
};

// Opens `path` non-blocking and close-on-exec and attaches it to the TUN interface `name` (empty: the kernel
// picks tun%d; one %d allowed), IFF_TUN | IFF_NO_PI, plus IFF_VNET_HDR with checksum offload when `vnet`.
// Returns the fd and writes the kernel's name for the interface to `actualName` (IFNAMSIZ bytes), or returns
// -1 with `error` set and nothing left open (a non-persistent TUN vanishes with its last fd).
inline int OpenTun(const char* path, const char* name, bool vnet, char* actualName, TunOpenError* error) {
  error->operation = nullptr;
  error->err = 0;
  if (strlen(name) >= IFNAMSIZ) {
    error->operation = "TUNSETIFF";
    error->err = EINVAL;
    return -1;
  }
  int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    error->operation = "open";
    error->err = errno;
    return -1;
  }
  auto fail = [&](const char* operation) {
    error->operation = operation;
    error->err = errno;
    close(fd);
    return -1;
  };
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  ifr.ifr_flags = static_cast<short>(IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0));
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) return fail("TUNSETIFF");
  if (vnet) {
    // A 10-byte struct virtio_net_hdr on every read and write (the kernel's default, set explicitly), and
    // TUN_F_CSUM only: partial checksums both ways, no GSO super-packets (the stack handles one MTU each).
    int headerSize = 10;
    if (ioctl(fd, TUNSETVNETHDRSZ, &headerSize) < 0) return fail("TUNSETVNETHDRSZ");
    if (ioctl(fd, TUNSETOFFLOAD, static_cast<unsigned long>(TUN_F_CSUM)) < 0) return fail("TUNSETOFFLOAD");
  }
  memcpy(actualName, ifr.ifr_name, IFNAMSIZ);
  actualName[IFNAMSIZ - 1] = '\0';
  return fd;
}

}  // namespace ztun
