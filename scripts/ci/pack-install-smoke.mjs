// Copied into a project that installed the packed tarballs, and run there (imports resolve from its
// node_modules): @ztun/tun-linux's addon through the package's own loader (it must be the shipped prebuild:
// nothing was compiled), and a createStack run on a fake device that answers one ICMP echo request.
// Throws (non-zero exit) on any mismatch.
import assert from 'node:assert/strict';
import { sep } from 'node:path';
import { buildIcmp, decodePacket, parseIPv4 } from '@ztun/packet';
import { createStack } from '@ztun/stack';
import { nativeAddonPath } from '@ztun/tun-linux';

const addon = nativeAddonPath();
const shipped = `${sep}@ztun${sep}tun-linux${sep}prebuilds${sep}linux-${process.arch}${sep}`;
assert.ok(addon.includes(shipped), `the addon should be the shipped prebuild, got ${addon}`);
console.log(`smoke: @ztun/tun-linux addon loaded from ${addon}`);

/** A TunDevice in memory: batches pushed with deliver(), packets the stack writes collected in `written`. */
class FakeDevice {
  name = 'fake0';
  index = 1;
  mtu = 1500;
  counters = { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, rxDropped: 0, txDropped: 0 };
  written = [];
  onBatch(receiver) {
    this.receiver = receiver;
  }
  pause() {}
  resume() {}
  onError() {}
  async close() {}
  write(packet) {
    this.written.push(packet.slice());
  }
  writeBatch(b) {
    for (let i = 0; i < b.count; i++)
      this.written.push(b.data.slice(b.offsets[i], b.offsets[i] + b.lengths[i]));
  }
  deliver(packet) {
    this.receiver({
      count: 1,
      data: packet,
      offsets: Uint32Array.of(0),
      lengths: Uint32Array.of(packet.length),
    });
  }
}

const device = new FakeDevice();
const stack = createStack({
  device,
  addresses: { ipv4: { tunAddress: '127.0.0.1' } },
  icmp: 'reply',
  handler: { tcp: (conn) => conn.destroy(), udp: () => ({ send() {}, close() {} }) },
});
await stack.start();
try {
  const request = new Uint8Array(64);
  const ip = { version: 4, source: parseIPv4('127.0.0.1'), destination: parseIPv4('198.18.0.9') };
  const length = buildIcmp(request, 0, ip, { type: 8, identifier: 7, sequence: 1 }, 16);
  assert.ok(length > 0, 'buildIcmp built nothing');
  device.deliver(request.subarray(0, length));

  assert.equal(stack.counters.rxPackets, 1, 'rxPackets');
  assert.equal(stack.counters.icmpEchoReplies, 1, 'icmpEchoReplies');
  assert.equal(device.written.length, 1, 'packets written back');
  const reply = decodePacket(device.written[0]);
  assert.ok(reply.ok, 'the reply does not parse');
  const { view } = reply;
  assert.equal(view.ipv4.source, parseIPv4('198.18.0.9'));
  assert.equal(view.ipv4.destination, parseIPv4('127.0.0.1'));
  assert.equal(view.icmpv4.type, 0, 'echo reply type');
  assert.equal(view.icmpv4.identifier, 7);
  assert.ok(view.icmpv4.verifyChecksum(), 'echo reply checksum');
  console.log(`smoke: createStack answered an echo request (counters ${JSON.stringify(stack.counters)})`);
} finally {
  await stack.close();
}
