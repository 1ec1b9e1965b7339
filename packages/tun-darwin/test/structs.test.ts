import { loadKoffi } from '@ztun/routing-darwin';
import { describe, expect, it } from 'vitest';
import {
  decodeCtlInfo,
  decodeIfreqFlags,
  decodeIfreqMtu,
  encodeCtlInfo,
  encodeIfaliasreq,
  encodeIfreqFlags,
  encodeIfreqMtu,
  encodeIn6Aliasreq,
  encodeSockaddrCtl,
  IFF_RUNNING,
  IFF_UP,
  loadUtunFfiTypes,
  UtunInputError,
} from '../src/index.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const fromHex = (t: string) => new Uint8Array(Buffer.from(t.replace(/[\s|]/g, ''), 'hex'));
const nameHex = (s: string, size = 16) =>
  hex(Buffer.concat([Buffer.from(s, 'latin1'), Buffer.alloc(size - s.length)]));

describe('golden bytes of every struct passed to the kernel', () => {
  it('ctl_info: ctl_id @0, ctl_name[96] @4', () => {
    const b = encodeCtlInfo('com.apple.net.utun_control');
    expect(b.length).toBe(100);
    expect(hex(b)).toBe(`00000000${nameHex('com.apple.net.utun_control', 96)}`);
    b.set([0x2a, 0, 0, 0], 0); // what the kernel fills in
    expect(decodeCtlInfo(b)).toEqual({ id: 42, name: 'com.apple.net.utun_control' });
  });

  it('sockaddr_ctl: len 32, family AF_SYSTEM 32, sysaddr AF_SYS_CONTROL 2, id, unit', () => {
    expect(hex(encodeSockaddrCtl(0x2a, 0))).toBe(
      hex(fromHex('20 20 02 00 | 2a 00 00 00 | 00 00 00 00 | 00000000 00000000 00000000 00000000 00000000')),
    );
    // utun7 is sc_unit 8.
    expect(hex(encodeSockaddrCtl(0xdeadbeef, 8).subarray(4, 12))).toBe('efbeadde08000000');
  });

  it('ifreq with ifr_mtu (int @16) and ifr_flags (short @16), 32 bytes', () => {
    const mtu = encodeIfreqMtu('utun7', 1400);
    expect(hex(mtu)).toBe(`${nameHex('utun7')}78050000${'00'.repeat(12)}`);
    expect(decodeIfreqMtu(mtu)).toBe(1400);
    const flags = encodeIfreqFlags('utun7', IFF_UP | IFF_RUNNING | 0x8010);
    expect(hex(flags)).toBe(`${nameHex('utun7')}5180${'00'.repeat(14)}`);
    expect(decodeIfreqFlags(flags)).toBe(0x8051); // UP,POINTOPOINT,RUNNING,MULTICAST — seed 002's "flags=8051"
  });

  it('ifaliasreq for SIOCAIFADDR: addr @16, dst (point-to-point) @32, mask @48', () => {
    const b = encodeIfaliasreq('utun4', { cidr: '10.0.0.1/8', peer: '10.0.0.2' });
    expect(b.length).toBe(64);
    expect(hex(b)).toBe(
      nameHex('utun4') +
        hex(fromHex('10 02 00 00 0a 00 00 01 0000000000000000')) +
        hex(fromHex('10 02 00 00 0a 00 00 02 0000000000000000')) +
        hex(fromHex('10 02 00 00 ff 00 00 00 0000000000000000')),
    );
    // Without a peer the destination is the local address (as sing-tun does).
    expect(hex(encodeIfaliasreq('utun4', { cidr: '198.18.0.1/15' }).subarray(32, 40))).toBe(
      '10020000c6120001',
    );
    expect(hex(encodeIfaliasreq('utun4', { cidr: '198.18.0.1/15' }).subarray(48, 56))).toBe(
      '10020000fffe0000',
    );
  });

  it('in6_aliasreq for SIOCAIFADDR_IN6: 128 bytes, flags @100, lifetimes @104', () => {
    const b = encodeIn6Aliasreq('utun4', { cidr: 'fd00:18::1/64' });
    expect(b.length).toBe(128);
    const sin6 = (addr: string) => `1c1e000000000000${addr}00000000`;
    expect(hex(b)).toBe(
      nameHex('utun4') +
        sin6('fd000018000000000000000000000001') +
        '00'.repeat(28) + // no dstaddr unless /128 with a peer
        sin6('ffffffffffffffff0000000000000000') +
        '20040000' + // IN6_IFF_NODAD | IN6_IFF_SECURED
        '00'.repeat(16) + // ia6t_expire, ia6t_preferred (time_t)
        'ffffffffffffffff', // ia6t_vltime, ia6t_pltime = ND6_INFINITE_LIFETIME
    );
    const p2p = encodeIn6Aliasreq('utun4', { cidr: 'fd00::1/128', peer: 'fd00::2' });
    expect(hex(p2p.subarray(44, 72))).toBe(sin6('fd000000000000000000000000000002'));
  });

  it('refuses bad input with UtunInputError', () => {
    expect(() => encodeIfreqMtu('utun-name-too-long', 1500)).toThrow(UtunInputError);
    expect(() => encodeIfreqMtu('', 1500)).toThrow(UtunInputError);
    expect(() => encodeIfaliasreq('utun4', { cidr: 'fd00::1/64' })).toThrow(UtunInputError);
    expect(() => encodeIfaliasreq('utun4', { cidr: '10.0.0.1/33' })).toThrow(UtunInputError);
    expect(() => encodeIfaliasreq('utun4', { cidr: '10.0.0.1/8', peer: 'fd00::1' })).toThrow(UtunInputError);
    expect(() => encodeIn6Aliasreq('utun4', { cidr: 'fd00::1/64', peer: 'fd00::2' })).toThrow(UtunInputError);
    expect(() => encodeSockaddrCtl(1, -1)).toThrow(UtunInputError);
  });
});

describe('koffi struct definitions: sizes, offsets, and koffi.encode agrees with our encoders', () => {
  it('sizes and offsets (64-bit darwin)', async () => {
    const koffi = await loadKoffi();
    const t = await loadUtunFfiTypes();
    const offsets = (type: unknown, fields: string[]) => fields.map((f) => koffi.offsetof(type as never, f));
    expect(koffi.sizeof(t.ctl_info)).toBe(100);
    expect(offsets(t.ctl_info, ['ctl_id', 'ctl_name'])).toEqual([0, 4]);
    expect(koffi.sizeof(t.sockaddr_ctl)).toBe(32);
    expect(
      offsets(t.sockaddr_ctl, ['sc_len', 'sc_family', 'ss_sysaddr', 'sc_id', 'sc_unit', 'sc_reserved']),
    ).toEqual([0, 1, 2, 4, 8, 12]);
    expect([koffi.sizeof(t.ifreq_ifru), koffi.alignof(t.ifreq_ifru)]).toEqual([16, 8]);
    expect(koffi.sizeof(t.ifreq)).toBe(32);
    expect(offsets(t.ifreq, ['ifr_name', 'ifr_ifru'])).toEqual([0, 16]);
    expect(koffi.sizeof(t.ifaliasreq)).toBe(64);
    // C declares its addresses as struct sockaddr (bytes only): alignment 1 (xnu net/if.h ifaliasreq).
    expect(koffi.alignof(t.ifaliasreq)).toBe(1);
    expect(offsets(t.ifaliasreq, ['ifra_name', 'ifra_addr', 'ifra_broadaddr', 'ifra_mask'])).toEqual([
      0, 16, 32, 48,
    ]);
    expect(koffi.sizeof(t.in6_addrlifetime)).toBe(24);
    expect(
      offsets(t.in6_addrlifetime, ['ia6t_expire', 'ia6t_preferred', 'ia6t_vltime', 'ia6t_pltime']),
    ).toEqual([0, 8, 16, 20]);
    expect(koffi.sizeof(t.in6_aliasreq)).toBe(128);
    expect(
      offsets(t.in6_aliasreq, [
        'ifra_name',
        'ifra_addr',
        'ifra_dstaddr',
        'ifra_prefixmask',
        'ifra_flags',
        'ifra_lifetime',
      ]),
    ).toEqual([0, 16, 44, 72, 100, 104]);
    expect(koffi.sizeof(t.pollfd)).toBe(8);
    expect(offsets(t.pollfd, ['fd', 'events', 'revents'])).toEqual([0, 4, 6]);
  });

  it('koffi.encode of the same values gives the bytes our encoders write', async () => {
    const koffi = await loadKoffi();
    const t = await loadUtunFfiTypes();
    const viaKoffi = (type: unknown, value: unknown) => {
      const buf = Buffer.alloc(koffi.sizeof(type as never));
      koffi.encode(buf, type as never, value);
      return hex(buf);
    };
    expect(
      viaKoffi(t.sockaddr_ctl, {
        sc_len: 32,
        sc_family: 32,
        ss_sysaddr: 2,
        sc_id: 0x1234,
        sc_unit: 3,
        sc_reserved: [0, 0, 0, 0, 0],
      }),
    ).toBe(hex(encodeSockaddrCtl(0x1234, 3)));
    const name = Array.from('utun7', (c) => c.charCodeAt(0)).concat(new Array(11).fill(0));
    expect(viaKoffi(t.ifreq, { ifr_name: name, ifr_ifru: { ifru_mtu: 1400 } })).toBe(
      hex(encodeIfreqMtu('utun7', 1400)),
    );
    const sin = (a: number[]) => ({
      sin_len: 16,
      sin_family: 2,
      sin_port: 0,
      sin_addr: a,
      sin_zero: new Array(8).fill(0),
    });
    expect(
      viaKoffi(t.ifaliasreq, {
        ifra_name: name,
        ifra_addr: sin([10, 0, 0, 1]),
        ifra_broadaddr: sin([10, 0, 0, 2]),
        ifra_mask: sin([255, 0, 0, 0]),
      }),
    ).toBe(hex(encodeIfaliasreq('utun7', { cidr: '10.0.0.1/8', peer: '10.0.0.2' })));
    const sin6 = (a: number[]) => ({
      sin6_len: 28,
      sin6_family: 30,
      sin6_port: 0,
      sin6_flowinfo: 0,
      sin6_addr: a.concat(new Array(16 - a.length).fill(0)),
      sin6_scope_id: 0,
    });
    const empty6 = {
      sin6_len: 0,
      sin6_family: 0,
      sin6_port: 0,
      sin6_flowinfo: 0,
      sin6_addr: new Array(16).fill(0),
      sin6_scope_id: 0,
    };
    expect(
      viaKoffi(t.in6_aliasreq, {
        ifra_name: name,
        ifra_addr: sin6([0xfd, 0, 0, 0x18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        ifra_dstaddr: empty6,
        ifra_prefixmask: sin6([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        ifra_flags: 0x420,
        ifra_lifetime: {
          ia6t_expire: 0,
          ia6t_preferred: 0,
          ia6t_vltime: 0xffffffff,
          ia6t_pltime: 0xffffffff,
        },
      }),
    ).toBe(hex(encodeIn6Aliasreq('utun7', { cidr: 'fd00:18::1/64' })));
    const info = encodeCtlInfo('com.apple.net.utun_control');
    info.set([7, 0, 0, 0]);
    expect((koffi.decode(Buffer.from(info), t.ctl_info) as { ctl_id: number }).ctl_id).toBe(7);
  });
});
