// The ready line's note when the kernel refused TSO (issue 17 item 3): said once, only then.
import { describe, expect, it } from 'vitest';
import { offloadNote } from '../src/platform/tunnel-parts.linux.js';

describe('offloadNote', () => {
  it('names the refusal when checksum offload runs without TSO, and says nothing otherwise', () => {
    expect(
      offloadNote({
        offload: {
          checksum: true,
          tso: false,
          uso: false,
          note: 'the kernel refused TSO: TUNSETOFFLOAD EINVAL',
        },
      }),
    ).toBe('TUN offload: checksum only (the kernel refused TSO: TUNSETOFFLOAD EINVAL)');
    expect(offloadNote({ offload: { checksum: true, tso: true, uso: true } })).toBeUndefined();
    expect(offloadNote({ offload: { checksum: false, tso: false, uso: false } })).toBeUndefined();
  });
});
