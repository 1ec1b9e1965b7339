// The headers node-gyp compiles against, named explicitly so no user npmrc (`nodedir`) and no download is
// needed: those of the running Node when they sit beside it (Debian's nodejs puts them in /usr/include/node,
// official tarballs in <prefix>/include/node). Node-API headers are the same on every architecture.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** `--nodedir` for node-gyp, or undefined to let node-gyp download the headers of the running Node. */
export function nodeHeadersDir() {
  const prefix = resolve(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

/** node-gyp's own bin (a devDependency), run with the current Node. */
export function nodeGypArgs(packageRoot, command) {
  const bin = join(packageRoot, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const nodedir = nodeHeadersDir();
  return [bin, command, ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
}
