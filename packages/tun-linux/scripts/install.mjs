// The install script: node-gyp-build (keeps a source build or prebuild that loads, else compiles with
// node-gyp), with the running Node's headers named for that compile when they sit beside it, so it needs
// neither a download nor a `nodedir` in the user's npmrc. A nodedir the user set wins.
import { createRequire } from 'node:module';
import { nodeHeadersDir } from './node-headers.mjs';

const nodedir = nodeHeadersDir();
if (nodedir && !process.env.npm_config_nodedir) process.env.npm_config_nodedir = nodedir;
createRequire(import.meta.url)('node-gyp-build/bin.js');
