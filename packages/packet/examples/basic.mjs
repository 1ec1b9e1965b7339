// Runnable README example: `pnpm --filter @ztun/packet example` (after `pnpm build` or `npx tsup`).
import {
  buildTcp,
  formatIPv4,
  PacketView,
  PcapWriter,
  parseCidr,
  parseIPv4,
  rewriteIPv4Source,
  rewriteSourcePort,
  TcpFlags,
} from '@ztun/packet';

// Build a SYN with an MSS option into a caller-owned buffer at offset 0.
const buf = new Uint8Array(2048);
const len = buildTcp(
  buf,
  0,
  { version: 4, source: parseIPv4('10.200.0.2'), destination: parseIPv4('198.18.0.1') },
  {
    sourcePort: 40000,
    destinationPort: 443,
    sequenceNumber: 1,
    flags: TcpFlags.SYN,
    options: Uint8Array.of(2, 4, 0x05, 0xb4),
  },
);

// Parse it with a reusable view (no allocation per packet), clamp MSS, NAT the source.
const pv = new PacketView();
if (pv.reset(buf, 0, len) === 0 && pv.transport === 6) {
  pv.tcp.clampMss(1360); // checksum fixed incrementally
  rewriteIPv4Source(pv, parseIPv4('192.0.2.7')); // IPv4 header + TCP checksums fixed in O(1)
  rewriteSourcePort(pv, 61000);
  console.log(formatIPv4(pv.ipv4.source), pv.tcp.sourcePort, pv.tcp.mss, pv.verifyTransportChecksum());
}
console.log(parseCidr('198.18.0.0/15').containsIPv4(pv.ipv4.destination)); // true

// A capture Wireshark/tshark opens (LINKTYPE_RAW): write the bytes wherever you like.
const pcap = new PcapWriter().addPacket(buf, 0, len).toBytes();
console.log(`pcap: ${pcap.length} bytes, ${len}-byte packet`);
