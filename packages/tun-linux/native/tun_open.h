// Opens a TUN device: the fd the addon then polls and closes, so one owner holds it from open to close
// (open(2) of the clone device, TUNSETIFF; with IFF_VNET_HDR also TUNSETVNETHDRSZ and TUNSETOFFLOAD —
// linux/if_tun.h, Documentation/networking/tuntap.rst). TSO (TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN) is
// asked for first and, when the kernel refuses it, checksum offload alone (drivers/net/tun.c set_offload
// refuses any flag it does not know with EINVAL). USO is never asked for (the kernel would hand over UDP
// super-packets the read path drops); it is only probed, to know whether the kernel takes UDP super-packets
// written to it (VIRTIO_NET_HDR_GSO_UDP_L4: Linux 6.2, the same release as TUN_F_USO4/6).
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

// linux/if_tun.h (older headers lack the later flags; these values are the kernel ABI).
constexpr unsigned kTunFCsum = 0x01;
constexpr unsigned kTunFTso4 = 0x02;
constexpr unsigned kTunFTso6 = 0x04;
constexpr unsigned kTunFTsoEcn = 0x08;
constexpr unsigned kTunFTso = kTunFTso4 | kTunFTso6 | kTunFTsoEcn;
constexpr unsigned kTunFUso4 = 0x20;
constexpr unsigned kTunFUso6 = 0x40;

// What TUNSETOFFLOAD took: `flags` the kernel accepted (TUN_F_*), and the errno of a refused TSO request
// (0 when TSO was granted or not asked for).
struct TunOffload {
  unsigned flags = 0;
  int tsoRefused = 0;
  // The kernel knows TUN_F_USO4 | TUN_F_USO6, so its virtio_net_hdr_to_skb takes GSO_UDP_L4 writes.
  bool usoWritable = false;
};

// Probes USO with the offload already set (`out->flags`): TUNSETOFFLOAD with TUN_F_USO4 | TUN_F_USO6 added
// succeeds only on a kernel that knows them; then the flags go back to what was asked. Nothing is written.
inline void ProbeUso(int fd, TunOffload* out) {
  if (ioctl(fd, TUNSETOFFLOAD, static_cast<unsigned long>(out->flags | kTunFUso4 | kTunFUso6)) != 0) return;
  out->usoWritable = ioctl(fd, TUNSETOFFLOAD, static_cast<unsigned long>(out->flags)) == 0;
}

// Asks for TUN_F_CSUM | `tso`, and for TUN_F_CSUM alone when the kernel refuses that (EINVAL on a kernel or
// device without TSO); `tso` 0 asks for checksum offload only. False (errno set) when even that is refused.
inline bool NegotiateOffload(int fd, unsigned tso, TunOffload* out) {
  if (tso != 0) {
    if (ioctl(fd, TUNSETOFFLOAD, static_cast<unsigned long>(kTunFCsum | tso)) == 0) {
      out->flags = kTunFCsum | tso;
      return true;
    }
    out->tsoRefused = errno;
  }
  if (ioctl(fd, TUNSETOFFLOAD, static_cast<unsigned long>(kTunFCsum)) < 0) return false;
  out->flags = kTunFCsum;
  return true;
}

// Opens `path` non-blocking and close-on-exec and attaches it to the TUN interface `name` (empty: the kernel
// picks tun%d; one %d allowed), IFF_TUN | IFF_NO_PI, plus IFF_VNET_HDR with checksum offload (and the TSO
// flags `tso`, when the kernel takes them: `offload`) when `vnet`.
// Returns the fd and writes the kernel's name for the interface to `actualName` (IFNAMSIZ bytes), or returns
// -1 with `error` set and nothing left open (a non-persistent TUN vanishes with its last fd).
inline int OpenTun(const char* path, const char* name, bool vnet, unsigned tso, char* actualName,
                   TunOffload* offload, TunOpenError* error) {
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
    // TUN_F_CSUM: partial checksums both ways; with TSO also TCP super-packets both ways (gso_type/gso_size).
    int headerSize = 10;
    if (ioctl(fd, TUNSETVNETHDRSZ, &headerSize) < 0) return fail("TUNSETVNETHDRSZ");
    if (!NegotiateOffload(fd, tso, offload)) return fail("TUNSETOFFLOAD");
    ProbeUso(fd, offload);
  }
  memcpy(actualName, ifr.ifr_name, IFNAMSIZ);
  actualName[IFNAMSIZ - 1] = '\0';
  return fd;
}

}  // namespace ztun
