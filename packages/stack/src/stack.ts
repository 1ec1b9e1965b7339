import type net from 'node:net';
import { type PacketBatch, PacketView, type StackSockets, type TunDevice } from '@ztun/packet';
import type { Handler } from './handler.js';
import { handlerFromOutbound } from './handler-from-outbound.js';
import { IcmpEcho } from './icmp-echo.js';
import { listen } from './listener.js';
import { LoopPrefixes } from './loop-prefixes.js';
import { TcpNatTable } from './nat.js';
import {
  type FamilyAddresses,
  newCounters,
  resolveAddresses,
  resolveFamily,
  type StackCounters,
  type StackLogger,
  type StackOptions,
} from './options.js';
import type { Clock, Family } from './packet-context.js';
import { PacketPath } from './packet-path.js';
import { createPcapSink, type PcapSink } from './pcap.js';
import { portableSockets } from './sockets.js';
import { TcpPath } from './tcp-path.js';
import { UdpSessionTable } from './udp-sessions.js';

// The system stack: reads the device's batches, NATs TCP onto the kernel listeners (nat.ts, listener.ts),
// hands UDP datagrams to their sessions (udp-sessions.ts), answers pings, and writes each batch back.

export type {
  DropReason,
  FamilyAddresses,
  StackCounters,
  StackLogger,
  StackOptions,
} from './options.js';
export { resolveAddresses } from './options.js';

export interface Stack {
  /** Binds the kernel listeners and starts reading the device. */
  start(): Promise<void>;
  /** Stops reading, destroys every connection and session, closes listeners and capture. Does not close
   *  the device (the caller owns it). Idempotent. */
  close(): Promise<void>;
  readonly counters: Readonly<StackCounters>;
  /** The listeners' ports once started (diagnostics). */
  readonly listenPorts: { ipv4?: number; ipv6?: number };
}

/** Longest close() waits for the resets it sends to come back through the TUN and be written out. */
const RST_DELIVERY_BOUND_MS = 2_000;

class SystemStack implements Stack {
  readonly counters: StackCounters = newCounters();
  private readonly clock: Clock = { now: 0 };
  private readonly device: TunDevice;
  private readonly handler: Handler;
  private readonly sockets: StackSockets;
  private readonly v4: Family | undefined;
  private readonly v6: Family | undefined;
  private readonly udp: UdpSessionTable;
  private readonly path: PacketPath;
  private readonly tcpIdleTimeoutMs: number;
  private readonly backlog: number;
  private readonly logger: StackLogger;
  private readonly pcap: PcapSink | undefined;
  private readonly servers: net.Server[] = [];
  private sweeper: ReturnType<typeof setInterval> | undefined;
  /**
   * Whether the device answers echo requests itself: only when the stack would answer every one of them the
   * same way — icmp 'reply', no handler hook that may veto one, no capture that must record both — and the
   * device can (TunDevice.answerEchoRequests; @ztun/tun-linux does it in its read path, no JS call per ping).
   */
  private readonly deviceEcho: boolean;
  private closing: Promise<void> | undefined;
  private started = false;
  private closed = false;

  constructor(options: StackOptions) {
    this.device = options.device;
    this.sockets = options.sockets ?? portableSockets;
    const logger = options.logger ?? {};
    const handler =
      options.handler ??
      (options.outbound
        ? handlerFromOutbound(options.outbound, {
            onConnectError: (dest, err) =>
              logger.debug?.(`${options.outbound!.name} connect ${dest}: ${err.message}`),
            ...(options.relay ? { relay: options.relay } : {}),
            ...(options.sockets ? { sockets: options.sockets } : {}),
          })
        : undefined);
    if (!handler) throw new TypeError('createStack: give a handler or an outbound');
    this.handler = handler;
    const addresses = resolveAddresses(options);
    const table = { maxTcp: options.maxTcpSessions ?? 60_000, ports: options.natPortRange ?? [1024, 65535] };
    const family = (v: 4 | 6, a: FamilyAddresses): Family => {
      const r = resolveFamily(v, a);
      const [portMin, portMax] = table.ports;
      const nat = new TcpNatTable({ addressLength: r.alen, maxSessions: table.maxTcp, portMin, portMax });
      return { ...r, table: nat, listenPort: 0 };
    };
    this.v4 = addresses.ipv4 ? family(4, addresses.ipv4) : undefined;
    this.v6 = addresses.ipv6 ? family(6, addresses.ipv6) : undefined;
    const loopPrefixes = LoopPrefixes.from(options, addresses);
    if (!this.v4 && !this.v6)
      throw new TypeError('createStack: addresses needs an IPv4 and/or an IPv6 address');
    this.tcpIdleTimeoutMs = options.tcpIdleTimeoutMs ?? 3_600_000;
    this.backlog = options.listenBacklog ?? 4096;
    this.logger = logger;
    this.pcap = options.pcap ? createPcapSink(options.pcap) : undefined;
    const emit = (packet: Uint8Array) => this.emit(packet);
    const emitBatch = (batch: PacketBatch) => this.emitBatch(batch);
    const { counters, clock, device, pcap, v4, v6 } = this;
    // The one parser every packet goes through (reused: no per-packet allocation), shared by the paths.
    const pv = new PacketView();
    const tcp = new TcpPath({ counters, clock, pv, loopPrefixes, emit });
    const icmp = new IcmpEcho({ counters, pv, handler, reply: (options.icmp ?? 'reply') === 'reply' });
    const udp = new UdpSessionTable({
      handler,
      counters,
      clock,
      emit,
      emitBatch,
      pv,
      loopPrefixes,
      maxSessions: options.maxUdpSessions ?? 8192,
      timeoutMs: options.udpTimeoutMs ?? 60_000,
      logger,
    });
    this.udp = udp;
    this.path = new PacketPath({ device, pcap, counters, clock, pv, v4, v6, tcp, udp, icmp });
    Object.defineProperty(this.counters, 'tcpNatEntries', {
      enumerable: true,
      get: () => (v4?.table.count ?? 0) + (v6?.table.count ?? 0),
    });
    // Echo replies: the ones icmp-echo.ts made plus the ones the device made itself (deviceEcho).
    let jsEchoReplies = 0;
    Object.defineProperty(this.counters, 'icmpEchoReplies', {
      enumerable: true,
      get: () => jsEchoReplies + (device.counters.echoReplies ?? 0),
      set: (n: number) => {
        jsEchoReplies = n - (device.counters.echoReplies ?? 0);
      },
    });
    this.deviceEcho =
      (options.icmp ?? 'reply') === 'reply' &&
      !this.pcap &&
      !handler.icmpEcho &&
      options.deviceEcho !== false;
  }

  get listenPorts(): { ipv4?: number; ipv6?: number } {
    return { ipv4: this.v4?.listenPort, ipv6: this.v6?.listenPort };
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('stack already started');
    if (this.closed || this.closing) throw new Error('stack is closed');
    this.started = true;
    const listenerOptions = {
      handler: this.handler,
      sockets: this.sockets,
      counters: this.counters,
      logger: this.logger,
      backlog: this.backlog,
      closing: () => this.closed || this.closing !== undefined,
    };
    for (const f of [this.v4, this.v6]) {
      if (!f) continue;
      try {
        this.servers.push(await listen(f, listenerOptions));
      } catch (err) {
        await this.close();
        throw err;
      }
    }
    if (this.deviceEcho) this.device.answerEchoRequests?.({ ipv4: !!this.v4, ipv6: !!this.v6 });
    this.device.onBatch((batch) => this.onBatch(batch));
    this.device.onError((err) => this.logger.error?.(`device ${this.device.name}: ${err.message}`));
  }

  /**
   * The sweeper (timeouts, sweep()) runs once a second only while there is state to time out: started by the
   * batch that left a NAT entry or a UDP session, stopped by the sweep that finds none left. An idle stack —
   * or one that only answers pings — has no timer, so nothing wakes the process but packets: a 1 s timer
   * woke it for 0.3–2 ms of run time each second (perf sched on this 2-core VM, mostly Node's timer and
   * async-hook path around a 0.1 ms callback), and the ping that arrived then waited for it (issue 17 item 6).
   */
  private armSweeper(): void {
    if (this.sweeper !== undefined || this.closed || this.closing) return;
    if (this.counters.tcpNatEntries === 0 && !this.udp.active) return;
    this.sweeper = setInterval(() => this.sweep(), 1000);
    this.sweeper.unref();
  }

  /** True while the sweeper's timer is armed (tests). */
  get sweeping(): boolean {
    return this.sweeper !== undefined;
  }

  async close(): Promise<void> {
    if (this.closed || this.closing) return this.closing;
    this.closing = this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    // Reset open connections while the packet path still runs, so every client gets its RST through the
    // TUN instead of waiting on a peer that vanished (or taking a FIN for a complete transfer).
    const reset: { table: TcpNatTable; port: number }[] = [];
    for (const f of [this.v4, this.v6]) {
      if (f) for (const port of f.table.resetOpen()) reset.push({ table: f.table, port });
    }
    if (reset.length > 0 && this.started) await this.resetsWrittenOut(reset);
    this.closed = true;
    if (this.deviceEcho) this.device.answerEchoRequests?.({ ipv4: false, ipv6: false });
    for (const f of [this.v4, this.v6]) f?.table.releaseAll();
    this.udp.closeAll();
    for (const server of this.servers) await new Promise<void>((resolve) => server.close(() => resolve()));
    this.counters.tcpOpen = 0;
    this.pcap?.close();
  }

  /**
   * Resolves once the kernel's RST for each reset connection has come back through the TUN and been
   * translated (RST_SEEN, set on the packet path) and the device's write queue, where it reports one, is
   * empty — or after RST_DELIVERY_BOUND_MS, so a paused or stalled device cannot hold close() up.
   */
  private async resetsWrittenOut(reset: readonly { table: TcpNatTable; port: number }[]): Promise<void> {
    // Devices that report a write queue (tun-linux's LinuxTun.writeQueueLength) are waited for too; the
    // TunDevice shape (docs/architecture.md) does not declare it, so it is read structurally.
    const device = this.device as { readonly writeQueueLength?: number };
    const deadline = performance.now() + RST_DELIVERY_BOUND_MS;
    const done = () =>
      reset.every(({ table, port }) => table.rstSeen(port)) && !((device.writeQueueLength ?? 0) > 0);
    while (!done() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 1));
  }

  private sweep(): void {
    const now = performance.now();
    this.clock.now = now;
    for (const f of [this.v4, this.v6]) f?.table.sweep(now, this.tcpIdleTimeoutMs);
    this.udp.sweep();
    if (this.counters.tcpNatEntries === 0 && !this.udp.active) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  /** Writes one packet the stack built. */
  private emit(packet: Uint8Array): void {
    if (this.closed) return;
    this.counters.txPackets++;
    this.counters.txBytes += packet.length;
    this.pcap?.record(packet);
    this.device.write(packet);
  }

  /** Writes a batch of complete packets the stack built (the batch UDP path's replies). */
  private emitBatch(batch: PacketBatch): void {
    if (this.closed) return;
    let bytes = 0;
    for (let i = 0; i < batch.count; i++) bytes += batch.lengths[i]!;
    this.counters.txPackets += batch.count;
    this.counters.txBytes += bytes;
    const pcap = this.pcap;
    if (pcap)
      for (let i = 0; i < batch.count; i++) {
        const o = batch.offsets[i]!;
        pcap.record(batch.data.subarray(o, o + batch.lengths[i]!));
      }
    this.device.writeBatch(batch);
  }

  private onBatch(batch: PacketBatch): void {
    if (this.closed) return;
    this.path.batch(batch);
    if (this.sweeper === undefined) this.armSweeper();
  }
}

/** Creates the system stack over `device`. Call start() after the TUN's addresses are configured. */
export function createStack(options: StackOptions): Stack {
  return new SystemStack(options);
}
