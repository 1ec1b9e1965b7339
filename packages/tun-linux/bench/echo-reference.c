// Reference for the benchmark (not part of the package): the same address-swapping echo loop in plain C with
// one blocking read(2)/write(2) per packet, so the JS figures can be compared with what the kernel allows.
// "offload" mode opens the TUN with IFF_VNET_HDR + TUNSETOFFLOAD (CSUM, TSO4, TSO6) and writes each GSO
// super-packet back with its virtio_net_hdr: a measurement of what @ztun/tun-linux's reserved `offload`
// option could bring.
//
// usage: echo-reference IFNAME plain|offload   (prints "ready" once the device exists; runs until killed)
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  int offload = strcmp(argv[2], "offload") == 0;
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) { perror("open /dev/net/tun"); return 1; }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) { perror("TUNSETIFF"); return 1; }
  int header = 0;
  if (offload) {
    header = 10; /* struct virtio_net_hdr */
    if (ioctl(fd, TUNSETVNETHDRSZ, &header) < 0) { perror("TUNSETVNETHDRSZ"); return 1; }
    if (ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0) { perror("TUNSETOFFLOAD"); return 1; }
  }
  printf("ready\n");
  fflush(stdout);
  static uint8_t buf[65536 + 64];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return 0;
    uint8_t *ip = buf + header;
    uint8_t tmp[16];
    if ((ip[0] >> 4) == 4) {
      memcpy(tmp, ip + 12, 4); memcpy(ip + 12, ip + 16, 4); memcpy(ip + 16, tmp, 4);
    } else {
      memcpy(tmp, ip + 8, 16); memcpy(ip + 8, ip + 24, 16); memcpy(ip + 24, tmp, 16);
    }
    (void)!write(fd, buf, (size_t)n);
  }
}
