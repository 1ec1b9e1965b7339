// A Node reference for `bench:tunnel`'s ICMP table (bench/icmp.mjs): a process that does nothing but answer
// echo requests on a TUN — @ztun/tun-linux's device (the same addon, uv_poll and one JS call per batch as
// ztun) and @ztun/packet's echoReplyInPlace (the same rewrite as the stack), without the stack, its timers,
// or anything else ztun runs. Between the C responder (echo-responder.c) and ztun: what Node's wake-up and
// one JS call cost on this machine.
//   node echo-responder.mjs NAME    prints "ready"; runs until killed
import { echoReplyInPlace, PacketView } from '@ztun/packet';
import { openTunSync } from '@ztun/tun-linux';

const tun = openTunSync({ name: process.argv[2], up: true });
const pv = new PacketView();
const one = { count: 1, data: new Uint8Array(0), offsets: new Uint32Array(1), lengths: new Uint32Array(1) };
tun.onBatch((batch) => {
  for (let i = 0; i < batch.count; i++) {
    if (pv.reset(batch.data, batch.offsets[i], batch.lengths[i]) !== 0 || !echoReplyInPlace(pv)) continue;
    one.data = batch.data;
    one.offsets[0] = batch.offsets[i];
    one.lengths[0] = batch.lengths[i];
    tun.writeBatch(one);
  }
});
console.log('ready');
