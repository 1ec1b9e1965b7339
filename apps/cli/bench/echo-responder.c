// The floor for an echo through any TUN on this machine, for `bench:tunnel`'s ICMP table (bench/icmp.mjs):
// a process that does nothing but answer. It opens a TUN (IFF_TUN | IFF_NO_PI, linux/if_tun.h), prints
// "ready", then blocks in poll(2) and turns each ICMP echo request into its reply in place — IPv4 only,
// addresses swapped, type 8 → 0 and the checksum updated incrementally (RFC 1624 eqn. 3) — and writes it back.
// Everything else is dropped. No allocation, no timers: what is left of its round trip is the wake-up of a
// process on this machine (the kernel's TUN queue → poll → read → write → the kernel's receive path).
//   cc -O2 -o echo-responder echo-responder.c && ./echo-responder NAME
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: echo-responder NAME\n");
    return 2;
  }
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
  if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0) {
    perror("echo-responder: /dev/net/tun");
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  uint8_t p[65536];
  struct pollfd pfd = {fd, POLLIN, 0};
  for (;;) {
    if (poll(&pfd, 1, -1) < 0) return 1;
    ssize_t n = read(fd, p, sizeof p);
    if (n < 28 || (p[0] >> 4) != 4) continue;
    size_t ihl = (size_t)(p[0] & 15) * 4;
    if (p[9] != 1 || (size_t)n < ihl + 8 || p[ihl] != 8) continue;
    uint8_t a[4];
    memcpy(a, p + 12, 4);
    memcpy(p + 12, p + 16, 4);
    memcpy(p + 16, a, 4);
    p[ihl] = 0;
    // HC' = ~(~HC + ~m + m') with m = 0x0800, m' = 0x0000 (RFC 1624 eqn. 3), folded.
    uint32_t sum = (uint16_t)~((p[ihl + 2] << 8) | p[ihl + 3]) + 0xf7ff;
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    uint16_t c = (uint16_t)~sum;
    p[ihl + 2] = c >> 8;
    p[ihl + 3] = c & 0xff;
    if (write(fd, p, (size_t)n) < 0) perror("echo-responder: write");
  }
}
