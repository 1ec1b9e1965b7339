import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatIp, parseIp, parsePrefix } from '../src/address.js';
import {
  ERROR_ACCESS_DENIED,
  ERROR_BUFFER_OVERFLOW,
  ERROR_HANDLE_EOF,
  ERROR_INVALID_DATA,
  ERROR_INVALID_PARAMETER,
  ERROR_NO_MORE_ITEMS,
  ERROR_NOT_FOUND,
  ERROR_OBJECT_ALREADY_EXISTS,
} from '../src/constants.js';
import {
  dllNotFoundError,
  findWintunDll,
  packageRoot,
  wintunArchFolder,
  wintunDllCandidates,
} from '../src/dll.js';
import { classifyReceiveError, classifySendError, TunError, win32Error } from '../src/errors.js';
import { formatGuid, guidFromName, parseGuid } from '../src/guid.js';
import { validateRingCapacity } from '../src/ring.js';
import { unicastInterfaceSockopt } from '../src/unicast-if.js';

describe('Win32 error mapping', () => {
  it('maps the Wintun/iphlpapi errors to typed codes with the Win32 number kept', () => {
    const cases: [number, string][] = [
      [ERROR_HANDLE_EOF, 'ADAPTER_GONE'],
      [ERROR_INVALID_DATA, 'RING_CORRUPT'],
      [ERROR_ACCESS_DENIED, 'ACCESS_DENIED'],
      [ERROR_OBJECT_ALREADY_EXISTS, 'ALREADY_EXISTS'],
      [183, 'ALREADY_EXISTS'],
      [ERROR_NOT_FOUND, 'NOT_FOUND'],
      [2, 'NOT_FOUND'],
      [ERROR_INVALID_PARAMETER, 'INVALID_ARGUMENT'],
      [31, 'WIN32'],
    ];
    for (const [win32, code] of cases) {
      const e = win32Error('SomeCall', win32);
      expect(e).toBeInstanceOf(TunError);
      expect([e.code, e.win32Code, e.operation]).toEqual([code, win32, 'SomeCall']);
      expect(e.message.startsWith('SomeCall failed: ')).toBe(true);
    }
    expect(win32Error('WintunReceivePacket', 38).message).toContain('ERROR_HANDLE_EOF (38)');
    expect(win32Error('X', 5).message).toContain('Administrator');
    expect(win32Error('X', 4242).message).toContain('Win32 error 4242');
  });

  it('receive: NO_MORE_ITEMS = empty, HANDLE_EOF = gone, anything else fatal', () => {
    expect(classifyReceiveError(ERROR_NO_MORE_ITEMS)).toBe('empty');
    expect(classifyReceiveError(ERROR_HANDLE_EOF)).toBe('gone');
    expect(classifyReceiveError(ERROR_INVALID_DATA)).toBe('fatal');
  });

  it('send: BUFFER_OVERFLOW (ring full) = counted drop, HANDLE_EOF = gone', () => {
    expect(classifySendError(ERROR_BUFFER_OVERFLOW)).toBe('drop');
    expect(classifySendError(ERROR_HANDLE_EOF)).toBe('gone');
    expect(classifySendError(ERROR_INVALID_PARAMETER)).toBe('fatal');
  });
});

describe('ring capacity', () => {
  it('accepts powers of two from 128 KiB to 64 MiB', () => {
    for (let c = 0x20000; c <= 0x4000000; c *= 2) expect(validateRingCapacity(c)).toBe(c);
  });
  it('rejects everything else with INVALID_ARGUMENT', () => {
    for (const c of [
      0,
      0x10000,
      0x20000 - 1,
      0x20001,
      0x30000,
      0x8000000,
      0x4000000 + 1,
      1.5e6,
      Number.NaN,
      -0x20000,
    ]) {
      expect(() => validateRingCapacity(c), String(c)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
    }
  });
});

describe('wintun.dll location', () => {
  it('a caller-given path is the only candidate (file or folder)', () => {
    expect(wintunDllCandidates({ dllPath: 'C:/x/wintun.dll' })).toEqual(['C:/x/wintun.dll']);
    expect(wintunDllCandidates({ dllPath: '/opt/w' })).toEqual([path.join('/opt/w', 'wintun.dll')]);
  });
  it('else beside the executable, then in the package folder', () => {
    expect(wintunDllCandidates({ execPath: '/app/node.exe', packageDir: '/pkg' })).toEqual([
      path.join('/app', 'wintun.dll'),
      path.join('/pkg', 'wintun.dll'),
    ]);
  });
  it('packageRoot() is the folder with package.json', () => {
    expect(packageRoot()).toBe(path.resolve(__dirname, '..'));
  });
  it('finds the first existing candidate', () => {
    const seen: string[] = [];
    const found = findWintunDll({ execPath: '/app/node.exe', packageDir: '/pkg' }, (p) => {
      seen.push(p);
      return p === path.join('/pkg', 'wintun.dll'); // path.join gives \pkg\wintun.dll on Windows
    });
    expect(found).toBe(path.join('/pkg', 'wintun.dll'));
    expect(seen).toHaveLength(2);
  });
  it('missing DLL: one typed error naming every place looked and where to get it', () => {
    let err: unknown;
    try {
      findWintunDll({ execPath: '/app/node.exe', packageDir: '/pkg' }, () => false);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TunError);
    const e = err as TunError;
    expect(e.code).toBe('DLL_NOT_FOUND');
    expect(e.message).toContain(path.join('/app', 'wintun.dll'));
    expect(e.message).toContain(path.join('/pkg', 'wintun.dll'));
    expect(e.message).toContain('https://www.wintun.net/');
    expect(dllNotFoundError(['a'], 'arm64').message).toContain('wintun/bin/arm64/wintun.dll');
  });
  it('maps Node arch names to the Wintun zip folders', () => {
    expect(['x64', 'arm64', 'ia32', 'arm'].map(wintunArchFolder)).toEqual(['amd64', 'arm64', 'x86', 'arm']);
  });
});

describe('IP_UNICAST_IF / IPV6_UNICAST_IF', () => {
  it('IPv4: IPPROTO_IP, option 31, index in network byte order', () => {
    const o = unicastInterfaceSockopt(4, 5);
    expect([o.level, o.option]).toEqual([0, 31]);
    expect(o.value).toEqual(new Uint8Array([0, 0, 0, 5]));
    expect(o.valueAsInt).toBe(0x05000000); // htonl(5) read on a little-endian host
    const big = unicastInterfaceSockopt(4, 0x01020304);
    expect(big.value).toEqual(new Uint8Array([1, 2, 3, 4]));
    const b = Buffer.alloc(4);
    b.writeUInt32BE(0x01020304);
    expect(big.valueAsInt).toBe(b.readUInt32LE());
  });
  it('IPv6: IPPROTO_IPV6 (41), option 31, index in host byte order', () => {
    const o = unicastInterfaceSockopt(6, 5);
    expect([o.level, o.option]).toEqual([41, 31]);
    expect(o.value).toEqual(new Uint8Array([5, 0, 0, 0]));
    expect(o.valueAsInt).toBe(5);
  });
  it('rejects non-indexes', () => {
    expect(() => unicastInterfaceSockopt(4, -1)).toThrow(TunError);
    expect(() => unicastInterfaceSockopt(6, 2 ** 32)).toThrow(TunError);
  });
});

describe('address adapters over @ztun/packet', () => {
  it('parses and formats IPv4 and IPv6', () => {
    expect(parseIp('198.18.0.1')).toEqual({ family: 4, bytes: new Uint8Array([198, 18, 0, 1]) });
    const v6 = parseIp('fd00:7a74::1');
    expect(v6.family).toBe(6);
    expect(Array.from(v6.bytes)).toEqual([0xfd, 0, 0x7a, 0x74, ...new Array(11).fill(0), 1]);
    expect(formatIp(6, v6.bytes)).toBe('fd00:7a74::1');
    expect(formatIp(6, parseIp('::').bytes)).toBe('::');
    expect(formatIp(6, parseIp('1:0:0:2:0:0:0:3').bytes)).toBe('1:0:0:2::3');
    expect(Array.from(parseIp('::ffff:1.2.3.4').bytes.subarray(10))).toEqual([0xff, 0xff, 1, 2, 3, 4]);
  });
  it('rejects malformed addresses and prefixes with INVALID_ARGUMENT', () => {
    for (const bad of [
      '1.2.3',
      '1.2.3.256',
      '01.2.3.4',
      '1::2::3',
      '1:2:3:4:5:6:7:8:9',
      'g::1',
      '',
      'fe80::1%3',
    ]) {
      expect(() => parseIp(bad), bad).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
    for (const bad of ['10.0.0.0/33', '::/129', '10.0.0.0/x', 'x/8']) {
      expect(() => parsePrefix(bad), bad).toThrow(TunError);
    }
    expect(() => parsePrefix('10.0.0.1/8', true)).toThrow(/host bits/);
    expect(parsePrefix('10.0.0.1/8').prefixLength).toBe(8);
    expect(parsePrefix('10.0.0.1')).toMatchObject({ family: 4, prefixLength: 32 }); // bare = host prefix
    expect(parsePrefix('fd00::1')).toMatchObject({ family: 6, prefixLength: 128 });
  });
});

describe('GUIDs', () => {
  it('parses into Windows memory layout (Data1-3 little-endian) and formats back', () => {
    const g = parseGuid('{6ba7b810-9dad-11d1-80b4-00c04fd430c8}');
    expect(Array.from(g)).toEqual([
      0x10, 0xb8, 0xa7, 0x6b, 0xad, 0x9d, 0xd1, 0x11, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8,
    ]);
    expect(formatGuid(g)).toBe('{6ba7b810-9dad-11d1-80b4-00c04fd430c8}');
    expect(() => parseGuid('nope')).toThrow(TunError);
  });
  it('guidFromName is stable per name, differs across names, and is a version-3 GUID', () => {
    const a = guidFromName('ztun0');
    expect(guidFromName('ztun0')).toEqual(a);
    expect(guidFromName('ztun1')).not.toEqual(a);
    expect(formatGuid(a)[15]).toBe('3'); // version nibble
  });
});
