import { main } from './cli.js';

// The `ztun` executable. Exit codes: 0 ok, 1 runtime failure, 2 bad usage/flags/config or unsupported OS.
main(process.argv).then(
  (code) => {
    process.exitCode = code;
    // Everything is torn down by now; a handle some library left open must not keep the process alive.
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (err: unknown) => {
    process.stderr.write(`ztun: ${(err as Error)?.message ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
